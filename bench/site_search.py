"""The static site's search in headless Chromium, beside Pagefind on the same site.

    python bench/site_search.py [N] [--db PATH] [--out DIR] [--per-length K] [--no-pagefind]
                                [--pagefind-chars]

Generates an archive of N articles (default 100,000; kept at PATH with --db), builds its
site with finews's static index, and indexes the same article pages with Pagefind (one
index, its best case; --pagefind-chars also indexes them with every character a word, as
Pagefind would need to find any substring). Then, in one Chromium page each, runs the same
153 sampled queries (1-4 characters, Chinese and mixed Latin and digits, and made up:
--per-length 26 Chinese ones of each length, a quarter as many of the others) through
finews's search page, as a reader does, and through Pagefind's API, after ten warm-up
queries. Every result shown is checked against a brute-force substring scan of the
archive. Prints, for each: recall and precision of what is shown (finews: the newest 20;
Pagefind: its first 20 for precision, and for recall every result of the queries with at
most 100 matches, since each result is a fetch), p50/p95 per query, the index's size and files, the full index
time and finews's update after 10 new articles (median of five).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build import add_ten, make_archive
from bench.machine import cpu_check
from bench.search import percentile, sample_queries
from finews.config import Settings
from finews.fulltext import Query
from finews.site.build import BuildOptions, SiteBuilder
from finews.site.pages import article_path
from finews.store import open_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTICLE_GLOB = "*/[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*.html"
WARM_UP = 10
SHOWN = 20
ROUNDS = 5


def search_page(page, query: str, filters: dict[str, str] | None = None) -> dict:
    """Search through the page as a reader does: type, press Enter, read what is shown."""
    page.evaluate("""() => {
        for (const f of document.querySelectorAll('.filters select, .filters input')) f.value = '';
    }""")
    if filters:
        if not page.evaluate("document.querySelector('details.filters').open"):
            page.click("details.filters summary")
        for name, value in filters.items():
            selector = f"#search-{name}"
            if name == "outlet":
                page.select_option(selector, value)
            else:
                page.fill(selector, value)
    page.fill("#search-input", query)
    page.evaluate("document.getElementById('search-status').removeAttribute('data-state')")
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-status[data-state]", timeout=60_000)
    return _shown(page)


def more(page) -> dict:
    page.evaluate("document.getElementById('search-status').removeAttribute('data-state')")
    page.click("#search-more")
    page.wait_for_selector("#search-status[data-state]", timeout=60_000)
    return _shown(page)


def _shown(page) -> dict:
    return page.evaluate("""() => {
        const status = document.getElementById('search-status');
        return {state: status.dataset.state, ms: Number(status.dataset.ms || -1), status: status.textContent,
                hrefs: [...document.querySelectorAll('#search-results li > a')]
                    .map(a => a.getAttribute('href')),
                marks: [...document.querySelectorAll('#search-results mark')].map(m => m.textContent)};
    }""")


class BruteForce:
    """Every article's page and searchable text, newest first: what a search must find."""

    def __init__(self, store, tz):
        self.paths, self.texts, self.rows = [], [], []
        for article in store.summaries(with_body=True, with_stocks=True):
            self.paths.append(article_path(article.category, article.published, article.code, tz))
            self.texts.append(article.search_text)
            self.rows.append((article.category, article.published.astimezone(tz).date().isoformat(),
                              article.stocks))

    def matches(self, query: str, outlet: str = "", since: str = "", until: str = "",
                stock: str = "") -> list[str]:
        parsed = Query.parse(query)
        rows = zip(self.paths, self.texts, self.rows, strict=True)
        return [path for path, text, (category, day, stocks) in rows
                if (not outlet or category == outlet) and (not since or day >= since)
                and (not until or day <= until)
                and (not stock or stock in stocks)
                and parsed.matches(text)]


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])


