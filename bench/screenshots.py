"""Phone screenshots of the site, for the README: home, 7×24, an article, search and a
stock page, at 390×844 in headless Chromium, written to docs/screenshots/.

The site is the original's real sample posts plus a mock Eastmoney (flash list, columns,
companies) collected as `finews run` collects it, built with the search index and served by
`finews serve`'s app on 127.0.0.1.

    python bench/screenshots.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from finews.serve.app import BackgroundServer, create_app
from finews.site.build import BuildOptions, SiteBuilder
from finews.site.pages import stock_path
from finews.transfer import jekyll
from tests.conftest import DATA, collect_companies
from tests.site.conftest import sample_settings

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


def build_site(root: Path):
    _, store = collect_companies(root)
    style = jekyll.JekyllStyle(base_url="//finews.withounder.com")
    jekyll.import_posts(store, [DATA / "jekyll-posts"], style)
    settings = sample_settings(root)
    settings.site.base_url = ""
    settings.archive.database_url = str(root / "a.db")
    SiteBuilder(store, settings, BuildOptions(out=root / "site", search=True)).build()
    return store, settings


def pages(store) -> dict[str, str]:
    """What to photograph: the busiest security's page, an article naming securities."""
    busiest = store.securities("", limit=1)[0]["secid"]
    named = next(a for a in store.summaries(limit=200, with_stocks=True) if a.stocks and a.digest)
    local = named.published.astimezone(sample_settings(Path(".")).tz)
    return {
        "home": "/", "live": "/live.html",
        "article": f"/{named.category}/{local:%Y/%m/%d}/{named.code}.html",
        "search": "/search.html?q=储能", "stock": stock_path(busiest),
    }


def main() -> None:
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp())
    try:
        store, settings = build_site(root)
        targets = pages(store)
        server = BackgroundServer(create_app(settings, root / "site"), "127.0.0.1", 0)
        server.start()
        OUT.mkdir(parents=True, exist_ok=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                for name, path in targets.items():
                    page = browser.new_page(viewport=PHONE, device_scale_factor=2, color_scheme="light")
                    page.goto(f"http://127.0.0.1:{server.port}{path}")
                    if name == "search":
                        page.locator("#search-results li").first.wait_for(timeout=20000)
                    page.wait_for_timeout(300)
                    page.screenshot(path=str(OUT / f"{name}.png"))
                    print(f"{name:8} {path} -> {OUT / f'{name}.png'}")
                    page.close()
                browser.close()
        finally:
            server.stop()
            store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
