"""End to end: every source kind against a real local server serving the fixtures."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime

import feedparser
import pytest
from werkzeug import Response

from finews.clean import html_to_text
from finews.collect import Collector
from finews.fetch import parse_jsonish
from finews.mocknews import FIXTURE_PAGE1_SORT_END, fixture_sources_toml
from finews.model import BEIJING, stable_id
from finews.store import open_store
from tests.conftest import DATA, settings_for

EM = DATA / "eastmoney"
HOSTILE = re.compile(r"<script|onerror|onload|javascript:|<iframe|style=", re.I)

LIST_PATHS = {
    "fastnews-col102-page1.json": ("data", "fastNewsList", "code"),
    "fastnews-col102-page2.json": ("data", "fastNewsList", "code"),
    "newsbycolumns-col350-page1.json": ("data", "list", "code"),
    "newsbycolumns-col350-page2.json": ("data", "list", "code"),
    "newsbycolumns-col1207-cjzc.json": ("data", "list", "code"),
    "search-cmsArticleWebOld-301987.js": ("result", "cmsArticleWebOld", "code"),
    "search-cmsArticle-dongyuexincai.js": ("result", "cmsArticle", "code"),
    "kuaixun-getlist_102_ajaxResult_50_1.js": (None, "LivesList", "newsid"),
    "kuaixun-getlist_102_ajaxResult_50_2.js": (None, "LivesList", "newsid"),
    "webapi-type102-a.json": (None, "records", "id"),
    "webapi-type45-a.json": (None, "nodeList", "infocode"),
    "newmarket-marketType37.json": (None, "record", "infoCode"),
    "newmarket-marketType38.json": (None, "record", "infoCode"),
    "newmarket-marketType39.json": (None, "record", "infoCode"),
}


def fixture_ids() -> set[str]:
    """The oracle: every distinct article id in the fixtures served on a first poll."""
    ids = set()
    for name, (outer, key, field) in LIST_PATHS.items():
        payload = parse_jsonish((EM / name).read_text(encoding="utf-8"))
        items = payload[outer][key] if outer else payload[key]
        ids.update(stable_id(item[field]) for item in items)
    for name in ("legacy-cdata-gbk.xml", "rsshub-modern-eastmoney-search.xml",
                 "rsshub-atom-eastmoney-search.xml"):
        for entry in feedparser.parse((DATA / "rss" / name).read_bytes()).entries:
            match = re.search(r"/a/(\d{18})\.html", entry.get("link", ""))
            ids.add(match.group(1) if match else entry.get("id") or entry.get("link"))
    return ids


def collect(settings, db, names=None):
    with open_store(str(db)) as store:
        chosen = [s for s in settings.sources if names is None or s.name in names]
        collector = Collector(store, settings)
        return asyncio.run(collector.run(chosen)), collector.fetcher


@pytest.fixture
def settings(mock_news, tmp_path):
    return settings_for(fixture_sources_toml(mock_news.base), tmp_path)


def test_every_valid_fixture_item_is_archived_once(settings, tmp_path, mock_news):
    reports, _ = collect(settings, tmp_path / "a.db")
    assert all(r.ok for r in reports), [(r.name, r.error) for r in reports]
    with open_store(str(tmp_path / "a.db")) as store:
        articles = list(store.iter_articles())
    eastmoney_ids = {i for i in fixture_ids() if i.isdigit()}
    stored_ids = {a.id for a in articles}
    assert eastmoney_ids <= stored_ids
    feed_only = len(fixture_ids()) - len(eastmoney_ids)
    assert len(articles) == len(eastmoney_ids) + feed_only
    assert len(stored_ids) == len(articles)


def test_items_carry_outlet_category_time_and_clean_body(settings, tmp_path, mock_news):
    collect(settings, tmp_path / "a.db")
    with open_store(str(tmp_path / "a.db")) as store:
        flash = store.get("202503123355277103")
        assert flash.title == "公开市场今日实现净投放1050亿元"
        assert flash.published == datetime(2025, 3, 12, 15, 21, 17, tzinfo=BEIJING)
        assert (flash.outlet, flash.category, flash.tags) == ("东财滚动", "emnews", ["东财滚动新闻"])
        assert flash.url == "https://finance.eastmoney.com/a/202503123355277103.html"
        assert flash.digest.startswith("今日开展7天期逆回购操作") and "【" not in flash.body
        # the same story from an outlet's list wins over the rolling-news copy
        story = store.get("202503123355721452")
        assert story.title == '瀚海储能董事长："海外订单排产已至三季度"，全年出货目标上调'
        assert (story.outlet, story.category) == ("证券时报", "zhengquanshibao")
        column = store.get("202503113355806376")
        assert column.outlet == "证券日报" and column.category == "zhengquanribao"
        assert column.published.astimezone(BEIJING).hour == 15
        wind = [a for a in store.iter_articles() if a.outlet == "Wind资讯"]
        assert wind and all(a.category == "windzixun" for a in wind)
        legacy = store.get("202112083355721666")
        assert "目前海外大储订单排产已至三季度" in legacy.body and "　　" not in legacy.body
        gbk = [a for a in store.iter_articles() if a.title == "多家银行下调大额存单利率 部分期限产品停售"]
        assert gbk and gbk[0].outlet == "中国证券报"
        split = [a for a in store.iter_articles() if "]]>" in a.title]
        assert split, "the split CDATA title keeps its literal ]]>"
        for article in store.iter_articles():
            assert not HOSTILE.search(article.body), (article.code, article.body)
            assert "<em>" not in article.title and "&amp;" not in article.title
            assert article.published.utcoffset() is not None


def test_red_flash_items_are_stored_important_whichever_source_stored_them_first(
        settings, tmp_path, mock_news):
    """titleColor 3 marks an item red; 0 leaves it ordinary. An item another list stored
    first (the outlet's copy) is raised when the flash list marks it."""
    red = set()
    for name in ("fastnews-col102-page1.json", "fastnews-col102-page2.json"):
        items = json.loads((EM / name).read_text(encoding="utf-8"))["data"]["fastNewsList"]
        red |= {stable_id(item["code"]) for item in items if item["titleColor"]}
    assert len(red) == 3
    others = [s.name for s in settings.sources if s.kind != "eastmoney-fastnews"]
    collect(settings, tmp_path / "a.db", names=others)
    collect(settings, tmp_path / "a.db")
    with open_store(str(tmp_path / "a.db")) as store:
        keys = {a.key: a.id for a in store.iter_articles()}
        assert {keys[k] for k in store.importance_of(list(keys))} == red


def test_article_page_gives_the_full_clean_body(settings, tmp_path, mock_news):
    collect(settings, tmp_path / "a.db", names={"yaowen", "search-301987"})
    with open_store(str(tmp_path / "a.db")) as store:
        article = store.get("202503123355721452")
    assert "机构观点" in article.body
    assert "瀚海储能(301987)董事长" in html_to_text(article.body)  # the stock link's text stays
    assert '<span data-secid="0.301987">瀚海储能</span>' in article.body  # and its security
    assert "郑重声明" not in article.body and "AI选股" not in article.body
    assert "K图" not in article.body and "document.write" not in article.body
    assert 'src="https://np-newspic.dfcfw.com/download/D25031215284100000002_w600h400.jpg"' in (
        article.body
    )


def test_second_run_makes_no_body_requests(settings, tmp_path, mock_news):
    stable = [s.name for s in settings.sources if not s.name.startswith("legacy")]
    collect(settings, tmp_path / "a.db", names=stable)
    mock_news.hits.clear()
    reports, fetcher = collect(settings, tmp_path / "a.db", names=stable)
    assert sum(r.new for r in reports) == 0
    assert fetcher.requests_by_kind.get("body", 0) == 0
    assert not any(path.startswith(("/a/", "/NewsData/")) for path in mock_news.hits)


def test_legacy_second_poll_adds_only_the_new_records(settings, tmp_path, mock_news):
    collect(settings, tmp_path / "a.db", names={"legacy-102"})
    reports, fetcher = collect(settings, tmp_path / "a.db", names={"legacy-102"})
    second = json.loads((EM / "webapi-type102-b.json").read_text(encoding="utf-8"))["records"]
    assert reports[0].new == len(second) - 1
    assert fetcher.requests_by_kind["body"] == len(second) - 1


def test_http_200_carrying_an_error_fails_the_source_only(tmp_path, httpserver):
    httpserver.expect_request("/comm/web/getFastNewsList").respond_with_data(
        (EM / "fastnews-error-missing-param.json").read_bytes(), content_type="application/json"
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        (DATA / "rss" / "rsshub-atom-eastmoney-search.xml").read_bytes()
    )
    settings = settings_for(f"""
[fetch]
min_interval = 0
retries = 0
[[sources]]
name = "broken"
kind = "eastmoney-fastnews"
url = "{httpserver.url_for('/comm/web/getFastNewsList')}"
[[sources]]
name = "fine"
kind = "feed"
url = "{httpserver.url_for('/feed.xml')}"
full_text = "never"
""", tmp_path)
    reports, _ = collect(settings, tmp_path / "a.db")
    broken, fine = reports
    assert "API answered with an error" in broken.error
    assert "Required String parameter" in broken.error
    assert fine.ok and fine.new == 5
    with open_store(str(tmp_path / "a.db")) as store:
        (health,) = store.source_health("broken")
        assert health.consecutive_failures == 1 and "error" in health.last_error
        assert health.next_due > health.last_run + 300


def test_huge_response_is_cut_off_and_nothing_is_stored(tmp_path, httpserver):
    chunk = b'{"records": [' + b" " * (1024 * 1024)

    def huge():
        yield chunk
        for _ in range(50):
            yield b" " * (1024 * 1024)

    httpserver.expect_request("/web/webapi").respond_with_response(
        Response(huge(), content_type="application/json")
    )
    settings = settings_for(f"""
[fetch]
min_interval = 0
max_bytes = 2000000
[[sources]]
name = "huge"
kind = "legacy-102"
url = "{httpserver.url_for('/web/webapi')}"
""", tmp_path)
    reports, _ = collect(settings, tmp_path / "a.db")
    assert "larger than" in reports[0].error
    with open_store(str(tmp_path / "a.db")) as store:
        assert store.count() == 0


def test_a_source_that_never_answers_times_out(tmp_path, httpserver):
    import time

    def slow(request):
        time.sleep(3)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    settings = settings_for(f"""
[fetch]
min_interval = 0
retries = 0
read_timeout = 0.5
total_timeout = 1
[[sources]]
name = "slow"
kind = "legacy-102"
url = "{httpserver.url_for('/slow')}"
""", tmp_path)
    started = time.monotonic()
    reports, _ = collect(settings, tmp_path / "a.db")
    assert "timed out" in reports[0].error
    assert time.monotonic() - started < 2.5


def test_source_failing_mid_listing_keeps_its_checkpoint_and_recovers(tmp_path, httpserver):
    """What was read lands at once, but the checkpoint stays: the next pass reads the rest."""
    page1 = (EM / "fastnews-col102-page1.json").read_bytes()
    page2 = (EM / "fastnews-col102-page2.json").read_bytes()
    failing = [True]

    def second_page_fails_once(request):
        if request.args.get("sortEnd") == "":
            return Response(page1, content_type="application/json")
        if request.args.get("sortEnd") == FIXTURE_PAGE1_SORT_END and not failing[0]:
            return Response(page2, content_type="application/json")
        if failing[0]:
            return Response("", status=503)
        return Response(json.dumps({"code": "1", "data": {"fastNewsList": [], "sortEnd": ""}}),
                        content_type="application/json")

    httpserver.expect_request("/list").respond_with_handler(second_page_fails_once)
    settings = settings_for(f"""
[fetch]
min_interval = 0
retries = 1
backoff = 0.01
[[sources]]
name = "vanishing"
kind = "eastmoney-fastnews"
url = "{httpserver.url_for('/list')}"
""", tmp_path)
    reports, _ = collect(settings, tmp_path / "a.db")
    assert "HTTP 503" in reports[0].error
    with open_store(str(tmp_path / "a.db")) as store:
        first = store.count()
        assert 0 < first < len(fixture_ids())
        assert store.source_health("vanishing")[0].checkpoint_time == 0
    failing[0] = False
    reports, _ = collect(settings, tmp_path / "a.db")
    assert reports[0].ok, reports[0].error
    with open_store(str(tmp_path / "a.db")) as store:
        pages = [json.loads((EM / f"fastnews-col102-{n}.json").read_text()) for n in ("page1", "page2")]
        page_ids = {stable_id(i["code"]) for p in pages for i in p["data"]["fastNewsList"] if i.get("code")}
        assert {a.id for a in store.iter_articles()} == page_ids
        assert store.source_health("vanishing")[0].checkpoint_time > 0


def test_one_bad_item_is_skipped_and_reported(tmp_path, httpserver):
    payload = json.loads((EM / "fastnews-col102-page2.json").read_text(encoding="utf-8"))
    items = payload["data"]["fastNewsList"]
    items[0]["code"] = "../../etc/passwd"
    items[1]["showTime"] = "not a time"
    items[2] = "not an object"
    payload["data"]["sortEnd"] = ""
    httpserver.expect_request("/list").respond_with_json(payload)
    settings = settings_for(f"""
[fetch]
min_interval = 0
[[sources]]
name = "mixed"
kind = "eastmoney-fastnews"
url = "{httpserver.url_for('/list')}"
""", tmp_path)
    reports, _ = collect(settings, tmp_path / "a.db")
    report = reports[0]
    assert report.ok
    assert report.failed == 3
    assert any("unsafe article id" in p for p in report.problems)
    assert any("unreadable time" in p for p in report.problems)
    assert report.new == len(items) - 3


def test_a_burst_of_300_between_two_polls_of_a_50_item_list_loses_nothing(tmp_path, httpserver):
    published: list[dict] = []

    def publish(n: int) -> None:
        for _ in range(n):
            i = len(published)
            published.append({
                "code": f"2025031{i:011d}", "title": f"快讯 {i}", "summary": f"【快讯 {i}】正文 {i}",
                "showTime": f"2025-03-12 {9 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
                "realSort": str(1741700000000000 + i),
            })

    def fast_list(request):
        newest_first = published[::-1]
        cursor = request.args.get("sortEnd", "")
        start = 0 if not cursor else next(
            k + 1 for k, item in enumerate(newest_first) if item["realSort"] == cursor
        )
        page = newest_first[start : start + 50]
        return Response(json.dumps({
            "code": "1", "data": {"fastNewsList": page,
                                  "sortEnd": page[-1]["realSort"] if page else ""},
        }), content_type="application/json")

    httpserver.expect_request("/fast").respond_with_handler(fast_list)
    settings = settings_for(f"""
[fetch]
min_interval = 0
[[sources]]
name = "burst"
kind = "eastmoney-fastnews"
url = "{httpserver.url_for('/fast')}"
page_size = 50
max_pages = 20
""", tmp_path)
    publish(60)
    collect(settings, tmp_path / "a.db")
    publish(300)
    reports, _ = collect(settings, tmp_path / "a.db")
    assert reports[0].new == 300
    with open_store(str(tmp_path / "a.db")) as store:
        assert store.count() == 360
        assert {a.id for a in store.iter_articles()} == {stable_id(p["code"]) for p in published}