def run_finews(browser, url: str, queries, truth: BruteForce) -> dict:
    page = browser.new_page()
    page.goto(f"{url}/search.html")
    for _, q in queries[:WARM_UP]:
        search_page(page, q + "热")
    times, recall, precision, exact = [], [], [], 0
    for _, q in queries:
        shown = search_page(page, q)
        expected = truth.matches(q)
        times.append(shown["ms"])
        every = set(expected)
        top = expected[:SHOWN]
        recall.append(len(set(shown["hrefs"]) & set(top)) / len(top) if top else 1.0)
        hrefs = shown["hrefs"]
        precision.append(sum(h in every for h in hrefs) / len(hrefs) if hrefs else 1.0)
        exact += shown["hrefs"] == top
    page.close()
    return {"times": times, "recall": statistics.mean(recall), "precision": statistics.mean(precision),
            "exact": exact}


PAGEFIND_PAGE = """<!DOCTYPE html><meta charset="utf-8"><script type="module">
const pf = await import("/{bundle}/pagefind.js");
await pf.options({{ basePath: "/{bundle}/", baseUrl: "/" }});
window.pagefindSearch = async (q, limit) => {{
  const started = performance.now();
  const search = await pf.search(q);
  const shown = await Promise.all(search.results.slice(0, limit).map((r) => r.data()));
  return {{ ms: performance.now() - started, count: search.results.length, urls: shown.map((d) => d.url) }};
}};
window.pagefindReady = true;
</script>"""


def run_pagefind(browser, url: str, bundle: str, queries, truth: BruteForce, spaced: bool) -> dict:
    page = browser.new_page()
    page.goto(f"{url}/{bundle}.html")
    page.wait_for_function("window.pagefindReady === true", timeout=120_000)

    def ask(q: str, limit: int) -> dict:
        text = " ".join(q) if spaced else q
        asked = f'"{text}"' if spaced else text
        return page.evaluate("([q, n]) => window.pagefindSearch(q, n)", [asked, limit])

    for _, q in queries[:WARM_UP]:
        ask(q + "热", SHOWN)
    times, recall, precision = [], [], []
    for _, q in queries:
        expected = truth.matches(q)
        answer = ask(q, SHOWN)
        times.append(answer["ms"])
        urls = [u.replace(".html", "") for u in answer["urls"]]
        every = {p.replace(".html", "") for p in expected}
        precision.append(sum(u in every for u in urls) / len(urls) if urls else 1.0)
        if len(expected) <= 100:  # recall over every match: each result's data is a fetch
            found = ask(q, 300)["urls"] if answer["count"] else []
            hit = {u.replace(".html", "") for u in found} & every
            recall.append(len(hit) / len(every) if every else 1.0)
    page.close()
    return {"times": times, "recall": statistics.mean(recall) if recall else float("nan"),
            "precision": statistics.mean(precision), "exact": None}


