"""The HTTP layer against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest
from werkzeug import Response

from finews.config import FetchConfig
from finews.errors import FetchError, ParseError
from finews.fetch import Fetcher, decode, parse_jsonish

FAST = FetchConfig(min_interval=0, backoff=0.01, retries=2, read_timeout=2, total_timeout=5)


def get(url, settings=FAST, **kwargs):
    async def go():
        async with Fetcher(settings, **{k: v for k, v in kwargs.items() if k in ("sleep",)}) as f:
            response = await f.get(url, **{k: v for k, v in kwargs.items() if k != "sleep"})
            return response, f

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('jQuery35107761431022491457_1741766702345({"a": [1]})', {"a": [1]}),
        ('cb({"a": "x"});', {"a": "x"}),
        ('var ajaxResult={"rc":1,"LivesList":[]};', {"rc": 1, "LivesList": []}),
        ("\ufeff  [1, 2]  ", [1, 2]),
    ],
)
def test_json_jsonp_and_js_assignments(text, expected):
    assert parse_jsonish(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("<html><body>blocked</body></html>", r"not JSON \(starts with '<html>"),
     ('{"records": [1, 2', "not JSON"), ("", "empty response")],
)
def test_not_json_is_a_clear_error(text, message):
    with pytest.raises(ParseError, match=message):
        parse_jsonish(text, "http://x/list")


def test_charsets():
    gbk = "沪指收涨".encode("gbk")
    assert decode(gbk, "text/html; charset=GBK") == "沪指收涨"
    assert decode(b'<?xml version="1.0" encoding="GBK"?><a>' + gbk + b"</a>", "").endswith(
        "沪指收涨</a>"
    )
    assert decode(b'<meta charset="gb2312">' + gbk) == '<meta charset="gb2312">沪指收涨'
    assert decode(gbk) == "沪指收涨"  # undeclared and not UTF-8: GB18030
    assert decode("沪指".encode()) == "沪指"


def test_honest_user_agent(httpserver):
    httpserver.expect_request("/ua").respond_with_handler(
        lambda r: Response(r.headers.get("User-Agent", ""))
    )
    response, _ = get(httpserver.url_for("/ua"))
    assert response.text.startswith("finews/")


def test_500_then_success_is_retried(httpserver):
    calls = []

    def flaky(request):
        calls.append(1)
        return Response("oops", status=500) if len(calls) < 3 else Response('{"ok": 1}')

    httpserver.expect_request("/flaky").respond_with_handler(flaky)
    response, fetcher = get(httpserver.url_for("/flaky"))
    assert response.json() == {"ok": 1}
    assert fetcher.requests == 3


def test_429_honours_retry_after(httpserver):
    calls = []
    waits = []

    def limited(request):
        calls.append(1)
        if len(calls) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "7"})
        return Response("{}")

    async def record(seconds):
        waits.append(seconds)

    httpserver.expect_request("/limited").respond_with_handler(limited)
    get(httpserver.url_for("/limited"), sleep=record)
    assert waits == [7.0]


def test_retry_after_beyond_the_limit_gives_up(httpserver):
    httpserver.expect_request("/limited").respond_with_data(
        "", status=429, headers={"Retry-After": "86400"}
    )
    with pytest.raises(FetchError, match="too long to wait"):
        get(httpserver.url_for("/limited"))


def test_404_is_not_retried(httpserver):
    httpserver.expect_request("/gone").respond_with_data("", status=404)
    with pytest.raises(FetchError, match="HTTP 404"):
        get(httpserver.url_for("/gone"))
    assert len(httpserver.log) == 1


def test_timeouts_end_with_a_clear_error(httpserver):
    def never(request):
        time.sleep(2)
        return Response("late")

    httpserver.expect_request("/never").respond_with_handler(never)
    settings = FetchConfig(min_interval=0, retries=1, backoff=0.01, read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out .*gave up after 2 attempts"):
        get(httpserver.url_for("/never"), settings)
    assert time.monotonic() - started < 1.5


def test_body_over_the_limit_is_refused(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 300_000)
    settings = FetchConfig(min_interval=0, max_bytes=100_000)
    with pytest.raises(FetchError, match="larger than"):
        get(httpserver.url_for("/big"), settings)


def test_conditional_get(httpserver):
    def cached(request):
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response("<rss/>", headers={"ETag": '"v1"', "Last-Modified": "Wed, 12 Mar 2025"})

    httpserver.expect_request("/feed").respond_with_handler(cached)
    saved: dict[str, tuple[str, str]] = {}

    async def go():
        async with Fetcher(
            FAST, validators=saved.get, save_validators=lambda u, e, m: saved.update({u: (e, m)})
        ) as f:
            first = await f.get(httpserver.url_for("/feed"), conditional=True)
            second = await f.get(httpserver.url_for("/feed"), conditional=True)
            return first, second

    first, second = asyncio.run(go())
    assert not first.not_modified and second.not_modified
    assert list(saved.values()) == [('"v1"', "Wed, 12 Mar 2025")]


def test_minimum_interval_per_host(httpserver):
    httpserver.expect_request("/x").respond_with_data("ok")
    settings = FetchConfig(min_interval=0.2, per_host_concurrency=4)

    async def go():
        async with Fetcher(settings) as f:
            started = time.monotonic()
            await asyncio.gather(*(f.get(httpserver.url_for("/x")) for _ in range(4)))
            return time.monotonic() - started

    assert asyncio.run(go()) >= 0.6


def test_robots_txt_is_honoured_for_article_pages(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\n"
    )
    httpserver.expect_request("/private/a.html").respond_with_data("secret")
    httpserver.expect_request("/public/a.html").respond_with_data("hello")
    with pytest.raises(FetchError, match=r"robots\.txt"):
        get(httpserver.url_for("/private/a.html"), kind="body")
    response, _ = get(httpserver.url_for("/public/a.html"), kind="body")
    assert response.text == "hello"
