"""Property-based tests: arbitrary input to every parser (JSON, Eastmoney lists, RSS and
Atom, article pages, config, Jekyll posts) either parses or is rejected with a clear finews
error; it never crashes, and round trips are exact."""

from __future__ import annotations

import string
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finews.config import SourceSettings, parse_settings
from finews.errors import FinewsError, InvalidArticle
from finews.extract import extract
from finews.fetch import parse_jsonish
from finews.model import BEIJING, Article
from finews.sources import build_source
from finews.sources.base import parse_items
from finews.sources.eastmoney import _list_at, _ok
from finews.sources.feed import parse_feed
from finews.store import open_store
from finews.transfer import jekyll

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)
FIELDS = ["code", "title", "summary", "showTime", "realSort", "mediaName", "url", "uniqueUrl",
          "Art_Code", "Art_Title", "Art_ShowTime", "Art_Url", "NewsID", "Title", "ShowTime",
          "digest", "content", "infoCode", "newsid", "id", "date", "source", "medianame"]
ITEM = st.dictionaries(st.sampled_from(FIELDS), st.one_of(
    TEXT, st.integers(), st.none(), st.just("2025-03-12 09:30:00"), st.just("202503123355721452"),
    st.just("NW202503123355721452"), st.just("../../etc/passwd"), st.just("【标题】正文"),
), max_size=8)
KINDS = ["eastmoney-fastnews", "eastmoney-columns", "eastmoney-search", "eastmoney-kuaixun",
         "legacy-102", "legacy-45", "legacy-newmarket"]


@EXAMPLES
@given(st.one_of(TEXT, JSON.map(repr), st.builds(lambda j, p: f"{p}({j})", JSON.map(repr), TEXT)))
def test_json_bodies_parse_or_fail_clearly(text):
    try:
        parse_jsonish(text, "http://x/")
    except FinewsError as exc:
        assert "http://x/" in str(exc)


@EXAMPLES
@given(payload=JSON, path=st.lists(st.sampled_from(["data", "list", "fastNewsList", "items"]), max_size=3))
def test_eastmoney_envelopes_parse_or_fail_clearly(payload, path):
    try:
        body = _ok(payload, "http://x/")
        _list_at(body, *(path or ["data"]), where="http://x/")
    except FinewsError as exc:
        assert "http://x/" in str(exc)


@EXAMPLES
@given(kind=st.sampled_from(KINDS), raw=st.lists(st.one_of(ITEM, JSON), max_size=6))
def test_eastmoney_items_are_parsed_one_by_one(kind, raw):
    source = build_source(SourceSettings(name="p", kind=kind, url="http://x/", outlet="东财"))
    items, problems = parse_items(raw, source._item, "http://x/")
    assert len(items) + len(problems) <= len(raw)
    for item in items:
        assert item.code and ".." not in item.code and "/" not in item.code


@EXAMPLES
@given(st.one_of(st.binary(max_size=300), TEXT.map(str.encode), st.builds(
    lambda t, d, link: (f'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title><item>'
                        f"<title>{t}</title><link>{link}</link><description>{d}</description>"
                        "</item></channel></rss>").encode(),
    TEXT, TEXT, st.sampled_from(["https://a.test/1", "javascript:alert(1)", "", "/rel"])), st.builds(
    lambda t, d, link: ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>a</title>'
                        f'<entry><title>{t}</title><link href="{link}"/><id>{link}x</id>'
                        f'<content type="html">{d}</content></entry></feed>').encode(),
    TEXT, TEXT, st.sampled_from(["https://a.test/1", "javascript:alert(1)", "", "data:x"]))))
def test_feeds_parse_or_fail_clearly(content):
    source = build_source(SourceSettings(name="f", kind="feed", url="https://a.test/feed"))
    try:
        parsed = parse_feed(content, "application/rss+xml", "https://a.test/feed")
    except FinewsError:
        return
    source._feed_title, source._base = "feed", "https://a.test/"
    items, _ = parse_items(list(parsed.entries), source._item, "https://a.test/feed")
    for item in items:
        assert not item.url.lower().startswith("javascript")


@EXAMPLES
@given(st.one_of(TEXT, st.builds(lambda a, b: f"<html><body><div id='ContentBody'>{a}</div>{b}</body></html>",
                                 TEXT, TEXT)))
def test_article_pages_extract_or_fail_clearly(html):
    try:
        content = extract(html, "https://finance.eastmoney.com/a/202503123355721452.html")
    except FinewsError:
        return
    assert "<script" not in content.body.lower()


