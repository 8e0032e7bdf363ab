"""`finews demo` as a newcomer runs it: a real process, opened in a real headless browser."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.site.test_browser import CHROMIUM, browser  # noqa: F401 - the shared browser fixture

pytestmark = pytest.mark.skipif(
    not __import__("pathlib").Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


@pytest.fixture
def demo(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "finews", "demo", "--port", "0", "--every", "1", "--no-search",
         "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    url = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
        if match:
            url = match.group(1)
            break
        assert process.poll() is None, f"demo exited: {line}"
    assert url, "the demo printed no URL"
    yield url, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(20)


def test_demo_serves_a_site_where_articles_arrive(demo, browser):  # noqa: F811
    url, process = demo
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(url)
    page.locator("section.latest li").first.wait_for(timeout=20000)
    first_titles = page.locator("section.latest li").all_inner_texts()
    assert len(first_titles) >= 20
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(1.5)
        page.reload()
        titles = page.locator("section.latest li").all_inner_texts()
        if titles[0] != first_titles[0]:
            break
    assert titles[0] != first_titles[0], "no new article arrived"
    page.click("section.latest li a >> nth=0")
    assert page.locator("article h1").is_visible()
    api = httpx.get(url + "api/articles?limit=5").json()
    assert len(api["articles"]) == 5
    page.close()
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0
    assert "Stopped." in process.stdout.read()


def test_the_demos_news_reads_as_news_and_follows_todays_clock():
    import re
    from datetime import datetime, timedelta

    from finews.mocknews import HEADLINES, SENTENCES, MockNews
    from finews.model import BEIJING

    def pattern(templates):
        return re.compile("|".join(re.sub(r"\\\{\w+\\\}", ".+?", re.escape(t)) for t in templates))

    headline, sentence = pattern(HEADLINES), pattern(SENTENCES)
    now = datetime.now(BEIJING)
    news = MockNews(columns=2, stocks=True, readable=True, follow_clock=True,
                    start=now - timedelta(minutes=90))
    news.publish(120)
    news.publish(40)
    assert all(headline.fullmatch(a.title) for a in news.articles)
    assert all(sentence.match(a.paragraphs[1]) for a in news.articles)
    assert all(a.published <= datetime.now(BEIJING) for a in news.articles)
    assert news.articles[-1].published.date() == datetime.now(BEIJING).date() or now.hour == 0
