"""Crash safety: `finews import`, `finews fetch` and `finews build` killed with SIGKILL at
random moments. After every kill the archive passes its integrity check and every article
is complete or absent; a rerun completes the work; the site after the next build is
identical to a clean full build.

FINEWS_KILL_COUNT sets the kills per command (default 5 here and in CI; 20 for the full
run: `FINEWS_KILL_COUNT=20 python -m pytest tests/test_kill.py`).
"""

from __future__ import annotations

import filecmp
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finews.mocknews import MockNews, MockNewsServer, column_sources_toml
from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store
from finews.transfer import jekyll
from tests.site.conftest import sample_settings

KILLS = int(os.environ.get("FINEWS_KILL_COUNT", "5"))
STYLE = jekyll.JekyllStyle(base_url="//news.example.com")


def _finews(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "finews", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_after(process: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL after ``seconds`` unless it finished first; whether it was killed."""
    try:
        process.wait(seconds)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def _assert_whole(db: Path, expected: dict[str, tuple[str, str]]) -> int:
    """Integrity, and every stored article exactly as its source had it."""
    with open_store(str(db)) as store:
        assert store.integrity_check() == "ok"
        count = 0
        for article in store.iter_articles():
            assert (article.title, article.body) == expected[article.code], article.code
            count += 1
        assert count == store.count()
        return count


def test_import_killed_at_random_moments(tmp_path):
    from bench.corpus import articles

    posts = tmp_path / "_posts"
    posts.mkdir()
    expected = {}
    for article in articles(3000, seed=3):
        (posts / jekyll.post_file_name(article, STYLE.tz)).write_text(jekyll.format_post(article, STYLE))
        expected[article.code] = (article.title, article.body)
    assert _finews("--database", "timed.db", "import", "jekyll", str(posts), cwd=tmp_path).wait() == 0
    started = time.perf_counter()  # the fastest import: all posts known already
    assert _finews("--database", "timed.db", "import", "jekyll", str(posts), cwd=tmp_path).wait() == 0
    fastest = time.perf_counter() - started  # kills land inside every import, however fast
    rng = random.Random(1)
    killed = 0
    for _ in range(KILLS):
        process = _finews("--database", "a.db", "import", "jekyll", str(posts), cwd=tmp_path)
        killed += _kill_after(process, rng.uniform(0.1, 0.9) * fastest)
        if (tmp_path / "a.db").exists():
            _assert_whole(tmp_path / "a.db", expected)
    assert killed >= KILLS // 2, "the kills came too late to test anything"
    assert _finews("--database", "a.db", "import", "jekyll", str(posts), cwd=tmp_path).wait() == 0
    assert _assert_whole(tmp_path / "a.db", expected) == len(expected)


@pytest.fixture
def news():
    world = MockNews(columns=4)
    world.publish(800)
    server = MockNewsServer(world).start()
    world.url = server.url
    yield world
    server.stop()


def test_fetch_killed_at_random_moments(tmp_path, news):
    sources = column_sources_toml(news.url, 4, page_size=50, max_pages=100)
    (tmp_path / "finews.toml").write_text(f"[fetch]\nmin_interval = 0\nretries = 1\n{sources}")
    rng = random.Random(2)
    killed = 0
    for _ in range(KILLS):
        # new work for every run, so that each kill lands mid-pass: 600 articles take 1.3 s
        # to fetch on a fast day here (120 took 0.6 s, the start-up mostly, and escaped the kill)
        news.publish(600)
        killed += _kill_after(_finews("fetch", cwd=tmp_path), rng.uniform(0.3, 1.2))
        if (tmp_path / "finews.db").exists():
            with open_store(str(tmp_path / "finews.db")) as store:
                assert store.integrity_check() == "ok"
                for article in store.iter_articles():
                    source = news.by_code[article.code]
                    assert article.title == source.title
                    assert all(p[:20] in article.body for p in source.paragraphs), article.code
    assert killed >= KILLS // 2
    assert _finews("fetch", cwd=tmp_path).wait() == 0
    with open_store(str(tmp_path / "finews.db")) as store:
        assert store.count() == len(news.articles)


def test_build_killed_at_random_moments_then_equals_a_clean_build(tmp_path):
    from bench.corpus import articles

    with open_store(str(tmp_path / "finews.db")) as store:
        store.upsert(articles(1500, seed=4))
    (tmp_path / "finews.toml").write_text('[site]\nbase_url = "https://news.example.com"\n')
    assert _finews("build", "--no-search", "--out", "timed", cwd=tmp_path).wait() == 0
    started = time.perf_counter()  # the fastest full build: one over a complete site
    assert _finews("build", "--no-search", "--full", "--out", "timed", cwd=tmp_path).wait() == 0
    full_build = time.perf_counter() - started  # kills land inside a full build, however fast
    rng = random.Random(3)
    killed = 0
    for i in range(KILLS):
        full = ["--full"] if i % 2 == 0 else []  # every other build is incremental
        process = _finews("build", "--no-search", *full, cwd=tmp_path)
        killed += _kill_after(process, rng.uniform(0.1, 0.8) * full_build)
        if rng.random() < 0.5:  # news arrives between some of the kills
            with open_store(str(tmp_path / "finews.db")) as store:
                store.upsert(articles(3, seed=int(time.time() * 1000) % 10**6,
                                      start=store.summaries(limit=1)[0].published))
    assert killed >= KILLS // 2
    assert _finews("build", "--no-search", cwd=tmp_path).wait() == 0
    settings = sample_settings(tmp_path)
    with open_store(str(tmp_path / "finews.db")) as store:
        SiteBuilder(store, settings, BuildOptions(out=tmp_path / "clean", search=False, full=True)).build()
    _assert_same_tree(tmp_path / "_site", tmp_path / "clean")


def _assert_same_tree(left: Path, right: Path) -> None:
    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".finews" not in p.parts}

    assert files(left) == files(right)
    for name in files(left):
        assert filecmp.cmp(left / name, right / name, shallow=False), name
