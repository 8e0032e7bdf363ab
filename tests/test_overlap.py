"""Nothing lost when sources overlap, as they do on the real site: the mock world lists a
share of its stories in several lists at once (flash and column under one code, rolling and
outlet lists under the plain and the NW code, the feed), and records what it published.
Every pass is checked against that record: nothing missed, nothing twice, every article
under its own outlet, one body request per new article."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time

import httpx
import pytest

from finews.collect import Collector
from finews.mocknews import ROLLING_OUTLET, MockNews, MockNewsServer, overlap_sources_toml
from finews.serve.app import BackgroundServer, create_app
from finews.store import open_store
from tests.conftest import settings_for

COLUMNS = 3
PAGE_SIZE = 20


@pytest.fixture
def world():
    news = MockNews(columns=COLUMNS, seed=11, overlap=True)
    server = MockNewsServer(news).start()
    news.url = server.url
    yield news
    server.stop()


def _settings(world, tmp_path, *, max_pages=20, flash_full_text="always", at_once=16):
    sources = overlap_sources_toml(world.url, COLUMNS, page_size=PAGE_SIZE, max_pages=max_pages,
                                   flash_full_text=flash_full_text, legacy_count=1000)
    fetch = f"[fetch]\nmin_interval = 0\nretries = 1\nbackoff = 0.01\nsources_at_once = {at_once}\n"
    return settings_for(fetch + sources, tmp_path)


def _pass(settings, db, order=None):
    """One pass over the sources, in ``order`` (names) when given, else all at once."""
    sources = settings.sources
    if order:
        sources = sorted(sources, key=lambda s: order.index(s.name))
    with open_store(str(db)) as store:
        return {r.name: r for r in asyncio.run(Collector(store, settings).run(sources))}


def _missed_duplicated_misfiled(world, db) -> tuple[int, int, int]:
    with open_store(str(db)) as store:
        articles = list(store.iter_articles())
    stored = {a.id: a for a in articles}
    missed = sum(a.code not in stored for a in world.articles)
    duplicated = len(articles) - len(stored)
    misfiled = sum(
        stored[a.code].outlet != (a.outlet if a.names_outlet else ROLLING_OUTLET)
        for a in world.articles if a.code in stored
    )
    return missed, duplicated, misfiled


def _assert_complete(world, db, body_requests_expected: int) -> None:
    assert _missed_duplicated_misfiled(world, db) == (0, 0, 0)
    assert sum(world.bodies.values()) == body_requests_expected
    assert max(world.bodies.values(), default=0) <= 1


def _names(settings) -> list[str]:
    return [s.name for s in settings.sources]


def test_the_world_really_overlaps(world):
    world.publish(400)
    shared = [a for a in world.articles if len(a.lists) > 1]
    assert len(shared) > 150
    assert any({"flash", "rolling"} <= a.lists and a.names_outlet for a in shared)
    assert any(not a.names_outlet for a in world.articles)


@pytest.mark.parametrize("order", ["together", "forward", "backward", "rolling first", "shuffled"])
def test_a_cold_pass_in_any_order_misses_nothing(world, tmp_path, order):
    world.publish(150)
    settings = _settings(world, tmp_path, at_once=1 if order != "together" else 16)
    names = _names(settings)
    orders = {"together": None, "forward": names, "backward": names[::-1],
              "rolling first": ["flash", "rolling", *[n for n in names if n not in ("flash", "rolling")]],
              "shuffled": random.Random(5).sample(names, len(names))}
    reports = _pass(settings, tmp_path / "a.db", orders[order])
    assert all(r.ok for r in reports.values()), {n: r.error for n, r in reports.items()}
    _assert_complete(world, tmp_path / "a.db", len(world.articles))


@pytest.mark.parametrize("order", ["together", "forward", "backward"])
def test_a_burst_larger_than_a_page_of_every_list_misses_nothing(world, tmp_path, order):
    world.publish(60)
    settings = _settings(world, tmp_path, at_once=1 if order != "together" else 16)
    names = _names(settings)
    chosen = {"together": None, "forward": names, "backward": names[::-1]}[order]
    _pass(settings, tmp_path / "a.db", chosen)
    world.bodies.clear()
    world.publish(300)
    reports = _pass(settings, tmp_path / "a.db", chosen and chosen[::-1])
    assert all(r.ok and not r.gap for r in reports.values())
    _assert_complete(world, tmp_path / "a.db", 300)


def test_bodies_are_fetched_once_when_the_rolling_copy_has_only_a_summary(world, tmp_path):
    """The flash list, polled first, keeps its summary; an outlet's copy taking over
    fetches the full text once. A story the flash list stored costs no other body request
    (the rolling list's copy does not replace it), nor does one only the flash list has."""
    world.publish(150)
    settings = _settings(world, tmp_path, flash_full_text="never", at_once=1)
    _pass(settings, tmp_path / "a.db", ["flash", *[n for n in _names(settings) if n != "flash"]])
    fetched = sum(a.names_outlet or "flash" not in a.lists for a in world.articles)
    _assert_complete(world, tmp_path / "a.db", fetched)
    with open_store(str(tmp_path / "a.db")) as store:
        for article in world.articles:
            if article.names_outlet:
                assert article.paragraphs[-1][:20] in store.get(article.code).body


def test_a_failed_pass_then_a_recovery_pass_misses_nothing(world, tmp_path):
    world.publish(60)
    settings = _settings(world, tmp_path)
    _pass(settings, tmp_path / "a.db")
    world.bodies.clear()
    world.publish(300)
    world.break_list("flash", times=1, from_page=2)
    world.break_list("column-0", times=1, from_page=1)
    reports = _pass(settings, tmp_path / "a.db")
    assert not reports["flash"].ok and not reports["column-0"].ok
    assert "flash" in reports and reports["rolling"].ok
    reports = _pass(settings, tmp_path / "a.db")
    assert all(r.ok for r in reports.values()), {n: r.error for n, r in reports.items()}
    _assert_complete(world, tmp_path / "a.db", 300)


def test_a_rolling_copy_stored_in_an_earlier_pass_moves_to_its_outlet(world, tmp_path):
    world.publish(120)
    settings = _settings(world, tmp_path)
    rolling_only = [s for s in settings.sources if s.name in ("flash", "rolling")]
    with open_store(str(tmp_path / "a.db")) as store:
        asyncio.run(Collector(store, settings).run(rolling_only))
        moved = [a for a in world.articles if a.names_outlet and a.lists & {"flash", "rolling"}]
        assert moved and all(store.get(a.code).outlet == ROLLING_OUTLET for a in moved)
    requests_before = sum(world.bodies.values())
    _pass(settings, tmp_path / "a.db")
    _assert_complete(world, tmp_path / "a.db", len(world.articles))
    assert sum(world.bodies.values()) == requests_before + sum(
        not a.lists & {"flash", "rolling"} for a in world.articles)
    with open_store(str(tmp_path / "a.db")) as store:
        for article in moved:
            stored = store.get(article.code)
            assert stored.category != "emnews"
            assert ("emnews", stored.code) in store.article_aliases(article.code) or any(
                category == "emnews" for category, _ in store.article_aliases(article.code))


def test_a_burst_beyond_max_pages_reports_the_gap(world, tmp_path):
    world.publish(60)
    settings = _settings(world, tmp_path, max_pages=3)
    _pass(settings, tmp_path / "a.db")
    world.publish(300)
    reports = _pass(settings, tmp_path / "a.db")
    gap = reports["flash"].gap
    assert gap.startswith("gap: stopped at page 3 (max_pages) of about ")
    assert "may be missing" in gap
    with open_store(str(tmp_path / "a.db")) as store:
        assert store.source_health("flash")[0].gap == gap
    (tmp_path / "finews.toml").write_text(
        overlap_sources_toml(world.url, COLUMNS, page_size=PAGE_SIZE, max_pages=3))
    shown = subprocess.run([sys.executable, "-m", "finews", "--database", "a.db", "sources", "--json"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    assert {row["name"]: row["gap"] for row in json.loads(shown.stdout)}["flash"] == gap
    settings.archive.database_url = str(tmp_path / "a.db")
    server = BackgroundServer(create_app(settings, tmp_path / "site"), "127.0.0.1", 0)
    server.start()
    try:
        api = httpx.get(f"http://127.0.0.1:{server.port}/api/sources").json()
    finally:
        server.stop()
    assert {row["name"]: row["gap"] for row in api}["flash"] == gap


def test_a_killed_pass_then_a_new_pass_misses_nothing(world, tmp_path):
    world.publish(60)
    (tmp_path / "finews.toml").write_text(
        "[fetch]\nmin_interval = 0\nretries = 1\n"
        + overlap_sources_toml(world.url, COLUMNS, page_size=PAGE_SIZE, max_pages=50,
                               flash_full_text="always", legacy_count=5000))
    fetch = [sys.executable, "-m", "finews", "fetch"]
    assert subprocess.run(fetch, cwd=tmp_path, capture_output=True).returncode == 0
    rng = random.Random(8)
    killed = 0
    for _ in range(3):
        world.publish(400)
        stored_before = len(world.bodies)
        process = subprocess.Popen(fetch, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while len(world.bodies) < stored_before + rng.randint(20, 200) and process.poll() is None:
            time.sleep(0.01)  # kill in the middle of the bodies, however fast the machine
        killed += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert killed == 3
    world.bodies.clear()
    assert subprocess.run(fetch, cwd=tmp_path, capture_output=True).returncode == 0
    assert _missed_duplicated_misfiled(world, tmp_path / "finews.db") == (0, 0, 0)
    assert max(world.bodies.values(), default=0) <= 1
