"""`finews demo`: the whole pipeline offline, against a mock news server on 127.0.0.1.

A mock server publishes generated articles in Eastmoney's formats and keeps publishing;
a `finews run` loop collects them into a fresh archive, rebuilds the site after every
pass, and the server shows it, so new articles appear on the page within seconds.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

from finews.app import Pipeline, build_options
from finews.config import FetchConfig, Settings, SourceSettings
from finews.mocknews import MockNews, MockNewsServer
from finews.model import BEIJING

INITIAL_ARTICLES = 120


def demo_settings(root: Path, mock_url: str, interval: int) -> Settings:
    """Three sources like the original site's, pointed at the mock server."""
    settings = Settings(root=root)
    settings.site.title = "金融消息 · 演示"
    settings.archive.database_url = str(root / "archive.db")
    settings.build.out = str(root / "_site")
    settings.fetch = FetchConfig(min_interval=0, retries=1, backoff=0.2)
    common = {"interval": f"{interval}s", "article_url": f"{mock_url}/a/{{code}}.html"}
    settings.sources = [
        SourceSettings(name="demo-724", kind="eastmoney-fastnews",
                       url=f"{mock_url}/comm/web/getFastNewsList", outlet="东财滚动",
                       category="emnews", tags=["东财滚动新闻"], max_pages=3, **common),
        SourceSettings(name="demo-yaowen", kind="eastmoney-columns",
                       url=f"{mock_url}/comm/web/getNewsByColumns", params={"column": "0"},
                       max_pages=3, **common),
        SourceSettings(name="demo-cjzc", kind="eastmoney-columns",
                       url=f"{mock_url}/comm/web/getNewsByColumns", params={"column": "1"},
                       max_pages=3, **common),
    ]
    return settings


class Demo:
    """Mock news, collector, builder and server, started and stopped together."""

    def __init__(self, root: Path, *, host: str, port: int, interval: int = 5,
                 new_per_interval: int = 2, search: bool = True):
        self.root = root
        self.interval = interval
        self.new_per_interval = new_per_interval
        self.news = MockNews(columns=2, stocks=True, readable=True, follow_clock=True,
                             start=datetime.now(BEIJING) - timedelta(minutes=90))
        self.news.publish(INITIAL_ARTICLES)
        self.mock = MockNewsServer(self.news)
        self.stopping = threading.Event()
        self.host, self.port = host, port
        self.search = search
        self.pipeline: Pipeline | None = None
        self.publisher = threading.Thread(target=self._keep_publishing, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def _keep_publishing(self) -> None:
        while not self.stopping.wait(self.interval):
            self.news.publish(self.new_per_interval)

    def run(self, on_ready, on_pass) -> None:
        """Blocks until SIGINT/SIGTERM (or ``stop``)."""
        self.mock.start()
        settings = demo_settings(self.root, self.mock.url, self.interval)
        options = build_options(settings, search=self.search)
        options.refresh_minutes = 1
        self.pipeline = Pipeline(settings, options, max_sleep=1.0, on_pass=on_pass)

        def serving(port: int) -> None:
            self.port = port
            self.publisher.start()
            on_ready(self)

        try:
            self.pipeline.run(serve_at=(self.host, self.port), warm_up=True, on_serving=serving)
        finally:
            self.stopping.set()
            self.mock.stop()

    def stop(self) -> None:
        self.stopping.set()
        if self.pipeline is not None:
            self.pipeline.stop()
