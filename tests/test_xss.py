"""Cross-site scripting: every payload of tests/data/xss through every way in (Jekyll import,
Eastmoney column lists with article pages and hostile URLs, the 7x24 flash list, RSS), then
every page of the built site, every feed entry and every API answer is checked for anything
that could run script."""

from __future__ import annotations

import html
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from finews.cli import cli
from finews.config import load_settings
from finews.model import BEIJING, Article
from finews.serve.app import BackgroundServer, create_app
from finews.store import open_store
from finews.transfer import jekyll
from tests.safety import active_content

CORPUS = Path(__file__).parent / "data" / "xss" / "payloads.txt"
PAYLOADS = [line for line in CORPUS.read_text().splitlines() if line]
START = datetime(2025, 1, 2, 9, 0, tzinfo=BEIJING)


def _code(way: int, i: int) -> str:
    return f"{(START + timedelta(days=way)):%Y%m%d}{way}{i:09d}"


def _jekyll_posts(folder: Path) -> None:
    style = jekyll.JekyllStyle(base_url="//news.example.com")
    folder.mkdir()
    for i, payload in enumerate(PAYLOADS):
        article = Article(
            code="NW" + _code(0, i), title=f"标题{i} {payload}", published=START + timedelta(minutes=i),
            outlet=f"报社{i}", category=f"baoshe{i % 3}", tags=[f"{payload[:40]}新闻"],
            body=f"<p>正文{i}</p>{payload}", url=f"https://finance.eastmoney.com/a/{_code(0, i)}.html",
        )
        (folder / jekyll.post_file_name(article, BEIJING)).write_text(jekyll.format_post(article, style))


def _url(way: int, i: int, payload: str) -> str:
    """Every other item carries a hostile URL instead of its page's."""
    if i % 2:
        return "javascript:alert(1)" if i % 4 == 1 else payload
    return f"http://finance.eastmoney.com/a/{_code(way, i)}.html"


def _in_cdata(text: str) -> str:
    return text.replace("]]>", "]]]]><![CDATA[>")


def _serve_sources(httpserver) -> None:
    items = [{
        "code": _code(1, i), "showTime": f"{START + timedelta(days=1, minutes=i):%Y-%m-%d %H:%M:%S}",
        "title": f"快讯{i} {payload}", "mediaName": f"媒体{payload[:30]}", "summary": payload,
        "image": "", "url": _url(1, i, payload), "uniqueUrl": _url(1, i, payload), "Np_dst": "CMS",
    } for i, payload in enumerate(PAYLOADS)]
    flashes = [{
        "code": _code(3, i), "title": f"快讯{i} {payload}", "summary": f"【{payload}】{payload}",
        "showTime": f"{START + timedelta(days=3, minutes=i):%Y-%m-%d %H:%M:%S}", "realSort": str(i),
    } for i, payload in enumerate(PAYLOADS)]
    httpserver.expect_request("/comm/web/getFastNewsList").respond_with_json(
        {"code": "1", "message": "success", "data": {"fastNewsList": flashes[::-1], "sortEnd": ""}})
    httpserver.expect_request("/comm/web/getNewsByColumns").respond_with_json(
        {"code": "1", "message": "success", "data": {"list": items[::-1], "page_index": 1,
                                                     "page_size": 100, "totle_hits": len(items)}})
    for i, payload in enumerate(PAYLOADS):
        httpserver.expect_request(f"/a/{_code(1, i)}.html").respond_with_data(
            f'<html><head><title>t</title></head><body><div class="detail_top"><div class="title">'
            f'{html.escape(payload)}</div></div><div id="ContentBody" class="txtinfos"><p>正文{i}</p>'
            f"{payload}</div></body></html>", content_type="text/html; charset=utf-8")
    entries = "".join(
        f"<item><title>{html.escape(f'条目{i} {payload}')}</title>"
        f"<link>https://feed.example.com/{i}</link><guid>feed-{i}</guid>"
        f"<pubDate>{(START + timedelta(days=2, minutes=i)):%a, %d %b %Y %H:%M:%S +0800}</pubDate>"
        f"<description><![CDATA[<p>正文{i}</p>{_in_cdata(payload)}]]></description></item>"
        for i, payload in enumerate(PAYLOADS)
    ) + ("<item><title>链接</title><link>javascript:alert(1)</link><guid>feed-js</guid>"
         "<description>javascript link</description></item>")
    httpserver.expect_request("/feed.xml").respond_with_data(
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>源</title>'
        f"<link>https://feed.example.com/</link>{entries}</channel></rss>",
        content_type="application/rss+xml")
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    httpserver = HTTPServer(host="127.0.0.1", port=0)  # its own, not the session's shared one
    httpserver.start()
    root = tmp_path_factory.mktemp("xss")
    _jekyll_posts(root / "_posts")
    _serve_sources(httpserver)
    base = httpserver.url_for("").rstrip("/")
    (root / "finews.toml").write_text(f"""
[site]
base_url = "https://news.example.com"
[fetch]
min_interval = 0
retries = 1
[[sources]]
name = "columns"
kind = "eastmoney-columns"
url = "{base}/comm/web/getNewsByColumns"
article_url = "{base}/a/{{code}}.html"
page_size = 100
max_pages = 1
[[sources]]
name = "flash"
kind = "eastmoney-fastnews"
url = "{base}/comm/web/getFastNewsList"
article_url = "{base}/a/{{code}}.html"
outlet = "东财滚动"
category = "emnews"
page_size = 100
max_pages = 1
full_text = "never"

[[sources]]
name = "rss"
kind = "feed"
url = "{base}/feed.xml"
outlet = "订阅源"
""")
    runner = CliRunner()
    config = ["--config", str(root / "finews.toml")]
    try:
        for args in (["import", "jekyll", str(root / "_posts")], ["fetch"], ["build", "--no-search"]):
            result = runner.invoke(cli, [*config, *args], catch_exceptions=False)
            assert result.exit_code == 0, result.output
    finally:
        httpserver.clear()
        httpserver.stop()
    return root, load_settings(root / "finews.toml")


