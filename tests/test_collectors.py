"""Several collectors on one PostgreSQL archive: every article once, no source polled by
two collectors at the same time, and a collector killed mid-run loses nothing."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections import defaultdict

import pytest

from finews.mocknews import MockNews, MockNewsServer, column_sources_toml
from finews.store import open_store
from tests.pg import fresh_postgres_url

ARTICLES, SOURCES, COLLECTORS = 5000, 20, 4


@pytest.fixture
def news():
    world = MockNews(columns=SOURCES)
    world.publish(ARTICLES)
    world.log = []
    server = MockNewsServer(world).start()
    world.url = server.url
    yield world
    server.stop()


def _config(root, name: str, mock: str, database: str) -> str:
    sources = column_sources_toml(mock, SOURCES, page_size=50, max_pages=10)
    path = root / f"{name}.toml"
    path.write_text(f"""
[archive]
database_url = "{database}"

[fetch]
min_interval = 0
retries = 1
backoff = 0.05
per_host_concurrency = 4
sources_at_once = 3
lease = "2s"
user_agent = "{name}"
{sources}""")
    return str(path)


def _collector(config: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "finews", "--config", config, "fetch"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _start_collectors(root, mock: str, database: str) -> list[subprocess.Popen]:
    return [_collector(_config(root, f"collector-{i}", mock, database)) for i in range(COLLECTORS)]


def _assert_no_source_polled_twice_at_once(log) -> None:
    spans: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for at, agent, subject in log:
        span = spans[subject].setdefault(agent, [at, at])
        span[0], span[1] = min(span[0], at), max(span[1], at)
    for subject, by_agent in spans.items():
        ordered = sorted(by_agent.values())
        for (_, end), (start, _) in itertools.pairwise(ordered):
            assert end < start, f"{subject} was polled by two collectors at once: {by_agent}"


def _assert_complete(url: str, news: MockNews) -> None:
    with open_store(url) as store:
        assert store.count() == ARTICLES
        assert {a.id for a in store.iter_articles()} == set(news.by_code)
        assert all(a.title and a.body for a in store.iter_articles())
        assert store.integrity_check() == "ok"


def test_four_collectors_store_every_article_once(news, tmp_path):
    with fresh_postgres_url() as url:
        open_store(url).close()
        collectors = _start_collectors(tmp_path, news.url, url)
        outputs = [c.communicate(timeout=300)[0] for c in collectors]
        assert [c.returncode for c in collectors] == [0] * COLLECTORS, outputs
        _assert_complete(url, news)
    agents = {agent for _, agent, _ in news.log}
    assert len(agents) > 1, "the work was shared"
    _assert_no_source_polled_twice_at_once(news.log)


def test_a_collector_killed_mid_run_loses_nothing(news, tmp_path):
    with fresh_postgres_url() as url:
        open_store(url).close()
        collectors = _start_collectors(tmp_path, news.url, url)
        deadline = time.monotonic() + 60
        while sum(agent == "collector-0" for _, agent, _ in news.log) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        collectors[0].send_signal(signal.SIGKILL)
        for c in collectors[1:]:
            c.communicate(timeout=300)
        assert collectors[0].wait() == -signal.SIGKILL
        with open_store(url) as store:
            assert store.integrity_check() == "ok"
            # whatever it had stored is whole; the others may already have taken over its
            # sources (a dead process's lease on this host is free at once) or left them
            assert {a.id for a in store.iter_articles()} <= set(news.by_code)
        time.sleep(2.5)  # leases of other hosts would expire by now
        rerun = _collector(_config(tmp_path, "collector-rerun", news.url, url))
        assert rerun.wait(timeout=300) == 0
        _assert_complete(url, news)
    _assert_no_source_polled_twice_at_once(news.log)
