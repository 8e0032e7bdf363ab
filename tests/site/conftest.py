from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from finews.config import parse_settings
from finews.model import BEIJING
from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store
from finews.transfer import jekyll
from tests.conftest import DATA, make_article

HOSTILE_BODY = (
    '<p>正文<script>alert("x")</script><img src="x.png" onerror="alert(1)">'
    '<a href="javascript:alert(1)">链接</a><iframe src="https://evil.test"></iframe></p>'
)


def sample_settings(root: Path, **build):
    return parse_settings({"site": {"base_url": "https://news.example.com"}, "build": build}, root)


def fill(store, n: int = 30, start: int = 0) -> None:
    """The 15 sample posts plus n generated articles over three outlets and a few days."""
    style = jekyll.JekyllStyle(base_url="//finews.withounder.com")
    if start == 0:
        jekyll.import_posts(store, [DATA / "jekyll-posts"], style)
    outlets = ["南方都市报", "上海证券报", "21世纪经济报道"]
    base = datetime(2025, 3, 10, 9, 0, tzinfo=BEIJING)
    store.upsert([
        make_article(
            i, outlet=outlets[i % 3], tags=[f"{outlets[i % 3]}新闻", "芯片" if i % 2 else "降息"],
            published=base + timedelta(hours=7 * i),
            title=f'标题{i} "引号" <script>alert({i})</script>' if i == 3 else f"第{i}条 芯片新闻",
            body=HOSTILE_BODY if i == 3 else f"<p>第{i}条正文，关于芯片与降息。</p>",
        )
        for i in range(start, start + n)
    ])


REVISED = 7
"""The generated article that ``revise`` changes three times."""


def revise(store) -> None:
    """Change one generated article three times, as an outlet's desk edits a story."""
    base = datetime(2025, 3, 10, 9, 0, tzinfo=BEIJING)
    for edit, (title, body) in enumerate([
        ("第7条 芯片新闻（更新）", "<p>第7条正文，关于芯片与降息。据悉，规模约50亿元。</p>"),
        ("第7条 芯片新闻（更新）", "<p>第7条正文，关于芯片与降息。据悉，规模约80亿元。</p>"),
        ("第7条 芯片新闻（二次更新）", "<p>第7条正文，关于芯片。据悉，规模约80亿元，下周公布细则。</p>"),
    ]):
        store.upsert([make_article(REVISED, outlet="上海证券报", tags=["上海证券报新闻", "芯片"],
                                   published=base + timedelta(hours=7 * REVISED), title=title,
                                   body=body, digest=f"第{edit + 1}版")])


def site_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and ".finews" not in p.parts and "search" not in p.parts}


def build(store, settings, out: Path, **options) -> object:
    return SiteBuilder(store, settings, BuildOptions(out=out, search=False, **options)).build()


@pytest.fixture
def site(tmp_path):
    store = open_store(str(tmp_path / "archive.db"))
    fill(store)
    settings = sample_settings(tmp_path)
    out = tmp_path / "site"
    report = build(store, settings, out)
    yield store, settings, out, report
    store.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
                      **http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".wasm": "application/wasm"}

    def log_message(self, *args):
        pass


@contextmanager
def static_site(folder: Path) -> Iterator[str]:
    """The built site on a plain static file server on 127.0.0.1: its base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
