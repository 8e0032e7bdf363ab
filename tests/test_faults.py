"""Faults from sources, each against a real server on 127.0.0.1: a clear error for that
source, the other source unharmed, nothing partial stored, memory bounded."""

from __future__ import annotations

import asyncio
import resource
import socket
import struct
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from finews.collect import Collector
from finews.config import FetchConfig, Settings, SourceSettings
from finews.store import open_store

GOOD_FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>好源</title>'
    "<link>http://127.0.0.1/</link>"
    + "".join(f"<item><title>好文章{i}</title><link>http://127.0.0.1/good/{i}</link><guid>good-{i}</guid>"
              f"<description>{'正文' * 80}{i}</description></item>" for i in range(5))
    + "</channel></rss>"
)


def _raw_server(handler) -> tuple[str, threading.Event]:
    """A TCP server on 127.0.0.1 that hands each connection to ``handler``."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handler, args=(conn, stop), daemon=True).start()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", stop


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        if stop.is_set():
            break
        try:
            conn.sendall(b" ")
        except OSError:
            break
        time.sleep(1)
    conn.close()


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _run(tmp_path, bad: SourceSettings, good_url: str, **fetch) -> tuple[dict, int, int]:
    settings = Settings(root=tmp_path)
    settings.fetch = FetchConfig(min_interval=0, retries=1, backoff=0.05, connect_timeout=2,
                                 read_timeout=2, total_timeout=3, robots=False, **fetch)
    settings.sources = [bad, SourceSettings(name="good", kind="feed", url=good_url, full_text="never")]
    with open_store(str(tmp_path / "a.db")) as store:
        reports = asyncio.run(Collector(store, settings).run(settings.sources))
        by_source = {r.name: r for r in reports}
        bad_stored = sum(1 for a in store.iter_articles() if a.source == "bad")
        good_stored = sum(1 for a in store.iter_articles() if a.source == "good")
        assert store.integrity_check() == "ok"
    return by_source, bad_stored, good_stored


@pytest.fixture
def good(httpserver):
    httpserver.expect_request("/good.xml").respond_with_data(GOOD_FEED, content_type="application/rss+xml")
    return httpserver.url_for("/good.xml")


def _columns(url: str) -> SourceSettings:
    return SourceSettings(name="bad", kind="eastmoney-columns", url=url, max_pages=2,
                          article_url=url.rsplit("/", 1)[0] + "/a/{code}.html")


def _assert_contained(result, message: str) -> None:
    reports, bad_stored, good_stored = result
    assert not reports["bad"].ok and message in reports["bad"].error, reports["bad"].error
    assert reports["good"].ok and good_stored == 5
    assert bad_stored == 0


def test_a_server_sending_one_byte_per_second(tmp_path, good):
    url, stop = _raw_server(_trickle)
    started = time.monotonic()
    try:
        _assert_contained(_run(tmp_path, _columns(url + "/list"), good), "timed out")
    finally:
        stop.set()
    assert time.monotonic() - started < 20


def test_connections_reset(tmp_path, good):
    url, stop = _raw_server(_reset)
    try:
        _assert_contained(_run(tmp_path, _columns(url + "/list"), good), "connection failed")
    finally:
        stop.set()


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"<!DOCTYPE html><html><body>Service Unavailable</body></html>", "text/html", "not JSON"),
    (b'{"code": "1", "data": {"list": [{"code": "2025', "application/json", "not JSON"),
    (b"\xff\xfe\xfa{\"code\": \"1\", \"data\": {\"li\xc3\x28st\": []}}", "application/json", ""),
])
def test_wrong_broken_or_undecodable_bodies(tmp_path, good, httpserver, body, content_type, message):
    httpserver.expect_request("/list").respond_with_data(body, content_type=content_type)
    reports, bad_stored, good_stored = _run(tmp_path, _columns(httpserver.url_for("/list")), good)
    assert not reports["bad"].ok and message in reports["bad"].error and reports["bad"].error
    assert reports["good"].ok and good_stored == 5 and bad_stored == 0


def test_a_ten_megabyte_line_without_a_newline(tmp_path, good, httpserver):
    line = b"x" * (10 * 1024 * 1024 + 1)
    httpserver.expect_request("/list").respond_with_data(line, content_type="application/json")
    _assert_contained(_run(tmp_path, _columns(httpserver.url_for("/list")), good, max_bytes=1024 * 1024),
                      "larger than 1 MB")


def test_redirect_loops(tmp_path, good, httpserver):
    httpserver.expect_request("/list").respond_with_data("", status=302, headers={"Location": "/loop"})
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/list"})
    _assert_contained(_run(tmp_path, _columns(httpserver.url_for("/list")), good), "too many redirects")


def test_a_redirect_to_another_site(tmp_path, good, httpserver):
    url = httpserver.url_for("/list")
    host = "localhost" if "localhost" in url else "127.0.0.1"
    elsewhere = url.replace(host, "127.0.0.1" if host == "localhost" else "localhost")
    httpserver.expect_request("/list").respond_with_data("", status=301, headers={"Location": elsewhere})
    _assert_contained(_run(tmp_path, _columns(url), good), "redirected to another site")


def test_a_feed_of_100000_items_keeps_memory_bounded(tmp_path, good, httpserver):
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>条目{i}</title><link>http://127.0.0.1/x/{i}</link><guid>x{i}</guid>"
        f"<pubDate>{(now - timedelta(seconds=i)):%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
        for i in range(100_000)
    )
    httpserver.expect_request("/huge.xml").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>大</title>{items}</channel></rss>',
        content_type="application/rss+xml")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bad = SourceSettings(name="bad", kind="feed", url=httpserver.url_for("/huge.xml"), full_text="never")
    _assert_contained(_run(tmp_path, bad, good), "larger than 10 MB")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, f"peak memory grew by {grown_mb:.0f} MB"