def pagefind_index(site: Path, bundle: str, glob: str) -> tuple[float, float]:
    """Seconds and peak memory (MB) of Pagefind's own indexer."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "pagefind", "--site", str(site), "--output-subdir", bundle,
                    "--glob", glob, "--force-language", "zh", "--quiet"], check=True)
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return time.perf_counter() - started, peak / 1024


def char_split_pages(site: Path, folder: Path, store, tz) -> None:
    """Each article as a page whose words are its characters (what --pagefind-chars indexes)."""
    for article in store.summaries(with_body=True):
        path = folder / article_path(article.category, article.published, article.code, tz).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        spaced = " ".join(article.search_text.replace(" ", ""))
        page = f'<!DOCTYPE html><html lang="zh"><body data-pagefind-body><p>{spaced}</p></body></html>'
        path.write_text(page, encoding="utf-8")


def folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def build_site(db: Path, out: Path, settings: Settings, full: bool):
    with open_store(str(db)) as store:
        return SiteBuilder(store, settings, BuildOptions(out=out, full=full, search=True)).build()


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.site.conftest import static_site

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--per-length", type=int, default=26)
    parser.add_argument("--no-pagefind", action="store_true")
    parser.add_argument("--pagefind-chars", action="store_true")
    args = parser.parse_args()
    print(cpu_check(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="finews-site-search-"))
    db = args.db or work / "archive.db"
    out = args.out or work / "site"
    settings = Settings()
    settings.site.base_url = ""
    try:
        if not db.exists():
            make_archive(db, args.n)
        shutil.rmtree(out, ignore_errors=True)
        report = build_site(db, out, settings, True)
        index_seconds = report.search_seconds
        size, files = folder_size(out / "search")
        updates = []
        for round_ in range(ROUNDS):
            add_ten(db, round_)
            updates.append(build_site(db, out, settings, False).search_seconds)
        with open_store(str(db)) as store:
            truth = BruteForce(store, settings.tz)
            rng = random.Random(7)
            queries = sample_queries(truth.texts, rng, args.per_length)
            queries.append(("made-up", "不存在的词"))
            columns = {}
            pagefind = {}
            if not args.no_pagefind:
                pagefind["Pagefind"] = (*pagefind_index(out, "pagefind-bench", ARTICLE_GLOB),
                                        *folder_size(out / "pagefind-bench"))
                (out / "pagefind-bench.html").write_text(PAGEFIND_PAGE.format(bundle="pagefind-bench"))
            if args.pagefind_chars:
                spaced = out / "chars"
                char_split_pages(out, spaced, store, settings.tz)
                pagefind["Pagefind, characters"] = (*pagefind_index(spaced, "pagefind-bench", "**/*.html"),
                                                    *folder_size(spaced / "pagefind-bench"))
                (spaced / "pagefind-bench.html").write_text(PAGEFIND_PAGE.format(bundle="pagefind-bench"))
        print(f"{len(truth.paths):,} articles, {len(queries)} queries "
              f"({', '.join(sorted({k for k, _ in queries}))})", flush=True)
        with sync_playwright() as playwright:
            browser = launch(playwright)
            with static_site(out) as url:
                columns["finews"] = run_finews(browser, url, queries, truth)
                print("finews: queries done", flush=True)
                if "Pagefind" in pagefind:
                    columns["Pagefind"] = run_pagefind(browser, url, "pagefind-bench", queries, truth, False)
                    print("Pagefind: queries done", flush=True)
            if "Pagefind, characters" in pagefind:
                with static_site(out / "chars") as url:
                    columns["Pagefind, characters"] = run_pagefind(browser, url, "pagefind-bench", queries,
                                                                   truth, True)
            browser.close()
        print_table(columns, {"finews": (index_seconds, None, size, files), **pagefind},
                    statistics.median(updates), max(updates))
        times = columns["finews"]["times"]
        slowest = sorted(zip(times, (q for _, q in queries), strict=True), reverse=True)[:5]
        kinds = per_kind(queries, times)
        print(json.dumps({"finews p95 by kind": kinds, "slowest": slowest}, ensure_ascii=False))
    finally:
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)


def per_kind(queries, times) -> dict[str, int]:
    kinds: dict[str, list[float]] = {}
    for (kind, _), ms in zip(queries, times, strict=True):
        kinds.setdefault(kind, []).append(ms)
    return {kind: round(percentile(values, 0.95)) for kind, values in kinds.items()}


def print_table(columns: dict, built: dict, update: float, worst: float) -> None:
    names = list(columns)
    print(f"{'':<28}" + "".join(f"{n:>22}" for n in names))

    def row(label: str, values: list[str]) -> None:
        print(f"{label:<28}" + "".join(f"{v:>22}" for v in values))

    row("recall of shown results", [f"{columns[n]['recall']:.1%}" for n in names])
    row("precision of shown results", [f"{columns[n]['precision']:.1%}" for n in names])
    row("p50 / p95 per query, ms",
        [f"{percentile(columns[n]['times'], 0.5):.0f} / {percentile(columns[n]['times'], 0.95):.0f}"
         for n in names])
    row("index MB / files", [f"{built[n][2] / 1e6:,.1f} / {built[n][3]:,}" for n in names])
    row("full index, s (peak MB)",
        [f"{built[n][0]:.1f}" + (f" ({built[n][1]:,.0f})" if built[n][1] else "") for n in names])
    row("update after 10, s", [f"{update:.2f} (max {worst:.2f})"] + ["-"] * (len(names) - 1))


if __name__ == "__main__":
    main()
