"""The site in a real headless browser (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store
from tests.site.conftest import REVISED, fill, revise, sample_settings, static_site
from tests.stories_eval import labelled_articles

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def served_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    store = open_store(str(root / "archive.db"))
    fill(store)
    revise(store)
    articles, truth = labelled_articles()
    store.upsert([a for a in articles if truth[a.code] == "t1-0"])  # one story, several outlets
    settings = sample_settings(root)
    settings.site.base_url = ""
    SiteBuilder(store, settings, BuildOptions(out=root / "site", search=True)).build()
    store.close()
    with static_site(root / "site") as url:
        yield url



@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        yield browser
        browser.close()


def _page_reporting_errors(browser, width: int):
    """A page of this width and the console errors it logs."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, errors


@pytest.mark.parametrize("width", [375, 1280])
def test_home_outlet_and_article_at_phone_and_desktop_widths(browser, served_site, width, tmp_path):
    page, errors = _page_reporting_errors(browser, width)
    page.goto(served_site + "/")
    assert page.locator("section.latest li").count() >= 30
    assert page.title() == "金融消息"
    page.screenshot(path=str(tmp_path / f"home-{width}.png"))
    page.click("section.outlet h2 a >> nth=0")
    assert page.locator("ol.items li").count() >= 1
    page.click("ol.items li a >> nth=0")
    assert page.locator("article h1").is_visible()
    assert page.locator("article .body").inner_text()
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width + 1, "no horizontal scrolling on the page"
    assert errors == []
    page.close()


def test_search_finds_a_two_character_chinese_word(browser, served_site):
    page = browser.new_page()
    page.goto(served_site + "/search.html?q=芯片")
    page.wait_for_selector("#search-status[data-state]", timeout=20000)
    assert page.locator("#search-results li").count() == 20
    while page.get_attribute("#search-status", "data-state") == "more":
        page.evaluate("document.getElementById('search-status').removeAttribute('data-state')")
        page.click("#search-more")
        page.wait_for_selector("#search-status[data-state]")
    texts = page.locator("#search-results li").all_inner_texts()
    assert sum("芯片新闻" in text for text in texts) == 29, texts[:5]  # every generated one but #3
    assert all("芯片" in text for text in texts)
    assert page.locator("#search-status").inner_text() == f"“芯片”：{len(texts)} 条结果"
    page.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_stock_directory_narrows_as_the_reader_types_and_pages_fit(browser, served_site, width):
    page, errors = _page_reporting_errors(browser, width)
    page.goto(served_site + "/stock/")
    everything = page.locator("ul.stocks li:visible").count()
    assert everything == 4
    page.fill("#stock-query", "潍柴")
    assert page.locator("ul.stocks li:visible").all_inner_texts() == ["潍柴动力 000338 · 1 篇"]
    assert page.locator("#stock-status").inner_text() == "找到 1 只"
    page.fill("#stock-query", "01810")
    assert page.locator("section.market:visible h2").all_inner_texts() == ["港股 2"]
    page.click("ul.stocks li:visible a")
    assert page.locator("h1").inner_text() == "小米集团"
    assert page.locator("figure.chart svg rect").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.click("ol.items li a >> nth=0")
    assert page.locator("p.stocks a.chip").count() == 1
    assert errors == []
    page.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_story_is_one_item_with_its_badge_and_its_page_links_every_copy(browser, served_site, width):
    page, errors = _page_reporting_errors(browser, width)
    page.goto(served_site + "/")
    titles = page.locator("section.latest li > a:first-child").all_inner_texts()
    assert sum("逆回购" in t for t in titles) == 1
    badge = page.locator("section.latest a.story")
    assert badge.count() == 1 and badge.inner_text().endswith("家媒体报道")
    outlets = int(badge.inner_text().removesuffix("家媒体报道"))
    badge.click()
    copies = page.locator("ol.items li").count()
    assert copies >= outlets >= 2
    page.click("ol.items li > a >> nth=0")
    box = page.locator("aside.story-box")
    assert box.is_visible() and box.locator("li").count() == copies - 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    assert errors == []
    page.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_changed_article_links_its_revisions_and_each_diff_is_marked(browser, served_site, width):
    from tests.conftest import make_article

    page, errors = _page_reporting_errors(browser, width)
    page.goto(served_site + "/category/shanghaizhengquanbao.html")
    page.click(f"a[href$='{make_article(REVISED).code}.html']")
    revised = page.locator(".byline .revised")
    assert "修改 3 次" in revised.inner_text() and "更新于" in revised.inner_text()
    revised.locator("a").click()
    assert page.locator("section.revision").count() == 3
    newest = page.locator("section.revision >> nth=0")
    assert newest.locator("del").first.inner_text() == "与降息"
    assert "下周公布细则" in newest.locator("ins").last.inner_text()
    struck = newest.locator("del").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert struck == "line-through"
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    assert errors == []
    page.close()
