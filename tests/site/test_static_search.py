"""The static site's search, in headless Chromium, against a brute-force scan of the archive.

The archive mixes 200 articles collected from a mock Eastmoney (overlapping lists, companies
named in links and text) with 1,000 generated ones and a few with awkward text (full-width
letters, figures, characters outside the BMP). Parts of 16 articles in groups of 4 make a
small site exercise what a large one does: many parts, many groups, splits.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import timedelta
from pathlib import Path

import pytest

from bench.corpus import articles as generated
from bench.search import sample_queries
from bench.site_search import CHROMIUM, BruteForce, launch, more, search_page
from finews.fulltext import code_residues, gram_codes, term_codes
from finews.site import search as static_search
from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store
from tests.conftest import collect_companies, make_article
from tests.site.conftest import sample_settings, static_site

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)

AWKWARD = [
    ("ＡＩ芯片龙头发布２０２４年报", "<p>净利润增长3.5%，𠀀字与😀也在正文里；A股、iPhone、GDP同比。</p>"),
    ("央行：LPR下调", "<p>一年期LPR为3.45%，五年期以上LPR为3.95%。</p>"),
    ("空标题之后", "<p>只有一段，城市房价环比上涨。</p>"),
]


@pytest.fixture(scope="module")
def small_parts():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(static_search, "PART", 16)
        patch.setattr(static_search, "GROUP", 4)
        yield


def _fill(store) -> None:
    batch = list(generated(1000, seed=3))
    base = batch[-1].published
    batch += [make_article(900 + i, title=t, body=b, published=base + timedelta(minutes=i + 1))
              for i, (t, b) in enumerate(AWKWARD)]
    store.upsert(batch)


@pytest.fixture(scope="module")
def site(tmp_path_factory, small_parts):
    root = tmp_path_factory.mktemp("static-search")
    _, store = collect_companies(root)
    _fill(store)
    settings = sample_settings(root)
    settings.site.base_url = ""
    report = SiteBuilder(store, settings, BuildOptions(out=root / "site", search=True)).build()
    truth = BruteForce(store, settings.tz)
    with static_site(root / "site") as url:
        yield store, settings, root / "site", url, truth, report
    store.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, site):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site[3] + "/search.html")
    yield page
    assert errors == []
    page.close()


def _queries(truth: BruteForce) -> list[str]:
    sampled = [q for _, q in sample_queries(truth.texts, random.Random(11), 24)]
    return [*sampled, "不存在的词", "3.5%", "ai芯片", "ＡＩ", "2024", "𠀀", "😀", "房价", "城市房价环比",
            "lpr 3.95%", "芯片 OR 光伏", "回购 -港股", "a股", "iphone", "，城市"]


def test_every_query_shows_exactly_the_newest_matches_and_says_how_many(site, page):
    """At least 150 queries of 1 to 4 characters, mixed Latin and digits and made up: what
    is shown is the newest 20 true matches, counted exactly when there are no more."""
    _, _, _, _, truth, report = site
    assert report.search.parts > 60 and len({p["group"] for p in _manifest(site)["parts"]}) > 15
    queries = _queries(truth)
    assert len(queries) >= 150
    for query in queries:
        expected = truth.matches(query)
        shown = search_page(page, query)
        assert shown["hrefs"] == expected[:20], query
        if len(expected) <= 20:
            assert shown["state"] == "done" and shown["status"] == f"“{query}”：{len(expected)} 条结果", query
        else:
            assert shown["state"] == "more" and "至少 20 条" in shown["status"], query


def test_more_pages_on_through_every_match(site, page):
    truth = site[4]
    expected = truth.matches("芯片 涨停")
    assert len(expected) > 60
    shown = search_page(page, "芯片 涨停")["hrefs"]
    for _ in range(2):
        shown = more(page)["hrefs"]
    assert shown == expected[:60]


def test_snippets_mark_the_terms_found(site, page):
    shown = search_page(page, "城市房价环比")
    assert shown["marks"] == ["城市房价环比"]
    shown = search_page(page, "LPR 3.95%")
    assert set(shown["marks"]) == {"lpr", "3.95%"}


def test_filters_by_outlet_date_and_stock_match_brute_force(site, page):
    store, _, _, _, truth, _ = site
    outlet = store.category_counts()[0].slug
    names = store.all_security_names()
    secid = next(s for row in truth.rows for s in row[2])
    name = names[secid][0]
    days = sorted({row[1] for row in truth.rows})
    since, until = days[len(days) // 3], days[len(days) // 2]
    for query, filters, stock in [
        ("芯片", {"outlet": outlet}, ""), ("银行", {"since": since, "until": until}, ""),
        ("公司", {"stock": secid}, secid), ("公司", {"stock": secid.split(".")[1]}, secid),
        ("公司", {"stock": name}, secid), ("市", {"outlet": outlet, "since": since}, ""),
    ]:
        expected = truth.matches(query, **{**filters, "stock": stock})
        shown = search_page(page, query, filters)
        assert shown["hrefs"] == expected[:20], (query, filters)
        assert expected, (query, filters)
    assert search_page(page, "公司", {"stock": "不存在的公司"})["status"] == "没有这只股票：不存在的公司"


def test_the_page_reads_terms_as_the_index_does(site, page):
    """The page's codes for a term are the Python index's, for every kind of text."""
    terms = ["芯", "芯片", "ai芯片", "3.5%", "𠀀", "😀字", "a", "a.b", "，城", "lpr"]
    codes = page.evaluate("""async (terms) => {
        const m = await import('/static/search.js');
        return terms.map((t) => m.termCodes(m.normalize(t)).sort((a, b) => a - b));
    }""", terms)
    assert codes == [sorted(term_codes(t)) for t in terms]


def test_a_bad_query_says_what_is_wrong(site, page):
    assert search_page(page, "OR 芯片")["status"] == "“OR” 两边都要有词"
    assert search_page(page, "-港股")["status"] == "只有排除的词：请给出要找的词"


def _manifest(site) -> dict:
    return _read_manifest(site[2])


def _read_manifest(out: Path) -> dict:
    return json.loads((out / "search" / "index.json").read_text(encoding="utf-8"))


def test_index_files_are_named_by_content_and_none_is_left_behind(site):
    out = site[2]
    manifest = _manifest(site)
    named = {p["docs"] for p in manifest["parts"]}
    chunks = manifest["chunk"]
    named |= {f"{p['text']}-{i}.bin" for p in manifest["parts"] for i in range(-(-p["n"] // chunks))}
    named |= {f for g in manifest["groups"] for f in g["files"]} | {manifest["stocks"]}
    on_disk = {"/" + str(p.relative_to(out)) for p in (out / "search").rglob("*.bin")}
    assert on_disk == named
    assert manifest["count"] == len(site[4].paths)


def test_new_and_changed_articles_rebuild_only_their_parts(browser, tmp_path, small_parts):
    """Ten new articles and an edited one: the newest part and the edited one's part are
    rebuilt, the rest stays, and the search finds the new text and no longer the old, in
    a page opened before the rebuild (whose files it named are gone)."""
    store = open_store(str(tmp_path / "a.db"))
    _fill(store)
    settings = sample_settings(tmp_path)
    settings.site.base_url = ""
    out = tmp_path / "site"
    first = SiteBuilder(store, settings, BuildOptions(out=out, search=True)).build().search
    with static_site(out) as url:
        page = browser.new_page()
        page.goto(url + "/search.html")
        assert len(search_page(page, "芯片")["hrefs"]) == 20
        newest = store.summaries(limit=1)[0]
        fresh = [make_article(2000 + i, title=f"新到快讯{i}", body="<p>独角兽公司完成融资。</p>",
                              published=newest.published + timedelta(minutes=i + 1)) for i in range(10)]
        store.upsert(fresh)
        edited = store.summaries(limit=1, offset=500, with_body=True)[0]
        edited.body = edited.body.replace("芯片", "晶圆", 1) + "<p>更正：原文有误。</p>"
        edited.html = ""
        store.upsert([edited])
        again = SiteBuilder(store, settings, BuildOptions(out=out, search=True)).build().search
        assert again.rebuilt <= 3 and again.parts >= first.parts
        truth = BruteForce(store, settings.tz)
        for query in ["独角兽", "更正：原文有误", "新到快讯", "芯片 晶圆", "芯片"]:
            assert search_page(page, query)["hrefs"] == truth.matches(query)[:20], query
        page.close()
    store.close()


def test_a_burst_of_new_articles_splits_the_newest_part(tmp_path, small_parts):
    """Forty new articles on a newest part of four: full parts of 16 from the oldest on,
    every article in exactly one, the older parts untouched."""
    store = open_store(str(tmp_path / "a.db"))
    store.upsert(list(generated(100, seed=5)))
    settings = sample_settings(tmp_path)
    out = tmp_path / "site"
    SiteBuilder(store, settings, BuildOptions(out=out, search=True)).build()
    before = {p["id"]: p for p in _read_manifest(out)["parts"]}
    newest = store.summaries(limit=1)[0]
    store.upsert([make_article(3000 + i, title=f"快讯{i}",
                               published=newest.published + timedelta(minutes=i + 1)) for i in range(40)])
    report = SiteBuilder(store, settings, BuildOptions(out=out, search=True)).build().search
    parts = _read_manifest(out)["parts"]
    assert report.rebuilt == 3 and [p["n"] for p in parts[:4]] == [12, 16, 16, 16]
    assert sum(p["n"] for p in parts) == 140 and all(p["n"] <= 16 for p in parts)
    assert all(before[p["id"]] == p for p in parts[3:])
    assert [p["lo"] for p in parts] == sorted((p["lo"] for p in parts), reverse=True)
    assert all(newer["lo"] > older["hi"] for newer, older in itertools.pairwise(parts))
    store.close()


@pytest.mark.parametrize("lost", ["search/index.json", "a group file"])
def test_a_lost_manifest_or_index_file_rebuilds_the_whole_index(tmp_path, small_parts, lost):
    store = open_store(str(tmp_path / "a.db"))
    store.upsert(list(generated(100, seed=5)))
    settings = sample_settings(tmp_path)
    out = tmp_path / "site"
    SiteBuilder(store, settings, BuildOptions(out=out, search=True)).build()
    gone = out / lost if lost.endswith(".json") else next((out / "search" / "g").iterdir())
    gone.unlink()
    store.upsert([make_article(1, title="补上的文章")])
    report = SiteBuilder(store, settings, BuildOptions(out=out, search=True)).build().search
    assert report.rebuilt == report.parts == 7
    store.close()


def test_every_article_is_in_its_part_lists(site):
    """Read back as the page reads them: each article's codes list its ordinal, with the
    positions of the code in it modulo 8."""
    out = site[2]
    manifest = _manifest(site)
    groups = {g["id"]: g for g in manifest["groups"]}
    for part in manifest["parts"][::9]:
        docs = json.loads(static_search._inflated((out / part["docs"].lstrip("/")).read_bytes()))
        names = [f"{part['text']}-{i}.bin" for i in range(-(-part["n"] // manifest["chunk"]))]
        texts = [t for name in names
                 for t in json.loads(static_search._inflated((out / name.lstrip("/")).read_bytes()))]
        assert len(docs) == len(texts) == part["n"]
        lists: dict[int, list[tuple[int, int]]] = {}
        for name in groups[part["group"]]["files"]:
            blob = static_search.read_group_file((out / name.lstrip("/")).read_bytes())[part["id"]]
            lists.update(static_search.part_lists(blob))
        for ordinal, text in enumerate(texts):
            residues = code_residues(text)
            assert set(residues) == gram_codes(text)
            assert all((ordinal, bits) in lists[code] for code, bits in residues.items())
