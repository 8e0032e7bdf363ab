"""Stock pages, feeds, chips and the directory: built from a mock Eastmoney that names
companies (listed, linked and in plain text), kept exact through rebuilds."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import lxml.etree
import lxml.html
import pytest

from finews.model import BEIJING
from finews.site.pages import stock_path
from finews.store import open_store
from tests.conftest import DATA, collect_companies, make_article
from tests.site.conftest import build, sample_settings, site_files


def listed_on(out: Path, secid: str) -> tuple[list[str], list[str]]:
    """The article links of a security's front page, and of its numbered pages (each
    article on exactly one; none when the front page holds them all), newest first."""
    front = out / stock_path(secid).lstrip("/")
    numbered = sorted(front.with_suffix("").glob("*.html"), key=lambda p: -int(p.stem))
    return tuple([a.get("href") for page in pages
                  for a in lxml.html.fromstring(page.read_bytes()).cssselect("ol.items li > a:first-child")]
                 for pages in ([front], numbered))


def href(a) -> str:
    return f"/{a.category}/{a.published.astimezone(BEIJING):%Y/%m/%d}/{a.code}.html"


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """200 mock articles collected from a flash list and two columns, then built."""
    root = tmp_path_factory.mktemp("stocks")
    world, store = collect_companies(root)
    site = sample_settings(root)
    build(store, site, root / "site", per_page=20)
    yield world, store, site, root
    store.close()


def test_stock_pages_list_exactly_the_articles_naming_each_security_newest_first(fetched):
    world, store, _, root = fetched
    by_code = {a.id: a for a in store.summaries()}
    truth: dict[str, list] = {}
    for mock in world.articles:
        for secid in mock.secids:
            truth.setdefault(secid, []).append(by_code[mock.code])
    assert len(truth) == 10 and sum(map(len, truth.values())) > 150
    for secid, articles in truth.items():
        expected = [href(a) for a in sorted(articles, key=lambda a: -a.key)]
        front, numbered = listed_on(root / "site", secid)
        assert (numbered or front) == expected and front == expected[:20], secid


def test_a_stock_page_has_its_name_count_chart_and_feed(fetched):
    _, store, _, root = fetched
    page = lxml.html.fromstring((root / "site/stock/0.301987.html").read_bytes())
    assert page.cssselect("h1")[0].text_content() == "华夏储能"
    count = store.count(stock="0.301987")
    assert f"301987 · 深市·北交所 · 共 {count} 篇" in page.cssselect("p.sub")[0].text_content()
    bars = page.cssselect("figure.chart svg rect")
    shown = sum(int(re.search(r"(\d+) 篇", b.findtext("title")).group(1)) for b in bars)
    newest = store.summaries(stock="0.301987", limit=1)[0].published.astimezone(BEIJING).date()
    start = datetime(newest.year, newest.month, newest.day, tzinfo=BEIJING) - timedelta(days=89)
    assert shown == len([a for a in store.summaries(stock="0.301987") if a.published >= start])
    feed = lxml.etree.parse(str(root / "site/stock/0.301987.xml"))
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == min(50, count)
    assert feed.findtext("{http://www.w3.org/2005/Atom}title").startswith("华夏储能")


def test_lists_show_up_to_three_chips_and_articles_link_their_securities(fetched):
    _, store, _, root = fetched
    home = lxml.html.fromstring((root / "site/index.html").read_bytes())
    for item in home.cssselect("main > ol.items li"):
        assert len(item.cssselect("a.chip")) <= 3
    article = next(a for a in store.summaries(with_stocks=True) if len(a.stocks) == 2)
    page = lxml.html.fromstring((root / "site" / href(article).lstrip("/")).read_bytes())
    links = [a.get("href") for a in page.cssselect("p.stocks a.chip")]
    assert links == [stock_path(secid) for secid in article.stocks]


def test_the_directory_lists_every_security_by_market_with_counts(fetched):
    _, store, _, root = fetched
    page = lxml.html.fromstring((root / "site/stock/index.html").read_bytes())
    sections = {s.cssselect("h2")[0].text.strip(): s for s in page.cssselect("section.market")}
    assert list(sections) == ["沪市", "深市·北交所", "港股"]
    hk = sections["港股"].cssselect("li")
    assert [li.cssselect("a")[0].text for li in hk] == ["瑞丰控股"]
    assert f"{store.count(stock='116.01968')} 篇" in hk[0].text_content()
    shown = {a.get("href") for a in page.cssselect("ul.stocks a")}
    assert shown == {stock_path(s["secid"]) for s in store.securities(limit=None)}


def test_a_new_article_rewrites_only_the_pages_of_the_securities_it_names(tmp_path):
    store = open_store(str(tmp_path / "a.db"))
    base = datetime(2025, 3, 1, 9, tzinfo=BEIJING)
    bodies = ['<p><span data-secid="1.600519">贵州茅台</span>发布公告。</p>',
              '<p><span data-secid="0.300750">宁德时代</span>(300750)签约。</p>',
              '<p>板块异动：BK1033 储能板块走强。</p>']
    store.upsert([make_article(i, published=base + timedelta(hours=i), body=bodies[i % 3])
                  for i in range(30)])
    settings, out = sample_settings(tmp_path), tmp_path / "site"
    build(store, settings, out, per_page=4)
    assert (out / "board/BK1033.html").is_file() and (out / "board/BK1033.xml").is_file()
    before = {p: (out / p).stat().st_mtime_ns for p in site_files(out)}
    store.upsert([make_article(40, published=base + timedelta(hours=40), body=bodies[0])])
    report = build(store, settings, out, per_page=4)
    assert not report.full
    after = {p: (out / p).stat().st_mtime_ns for p in site_files(out)}
    changed = {p for p in after if before.get(p) != after[p]}
    stock_pages = {p for p in changed if p.startswith(("stock/", "board/"))}
    assert stock_pages <= {"stock/1.600519.html", "stock/1.600519.xml", "stock/index.html",
                           "stock/1.600519/2.html", "stock/1.600519/3.html"}
    assert "stock/1.600519.html" in stock_pages
    assert site_files(out) == site_files(_full(store, settings, tmp_path / "full1"))
    store.close()


def test_an_article_that_stops_naming_a_security_leaves_its_page(tmp_path):
    store = open_store(str(tmp_path / "a.db"))
    base = datetime(2025, 3, 1, 9, tzinfo=BEIJING)
    store.upsert([make_article(1, published=base, body="<p>贵州茅台（600519.SH）公告。</p>"),
                  make_article(2, published=base + timedelta(hours=1), body="<p>宁德时代(300750)公告。</p>")])
    settings, out = sample_settings(tmp_path), tmp_path / "site"
    build(store, settings, out)
    assert (out / "stock/1.600519.html").is_file()
    store.upsert([make_article(1, published=base + timedelta(minutes=5), body="<p>更正：与茅台无关。</p>")])
    assert not build(store, settings, out).full
    assert not (out / "stock/1.600519.html").exists() and not (out / "stock/1.600519.xml").exists()
    assert "1.600519" not in (out / "stock/index.html").read_text()
    assert site_files(out) == site_files(_full(store, settings, tmp_path / "full"))
    store.close()


def test_imported_k_line_pictures_become_stock_links(tmp_path):
    from finews.transfer import jekyll

    store = open_store(str(tmp_path / "a.db"))
    jekyll.import_posts(store, [DATA / "jekyll-posts"], jekyll.JekyllStyle(base_url="//x.test"))
    settings, out = sample_settings(tmp_path), tmp_path / "site"
    build(store, settings, out)
    page = (out / "meirijingjixinwen/2022/02/11/NW202202112274017262.html").read_text()
    assert "webquoteklinepic" not in page and "K图" not in page
    chips = lxml.html.fromstring(page).cssselect("p.stocks a.chip")
    assert [a.get("href") for a in chips] == ["/stock/116.02338.html", "/stock/0.000338.html"]
    store.close()


def test_reextraction_republishes_bodies_and_the_next_build_follows(tmp_path):
    """An archive whose stored HTML still holds K-line pictures (an older finews)."""
    from finews.transfer import jekyll

    path = tmp_path / "a.db"
    store = open_store(str(path))
    jekyll.import_posts(store, [DATA / "jekyll-posts"], jekyll.JekyllStyle(base_url="//x.test"))
    (key, body), = store.db.execute(
        "SELECT key, body FROM articles WHERE code='NW202202112274017262'").fetchall()
    with store.transaction():
        store.db.execute("UPDATE articles SET html=? WHERE key=?", (body, key))
        store.db.execute("DELETE FROM article_securities WHERE key=?", (key,))
    settings, out = sample_settings(tmp_path), tmp_path / "site"
    build(store, settings, out)
    article = out / "meirijingjixinwen/2022/02/11/NW202202112274017262.html"
    assert "webquoteklinepic" in article.read_text()
    store.reextract_stocks()
    assert not build(store, settings, out).full
    assert "webquoteklinepic" not in article.read_text()
    assert (out / "stock/116.02338.html").is_file()
    store.close()


def _full(store, settings, out: Path) -> Path:
    build(store, settings, out, full=True, per_page=4)
    return out
