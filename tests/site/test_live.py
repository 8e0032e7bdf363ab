"""The 7×24 stream: /live.html and latest.json as built, and in real headless Chromium a
stored article arriving without a reload, pushed under `finews serve` and polled on a
static host, without moving what the reader looks at."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import lxml.html
import pytest

from finews.follow import IMPORTANT
from finews.model import BEIJING
from finews.serve.app import BackgroundServer, create_app
from finews.store import open_store
from tests.conftest import make_article
from tests.site.conftest import build, sample_settings, static_site
from tests.site.test_browser import CHROMIUM, browser  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(not CHROMIUM, reason="no chromium")


def _articles(start: int, n: int, base: datetime) -> list:
    return [make_article(i, title=f"快讯{i}：央行开展逆回购操作", digest=f"第{i}条消息，央行今日开展逆回购。",
                         body=f"<p>第{i}条消息的正文。</p>", published=base + timedelta(minutes=45 * i),
                         importance=IMPORTANT if i % 5 == 0 else 0)
            for i in range(start, start + n)]


@pytest.fixture
def site(tmp_path):
    settings = sample_settings(tmp_path)
    settings.site.base_url = ""
    settings.archive.database_url = str(tmp_path / "a.db")
    store = open_store(settings.archive_url)
    base = datetime.now(BEIJING).replace(second=0, microsecond=0) - timedelta(hours=48)
    store.upsert(_articles(0, 60, base))
    build(store, settings, tmp_path / "site")
    yield store, settings, tmp_path / "site", base
    store.close()


def test_the_live_page_lists_the_newest_by_day_and_latest_json_is_small(site):
    store, _, out, _ = site
    newest = store.summaries(limit=200)
    page = lxml.html.fromstring((out / "live.html").read_bytes())
    keys = [li.get("data-key") for li in page.cssselect("ol.live li")]
    assert keys == [str(a.key) for a in newest]
    days = [s.get("data-day") for s in page.cssselect("section.live-day")]
    assert days == sorted(set(days), reverse=True) and len(days) >= 2
    red = {li.get("data-key") for li in page.cssselect("ol.live li.important")}
    assert red == {str(a.key) for a in newest if int(a.code[-4:]) % 5 == 0}
    latest = (out / "latest.json").read_bytes()
    data = json.loads(latest)
    assert len(latest) <= 10_000 and "live" not in data
    assert [i["key"] for i in data["items"]] == keys[: len(data["items"])] and len(data["items"]) >= 20


def _watch(page):
    """Mark the document: a reload would lose the mark."""
    page.evaluate("window.__stayed = true")
    page.evaluate("window.scrollTo(0, 400)")
    return page.evaluate("document.elementFromPoint(20, 300).closest('li').dataset.key")


def _arrived(page, key: int, anchored: str, timeout: float) -> float:
    started = time.perf_counter()
    page.locator(f'li[data-key="{key}"]').wait_for(timeout=timeout * 1000)
    seconds = time.perf_counter() - started
    assert page.evaluate("window.__stayed === true"), "the page reloaded"
    still = page.evaluate("document.elementFromPoint(20, 300).closest('li').dataset.key")
    assert still == anchored, "what the reader looked at moved"
    assert page.locator("ol.live li").first.get_attribute("data-key") == str(key)
    return seconds


def test_under_serve_a_stored_article_is_pushed_within_a_second(browser, site):  # noqa: F811
    store, settings, out, base = site
    server = BackgroundServer(create_app(settings, out), "127.0.0.1", 0)
    server.start()
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"http://127.0.0.1:{server.port}/live.html")
        page.wait_for_function("document.querySelector('#live')")
        time.sleep(0.5)  # the script has read latest.json and opened the stream
        anchored = _watch(page)
        (new,) = _articles(60, 1, base)
        store.upsert([new])
        seconds = _arrived(page, store.get(new.id).key, anchored, timeout=5)
        assert seconds < 1.5, f"{seconds:.2f} s from storing to the page"
        assert errors == []
        page.close()
    finally:
        server.stop()


def test_on_a_static_host_the_page_polls_latest_json(browser, site):  # noqa: F811
    store, settings, out, base = site
    with static_site(out) as site_url:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{site_url}/live.html?poll=2")
        anchored = _watch(page)
        (new,) = _articles(61, 1, base)
        store.upsert([new])
        build(store, settings, out)
        _arrived(page, store.get(new.id).key, anchored, timeout=10)
        assert errors == []
        page.close()


def test_under_serve_the_search_page_asks_the_archive_and_finds_exactly_the_matches(browser, site):  # noqa: F811
    from finews.site.build import BuildOptions, SiteBuilder

    store, settings, out, _ = site
    SiteBuilder(store, settings, BuildOptions(out=out, search=True)).build()
    expected = {f"/{a.category}/{a.published.astimezone(BEIJING):%Y/%m/%d}/{a.code}.html"
                for a in store.iter_articles() if "逆回购" in a.search_text and "第1" in a.search_text}
    server = BackgroundServer(create_app(settings, out), "127.0.0.1", 0)
    server.start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.port}/search.html?q=逆回购 第1")
        page.locator("#search-results li").first.wait_for(timeout=10000)
        shown = {a.get_attribute("href") for a in page.locator("#search-results li > a").all()}
        assert shown == expected and len(expected) >= 10
        assert page.locator("#search-status").inner_text() == f"“逆回购 第1”：{len(expected)} 条结果"
        assert page.locator("#search-results mark").count() >= len(expected)
        page.close()
    finally:
        server.stop()
