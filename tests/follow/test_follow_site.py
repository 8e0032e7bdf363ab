"""What followed news looks like on the site and in the API: red marks in lists, the
important page and feed, each watch's page and feed (Atom read back by feedparser), kept
exact through incremental builds; /api/watch/{name}, its .atom, /api/search.atom and
important=true."""

from __future__ import annotations

from datetime import datetime, timedelta

import feedparser
import httpx
import lxml.html
import pytest

from finews.follow import IMPORTANT
from finews.model import BEIJING
from finews.serve.app import BackgroundServer, create_app
from tests.conftest import make_article, settings_for
from tests.site.conftest import build

CONFIG = """
[site]
base_url = "https://news.example.com"

[[watch]]
name = "chips"
query = "芯片 OR 半导体 -港股"

[[watch]]
name = "maotai"
stocks = ["1.600519"]
"""


def _articles(start: int, n: int) -> list:
    base = datetime(2025, 3, 10, 9, 0, tzinfo=BEIJING)
    words = ["芯片", "半导体", "港股芯片", "银行", "贵州茅台(600519)", "降息"]
    return [make_article(i, title=f"标题{i}{words[i % 6]}", body=f"<p>正文{i}，{words[i % 6]}。</p>",
                         published=base + timedelta(hours=i), importance=IMPORTANT if i % 4 == 1 else 0)
            for i in range(start, start + n)]


def _links(page) -> list[str]:
    items = lxml.html.fromstring(page.read_bytes()).cssselect("ol.items li > a:first-child")
    return [a.get("href") for a in items]


def _href(a) -> str:
    return f"/{a.category}/{a.published.astimezone(BEIJING):%Y/%m/%d}/{a.code}.html"


def _expected(store, articles) -> dict[str, list[str]]:
    stored = sorted(store.iter_articles(), key=lambda a: -a.key)
    red = {a.id for a in articles if a.importance}
    return {
        "important": [_href(a) for a in stored if a.id in red],
        "chips": [_href(a) for a in stored if ("芯片" in a.search_text or "半导体" in a.search_text)
                  and "港股" not in a.search_text],
        "maotai": [_href(a) for a in stored if "600519" in a.body],
    }


@pytest.fixture
def followed(tmp_path):
    from finews.store import open_store

    settings = settings_for(CONFIG + f'[archive]\ndatabase_url = "{tmp_path / "a.db"}"\n', tmp_path)
    store = open_store(settings.archive_url, follow=settings.follow)
    articles = _articles(0, 40)
    store.upsert(articles)
    build(store, settings, tmp_path / "site")
    yield store, settings, tmp_path / "site", articles
    store.close()


def _check_pages(store, out, articles) -> None:
    for name, expected in _expected(store, articles).items():
        page = out / ("important.html" if name == "important" else f"watch/{name}.html")
        assert expected and _links(page) == expected, name
        feed = feedparser.parse(page.with_suffix(".xml").read_bytes())
        assert not feed.bozo, (name, feed.bozo_exception)
        assert [e.link for e in feed.entries] == [f"https://news.example.com{h}" for h in expected], name


def test_important_and_watch_pages_list_exactly_their_matches_newest_first(followed):
    store, _, out, articles = followed
    _check_pages(store, out, articles)
    home = lxml.html.fromstring((out / "index.html").read_bytes())
    red = {li.cssselect("a")[0].get("href") for li in home.cssselect("li.important")}
    assert red == set(_expected(store, articles)["important"])
    assert all(li.cssselect(".red-mark")[0].text == "重要" for li in home.cssselect("li.important"))


def test_pages_follow_new_matches_and_a_raised_importance_incrementally(followed):
    store, settings, out, articles = followed
    more = _articles(40, 9)
    store.upsert(more)
    report = build(store, settings, out)
    assert not report.full
    _check_pages(store, out, articles + more)
    ordinary = next(a for a in articles if not a.importance and "银行" in a.title)
    assert store.mark_important([ordinary.id]) == 1
    ordinary.importance = IMPORTANT
    build(store, settings, out)
    _check_pages(store, out, articles + more)
    category = out / "category" / f"{ordinary.category}.html"
    row = lxml.html.fromstring(category.read_bytes()).cssselect(f'li > a[href="{_href(ordinary)}"]')[0]
    assert "important" in row.getparent().get("class", "")


def test_a_removed_watch_loses_its_pages(followed, tmp_path):
    store, _, out, _ = followed
    fewer = settings_for(CONFIG.split("[[watch]]\nname = \"maotai\"")[0], tmp_path)
    build(store, fewer, out)
    assert (out / "watch/chips.html").exists() and not (out / "watch/maotai.html").exists()
    assert not (out / "watch/maotai.xml").exists()


@pytest.fixture
def api(followed):
    store, settings, out, articles = followed
    server = BackgroundServer(create_app(settings, out), "127.0.0.1", 0)
    server.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield client, store, articles
    server.stop()


def test_the_api_serves_watches_searches_as_feeds_and_important_only(api):
    client, store, articles = api
    expected = _expected(store, articles)
    data = client.get("/api/watch/chips?limit=5").json()
    assert [a["page"] for a in data["articles"]] == expected["chips"][:5] and data["next_cursor"]
    rest = client.get(f"/api/watch/chips?limit=100&cursor={data['next_cursor']}").json()
    assert [a["page"] for a in data["articles"] + rest["articles"]] == expected["chips"]
    atom = client.get("/api/watch/maotai.atom")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(atom.content)
    assert not feed.bozo and [e.link for e in feed.entries] == \
        [f"https://news.example.com{h}" for h in expected["maotai"]]
    again = client.get("/api/watch/maotai.atom")  # from the cache: still a feed
    assert again.headers["content-type"].startswith("application/atom+xml") and again.content == atom.content
    searched = feedparser.parse(client.get("/api/search.atom", params={"q": "芯片 OR 半导体 -港股"}).content)
    site = "https://news.example.com"
    assert [e.link for e in searched.entries] == [f"{site}{h}" for h in expected["chips"][:20]]
    red = client.get("/api/articles?important=true&limit=500").json()["articles"]
    assert [a["page"] for a in red] == expected["important"] and all(a["important"] for a in red)
    hits = client.get("/api/search", params={"q": "半导体", "important": "true", "limit": 500}).json()
    assert hits["articles"] and all(a["important"] for a in hits["articles"])
    assert client.get("/api/watch/nope").status_code == 404
    assert client.get("/api/articles?important=maybe").status_code == 400


def test_an_article_page_links_to_the_watches_it_matches(followed):
    store, settings, out, articles = followed
    more = _articles(40, 3)
    store.upsert(more)
    build(store, settings, out)  # incremental: the new pages name their watches too
    expected = _expected(store, articles + more)
    for article in store.iter_articles():
        page = lxml.html.fromstring((out / _href(article).lstrip("/")).read_bytes())
        linked = sorted(a.get("href") for a in page.cssselect("p.tags a") if "/watch/" in a.get("href"))
        wanted = sorted(f"/watch/{name}.html" for name in ("chips", "maotai")
                        if _href(article) in expected[name])
        assert linked == wanted, article.title
