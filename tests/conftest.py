from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from finews.model import BEIJING, Article

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


def make_article(n: int, **overrides) -> Article:
    """A small valid article; n varies its id and time."""
    fields = {
        "code": f"NW2025031{n:013d}",
        "title": f"测试标题 {n}",
        "published": datetime(2025, 3, 12, 9, 0, tzinfo=BEIJING) + timedelta(minutes=n),
        "outlet": "南方都市报",
        "tags": ["南方都市报新闻"],
        "body": f"<p>正文 {n}</p>",
        "url": f"https://finance.eastmoney.com/a/2025031{n:013d}.html",
        "source": "test",
    }
    fields.update(overrides)
    return Article(**fields)


@pytest.fixture
def mock_news():
    """A real HTTP server on 127.0.0.1 serving tests/data like Eastmoney and feed hosts."""
    from finews.mocknews import FixtureNews, MockNewsServer

    fixtures = FixtureNews(DATA)
    server = MockNewsServer(fixtures).start()
    fixtures.base = server.url
    yield fixtures
    server.stop()


def settings_for(toml_text: str, root: Path):
    import tomllib

    from finews.config import parse_settings

    return parse_settings(tomllib.loads(toml_text), root)


def collect_companies(root: Path):
    """A mock Eastmoney of 200 articles naming companies (listed, linked, in text) over a
    flash list and two columns, collected into ``root/a.db``: (the mock world, the store)."""
    import asyncio

    from finews.collect import Collector
    from finews.mocknews import MockNews, MockNewsServer, overlap_sources_toml
    from finews.store import open_store

    world = MockNews(columns=2, seed=4, overlap=True, stocks=True)
    world.publish(200)
    server = MockNewsServer(world).start()
    try:
        settings = settings_for("[fetch]\nmin_interval = 0\nretries = 1\n" + overlap_sources_toml(
            server.url, 2, page_size=50, max_pages=10, flash_full_text="always", legacy_count=1000),
            root)
        store = open_store(str(root / "a.db"))
        asyncio.run(Collector(store, settings).run(settings.sources))
    finally:
        server.stop()
    return world, store
