"""Stories on the site, from a mock Eastmoney whose outlets reprint each other: every
story once in the lists with its badge, all copies on its page, the 同一新闻 box, and a
rebuild that follows a copy joining a story."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import lxml.html
import pytest

from finews.collect import Collector
from finews.mocknews import MockNews, MockNewsServer, overlap_sources_toml
from finews.model import BEIJING, Article
from finews.site.stories import story_path
from finews.store import open_store
from tests.conftest import settings_for
from tests.site.conftest import build, sample_settings
from tests.stories_eval import pairwise, stories_by_code


@pytest.fixture(scope="module")
def reprinted(tmp_path_factory):
    """300 mock articles, a third of them reprints, collected from every list and built."""
    root = tmp_path_factory.mktemp("stories")
    world = MockNews(columns=2, seed=11, overlap=True, reprints=0.35)
    world.publish(300)
    server = MockNewsServer(world).start()
    try:
        settings = settings_for("[fetch]\nmin_interval = 0\nretries = 1\n" + overlap_sources_toml(
            server.url, 2, page_size=50, max_pages=10, flash_full_text="always", legacy_count=1000),
            root)
        store = open_store(str(root / "a.db"))
        asyncio.run(Collector(store, settings).run(settings.sources))
    finally:
        server.stop()
    site = sample_settings(root)
    build(store, site, root / "site", per_page=40)
    yield world, store, site, root
    store.close()


def links(page) -> list[str]:
    items = lxml.html.fromstring(page.read_bytes()).cssselect(
        "ol.items li > a:first-child, ol.live .live-body > a:first-child")  # a flash outlet: the 7×24 layout
    return [a.get("href") for a in items]


def page_of(a: Article) -> str:
    return f"/{a.category}/{a.published.astimezone(BEIJING):%Y/%m/%d}/{a.code}.html"


def test_the_mock_sources_reprints_are_grouped_with_pairwise_precision_and_recall(reprinted):
    world, store, _, _ = reprinted
    truth = {a.code: a.story for a in world.articles}
    found = stories_by_code(store, by_id=True)
    assert set(found) == set(truth)
    precision, recall, wrong, missed = pairwise(truth, found)
    assert sum(a.story != a.code for a in world.articles) > 60
    assert precision >= 0.98 and recall >= 0.95, (precision, recall, wrong[:3], missed[:3])


def test_the_home_page_shows_each_story_once_at_its_newest_copy_with_its_badge(reprinted):
    _, store, _, root = reprinted
    stories = store.story_ids([a.key for a in store.summaries()])
    newest = store.summaries(limit=400)
    seen, expected = set(), []
    for a in newest:
        story = stories.get(a.key, a.key)
        if story not in seen:
            seen.add(story)
            expected.append(a)
    page = lxml.html.fromstring((root / "site/index.html").read_bytes())
    shown = [a.get("href") for a in page.cssselect("main ol.items")[0].cssselect("li > a:first-child")]
    assert shown == [page_of(a) for a in expected[:100]]
    badges = page.cssselect("main ol.items")[0].cssselect("a.story")
    assert badges and all(b.text_content().endswith(("家媒体报道", "篇报道")) for b in badges)


def test_story_pages_list_every_copy_and_articles_link_the_others(reprinted):
    _, store, _, root = reprinted
    members = store.story_articles()
    assert len(members) > 20
    for story, articles in list(members.items())[:15]:
        page = root / "site" / story_path(story).lstrip("/")
        assert len(links(page)) == len(articles)
        text = lxml.html.fromstring(page.read_bytes()).cssselect("p.sub")[0].text_content()
        assert text.startswith(f"{len({a.outlet for a in articles})}家媒体报道")
        first = articles[0]
        article_page = root / "site" / page_of(first).lstrip("/")
        box = lxml.html.fromstring(article_page.read_bytes()).cssselect("aside.story-box li a")
        assert len(box) == len(articles) - 1


def test_an_outlet_page_still_lists_every_article_it_ran(reprinted):
    _, store, _, root = reprinted
    counts = {c.slug: c.count for c in store.category_counts()}
    slug = max(counts, key=counts.get)
    pages = [root / f"site/category/{slug}.html", *sorted((root / f"site/category/{slug}").glob("*.html"))]
    listed = {href for page in pages for href in links(page)}
    assert len(listed) == counts[slug]


def test_a_copy_joining_a_story_rewrites_its_pages_and_hides_the_older_copy(reprinted, tmp_path):
    _, store, site, root = reprinted
    members = store.story_articles()
    story, articles = next(iter(members.items()))
    newest = articles[-1]
    full = store.get(newest.id)
    copy = Article(code="reprint-1", title=full.title, published=newest.published + timedelta(hours=1),
                   outlet="新的媒体", category="xinmeiti", body=full.body)
    store.upsert([copy])
    report = build(store, site, root / "site", per_page=40)
    assert not report.full and report.pages < 200
    page = root / "site" / story_path(story).lstrip("/")
    assert len(links(page)) == len(articles) + 1
    home = links(root / "site/index.html")
    assert any("/reprint-1.html" in h for h in home) and not any(f"/{newest.code}.html" in h for h in home)



def test_a_story_left_with_one_article_loses_its_page_and_badges(tmp_path):
    from tests.stories_eval import labelled_articles

    articles, truth = labelled_articles()
    pair = [a for a in articles if truth[a.code] == "t5-2"][:2]
    store = open_store(str(tmp_path / "a.db"))
    store.upsert(pair)
    site = sample_settings(tmp_path)
    build(store, site, tmp_path / "site")
    (story,) = store.story_articles()
    page = tmp_path / "site" / story_path(story).lstrip("/")
    home = lxml.html.fromstring((tmp_path / "site/index.html").read_bytes())
    assert page.exists() and len(home.cssselect("section.latest a.story")) == 1
    other = "<p>今天发生了另一件事情，与上一条毫无关系，内容也完全不一样。</p>"
    rewritten = Article(code=pair[1].code, title="完全不同的一条新闻", published=pair[1].published,
                        outlet=pair[1].outlet, body=other)
    store.upsert([rewritten])
    assert not store.story_articles()
    report = build(store, site, tmp_path / "site")
    assert not report.full and not page.exists()
    home = lxml.html.fromstring((tmp_path / "site/index.html").read_bytes())
    assert not home.cssselect("a.story") and len(home.cssselect("section.latest li")) == 2
    store.close()


def test_the_feed_has_one_entry_per_story_naming_its_outlets(reprinted):
    import feedparser

    _, store, _, root = reprinted
    parsed = feedparser.parse((root / "site/feed.xml").read_bytes())
    keys = {a.id: a.key for a in store.summaries()}
    ids = [entry.id.rsplit("/", 1)[-1].removesuffix(".html").removeprefix("NW") for entry in parsed.entries]
    stories = store.story_ids([keys[i] for i in ids])
    assert len(ids) == 50 and len({stories[keys[i]] for i in ids}) == 50
    noted = [e for e in parsed.entries if "家媒体报道：" in e.content[0].value]
    members = store.story_articles()
    expected = [i for i in ids if stories[keys[i]] in members
                and len({a.outlet for a in members[stories[keys[i]]]}) > 1]
    assert noted and len(noted) == len(expected)