@EXAMPLES
@given(st.dictionaries(st.sampled_from(["site", "archive", "fetch", "build", "jekyll", "categories",
                                        "sources", "other"]), JSON, max_size=4))
def test_config_files_load_or_name_the_bad_key(data):
    try:
        parse_settings(data, Path(tempfile.gettempdir()))
    except FinewsError as exc:
        assert str(exc)


@EXAMPLES
@given(st.text(max_size=400), st.sampled_from(["2025-03-12-NW202503123355721452.md", "2021-12-01-init.md",
                                               "x.md", "2025-03-12-a/../b.md"]))
def test_jekyll_posts_parse_or_fail_clearly(text, name):
    style = jekyll.JekyllStyle(base_url="//news.example.com")
    try:
        jekyll.parse_post(text, name, style)
    except InvalidArticle as exc:
        assert str(exc)


ARTICLE = st.builds(
    lambda n, title, body, digest, tags, minutes: Article(
        code=f"NW20250312{n:010d}", title=title, body=body, digest=digest, tags=tags,
        published=datetime(2025, 3, 12, tzinfo=BEIJING) + timedelta(minutes=minutes),
        outlet="南方都市报", url=f"https://finance.eastmoney.com/a/20250312{n:010d}.html",
    ),
    st.integers(0, 10**6), TEXT, st.text(max_size=300), TEXT,
    st.lists(st.text(string.ascii_letters + "中文新闻", min_size=1, max_size=8), max_size=3),
    st.integers(-10**6, 10**6),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(ARTICLE, min_size=1, max_size=5, unique_by=lambda a: a.id))
def test_store_then_load_and_export_then_import_are_exact(articles):
    style = jekyll.JekyllStyle(base_url="//news.example.com")
    with tempfile.TemporaryDirectory() as tmp, open_store(f"{tmp}/a.db") as store:
        store.upsert(articles)
        for article in articles:
            stored = store.get(article.id)
            assert (stored.title, stored.body, stored.digest, stored.tags, stored.published) == (
                article.title, article.body, article.digest, article.tags, article.published)
        jekyll.export_posts(store, Path(tmp) / "out", style)
        with open_store(f"{tmp}/b.db") as again:
            jekyll.import_posts(again, [Path(tmp) / "out"], style)
            for article in articles:
                back = again.get(article.id)
                expected = (article.title, article.body, article.published)
                assert (back.title, back.body, back.published) == expected


QUIRKS = ("final newline", "crlf", "bom", "blank line before front matter", "no back links")
BODY_TEXT = st.text(st.sampled_from("中文新闻央行<p></p>ab 12：。\n[]()>"), max_size=60).map(str.strip)


def _with_quirks(post: str, quirks: frozenset[str]) -> str:
    """The original site's files as they really are: each quirk seen in its posts."""
    if "no back links" in quirks:
        post = post[: post.rindex("\n\n[返回")]
    if "final newline" in quirks:
        post += "\n"
    if "crlf" in quirks:
        post = post.replace("\n", "\r\n")
    if "blank line before front matter" in quirks:
        post = "\n" + post
    if "bom" in quirks:
        post = "\ufeff" + post
    return post


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 10**6), title=TEXT, body=BODY_TEXT, digest=BODY_TEXT.map(lambda s: s.replace("\n", "")),
    url=st.sampled_from(["https://finance.eastmoney.com/a/1.html", "http://x.test/a?b=1&c=2", ""]),
    rolling=st.booleans(), quirks=st.frozensets(st.sampled_from(QUIRKS)),
)
def test_imported_posts_keep_every_field_whatever_their_quirks(n, title, body, digest, url, rolling, quirks):
    style = jekyll.JekyllStyle(base_url="//news.example.com")
    category = "emnews" if rolling else "nanfangdushibao"
    article = Article(
        code=f"20211208{n:010d}", title=title, body=body, digest=digest, url=url,
        published=datetime(2021, 12, 8, 9, 30, tzinfo=BEIJING), outlet="南方都市报",
        category=category, tags=["南方都市报新闻"],
    )
    text = _with_quirks(jekyll.format_post(article, style), quirks)
    back = jekyll.parse_post(text, jekyll.post_file_name(article, style.tz), style)
    body_back = back.body.replace("\r\n", "\n") if "crlf" in quirks else back.body
    assert (back.code, back.title, back.published, back.category, back.tags, back.outlet) == (
        article.code, article.title, article.published, category, article.tags, article.outlet)
    assert (back.url, back.digest, body_back) == (url, digest, body), quirks