def test_the_corpus_is_large_enough():
    assert len(PAYLOADS) >= 50


def test_every_payload_arrived_through_every_way(hostile_site):
    _, settings = hostile_site
    with open_store(settings.archive_url) as store:
        counts = Counter(a.source for a in store.iter_articles())
    n = len(PAYLOADS)
    assert counts == {"jekyll": n, "columns": n, "flash": n, "rss": n + 1}, counts


def test_no_page_of_the_site_carries_active_content(hostile_site):
    root, _ = hostile_site
    pages = list((root / "_site").rglob("*.html"))
    assert len(pages) > 3 * len(PAYLOADS)
    for page in pages:
        own = ("template",) if page.name == "search.html" else ()  # the results' markup
        assert active_content(page.read_bytes(), page=True, allow=own) == [], page


def test_no_feed_entry_carries_active_content(hostile_site):
    root, _ = hostile_site
    feeds = list((root / "_site").rglob("*.xml"))
    checked = 0
    for feed in feeds:
        parsed = feedparser.parse(feed.read_bytes(), sanitize_html=False)
        for entry in parsed.entries:
            for content in entry.get("content", []):
                assert active_content(content.value) == [], (feed, entry.get("id"))
                checked += 1
            assert not str(entry.get("link", "")).lower().startswith("javascript"), entry.get("link")
    assert checked >= len(PAYLOADS)


def test_no_api_answer_carries_active_content(hostile_site):
    root, settings = hostile_site
    server = BackgroundServer(create_app(settings, root / "_site"), "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
            listing = client.get("/api/articles", params={"limit": 500}).json()["articles"]
            assert len(listing) >= 4 * len(PAYLOADS)
            for summary in listing:
                article = client.get(f"/api/articles/{summary['id']}").json()
                assert active_content(article["html"]) == [], summary["id"]
            for q in ("alert", "script", "onerror", "javascript"):
                for hit in client.get("/api/search", params={"q": q, "limit": 500}).json()["articles"]:
                    assert active_content(hit["snippet"]) == [], hit["snippet"]
                    assert json.dumps(hit)
    finally:
        server.stop()


KINDS = ["eastmoney-fastnews", "eastmoney-columns", "eastmoney-search", "eastmoney-kuaixun",
         "legacy-102", "legacy-45", "legacy-newmarket"]
CODE_FIELDS = ("code", "id", "newsid", "infoCode", "infocode")
TIME_FIELDS = ("showTime", "showtime", "date", "datetime")
TEXT_FIELDS = ("title", "summary", "content", "digest", "simdigest", "simtitle", "mediaName",
               "medianame", "from")
URL_FIELDS = ("url", "uniqueUrl", "url_w", "url_unique")


@pytest.mark.parametrize("kind", KINDS)
def test_every_eastmoney_kind_makes_safe_items_of_hostile_fields(kind):
    """The site test above proves titles and outlets are escaped when rendered; here every
    list kind turns hostile fields into a sanitised body and a safe link."""
    from finews.config import SourceSettings
    from finews.sources import build_source
    from finews.sources.base import parse_items
    from tests.safety import DANGEROUS_URL

    source = build_source(SourceSettings(name="x", kind=kind, url="http://127.0.0.1/", outlet="东财"))
    raws = [{**dict.fromkeys(CODE_FIELDS, _code(4, i)), **dict.fromkeys(TIME_FIELDS, "2025-03-12 09:30:00"),
             **dict.fromkeys(TEXT_FIELDS, f"文{i} {payload}"), **dict.fromkeys(URL_FIELDS, payload)}
            for i, payload in enumerate(PAYLOADS)]
    items, problems = parse_items(raws, source._item, kind)
    assert len(items) == len(PAYLOADS), problems
    for item in items:
        assert active_content(item.body) == [], (kind, item.body)
        for url in (item.url, item.full_text_url):
            assert not DANGEROUS_URL.match(url.strip()), (kind, url)
