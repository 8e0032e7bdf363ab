"""The one HTTP client finews uses: polite, bounded, patient with failures, honest about itself.

Every request goes through :class:`Fetcher`: connect/read/total time-outs, a maximum body
size, retries with exponential back-off and jitter (time-outs, 5xx, 429 with Retry-After),
a per-host concurrency limit and minimum interval, conditional GET, charset detection and
robots.txt for article pages.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import re
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from finews import __version__
from finews.config import FetchConfig
from finews.errors import FetchError, ParseError

USER_AGENT = f"finews/{__version__} (self-hosted news archive; +https://pypi.org/project/finews/)"
_RETRY_STATUS = {429, 500, 502, 503, 504}
_CHARSET_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9._-]+)""", re.I)
_JSONP = re.compile(r"^[\s;]*[A-Za-z_$][\w$.]*\s*\(\s*(.*?)\s*\)[\s;]*$", re.S)
_JS_VAR = re.compile(r"^\s*(?:var|let|const)?\s*[A-Za-z_$][\w$.]*\s*=\s*(.*?)[\s;]*$", re.S)


@dataclass
class Response:
    url: str
    status: int
    content: bytes
    headers: httpx.Headers
    not_modified: bool = False

    @property
    def text(self) -> str:
        return decode(self.content, self.headers.get("content-type", ""))

    def json(self) -> Any:
        return parse_jsonish(self.text, self.url)


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0


_SECOND_LEVEL = {"com", "net", "org", "gov", "edu", "co", "ac"}


def site_of(host: str) -> str:
    """The registrable part of a host name (news.sina.com.cn -> sina.com.cn), near enough
    without the public suffix list; an IP address is its own site."""
    labels = host.lower().rstrip(".").split(".")
    if host.replace(".", "").isdigit() or ":" in host or len(labels) <= 2:
        return host.lower()
    if labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


async def _refuse_cross_site_redirect(response: httpx.Response) -> None:
    """Redirects stay within the site asked (finance.eastmoney.com -> www.eastmoney.com is
    fine): a source that starts sending us elsewhere has changed hands or been hijacked."""
    if response.is_redirect:
        here = response.request.url
        target = here.join(response.headers.get("location", ""))
        if site_of(target.host) != site_of(here.host):
            raise FetchError(f"{here}: redirected to another site ({target.host}); not followed")


def decode(content: bytes, content_type: str = "") -> str:
    """Bytes -> text: the declared charset (HTTP, XML or HTML), else UTF-8, else GB18030."""
    declared = None
    match = re.search(r"charset=([\w.-]+)", content_type, re.I)
    if match:
        declared = match.group(1)
    else:
        head = content[:2048]
        found = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
        if found:
            declared = found.group(1).decode("ascii")
    candidates = []
    if declared:
        name = declared.lower()
        candidates.append(_CHARSET_ALIASES.get(name, name))
    candidates += ["utf-8", "gb18030"]
    for charset in candidates:
        try:
            return content.decode(charset).lstrip("\ufeff")
        except (UnicodeDecodeError, LookupError):
            continue
    return content.decode("utf-8", errors="replace")


def parse_jsonish(text: str, where: str = "") -> Any:
    """JSON, JSONP ``cb({...})`` or a JS assignment ``var x = {...};`` -> Python data."""
    body = text.strip().lstrip("\ufeff")
    candidates = [body]
    if body[:1] not in "{[":
        for pattern in (_JSONP, _JS_VAR):
            match = pattern.match(body)
            if match:
                candidates.insert(0, match.group(1))
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    preview = body[:40].replace("\n", " ")
    if not body:
        raise ParseError(f"{where}: empty response where JSON was expected")
    raise ParseError(f"{where}: not JSON (starts with {preview!r})")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now or time.time()))


class Fetcher:
    """Async HTTP with politeness. Use as ``async with Fetcher(settings) as f:``."""

    def __init__(
        self,
        settings: FetchConfig | None = None,
        *,
        validators: Callable[[str], tuple[str, str] | None] | None = None,
        save_validators: Callable[[str, str, str], None] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        self.settings = settings or FetchConfig()
        self.user_agent = self.settings.user_agent or USER_AGENT
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, asyncio.Future[urllib.robotparser.RobotFileParser | None]] = {}
        self._validators = validators
        self._save_validators = save_validators
        self._sleep = sleep
        self.requests = 0
        self.requests_by_kind: dict[str, int] = {}
        s = self.settings
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=True,
            max_redirects=s.max_redirects,
            event_hooks={"response": [_refuse_cross_site_redirect]},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=40),
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    def _host(self, url: str) -> _Host:
        key = urlsplit(url).netloc
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(self.settings.per_host_concurrency))
        return host

    async def _wait_turn(self, host: _Host) -> None:
        async with host.lock:
            now = time.monotonic()
            wait = host.next_start - now
            host.next_start = max(now, host.next_start) + self.settings.min_interval
        if wait > 0:
            await asyncio.sleep(wait)

    async def get(
        self,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        kind: str = "list",
        conditional: bool = False,
    ) -> Response:
        """GET with retries. ``kind`` is counted ("list", "body", ...); article pages
        (kind="body" with ``robots=True``) are checked against robots.txt first."""
        if kind == "body" and self.settings.robots and not await self.allowed(url):
            raise FetchError(f"{url}: disallowed by robots.txt")
        request_headers = dict(headers or {})
        cache_key = str(httpx.URL(url, params=params)) if conditional else ""
        if conditional and self._validators:
            known = self._validators(cache_key)
            if known:
                etag, modified = known
                if etag:
                    request_headers["If-None-Match"] = etag
                if modified:
                    request_headers["If-Modified-Since"] = modified
        s = self.settings
        attempt = 0
        while True:
            attempt += 1
            delay: float | None = None
            try:
                response = await self._once(url, params, request_headers, kind)
            except (httpx.TimeoutException, TimeoutError) as exc:
                problem = f"{url}: timed out ({type(exc).__name__})"
            except httpx.TooManyRedirects as exc:
                raise FetchError(f"{url}: too many redirects ({exc})") from exc
            except httpx.TransportError as exc:
                problem = f"{url}: connection failed ({type(exc).__name__}: {exc})"
            else:
                if response.status == 304:
                    response.not_modified = True
                    return response
                if response.status < 400:
                    if conditional and self._save_validators:
                        etag = response.headers.get("etag", "")
                        modified = response.headers.get("last-modified", "")
                        if etag or modified:
                            self._save_validators(cache_key, etag, modified)
                    return response
                problem = f"{url}: HTTP {response.status}"
                if response.status not in _RETRY_STATUS:
                    raise FetchError(problem)
                delay = retry_after_seconds(response.headers.get("retry-after"))
                if delay is not None and delay > s.max_retry_after:
                    raise FetchError(f"{problem}, Retry-After {delay:.0f}s is too long to wait")
            if attempt > s.retries:
                raise FetchError(f"{problem} (gave up after {attempt} attempts)")
            if delay is None:
                delay = s.backoff * (2 ** (attempt - 1))
                delay *= 0.5 + random.random()
            await self._sleep(delay)

    async def _once(
        self, url: str, params: dict[str, str] | None, headers: dict[str, str], kind: str
    ) -> Response:
        host = self._host(url)
        async with host.semaphore:
            await self._wait_turn(host)
            self.requests += 1
            self.requests_by_kind[kind] = self.requests_by_kind.get(kind, 0) + 1
            async with asyncio.timeout(self.settings.total_timeout):
                async with self.client.stream("GET", url, params=params, headers=headers) as r:
                    declared = r.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > self.settings.max_bytes:
                        raise FetchError(self._too_large(url))
                    chunks = []
                    size = 0
                    async for chunk in r.aiter_bytes():
                        size += len(chunk)
                        if size > self.settings.max_bytes:
                            raise FetchError(self._too_large(url))
                        chunks.append(chunk)
                    return Response(str(r.url), r.status_code, b"".join(chunks), r.headers)

    def _too_large(self, url: str) -> str:
        limit = self.settings.max_bytes / (1024 * 1024)
        return f"{url}: response larger than {limit:g} MB (fetch.max_bytes); nothing kept"

    async def allowed(self, url: str) -> bool:
        """robots.txt, read once per site: a missing file (4xx) allows all, an unreachable
        one (5xx, time-out) allows nothing for this run."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = asyncio.ensure_future(self._read_robots(origin))
        parser = await self._robots[origin]
        return parser is not None and parser.can_fetch(self.user_agent, url)

    async def _read_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        parser = urllib.robotparser.RobotFileParser()
        try:
            response = await self._once(f"{origin}/robots.txt", None, {}, "robots")
        except (httpx.HTTPError, TimeoutError, FetchError):
            return None
        if response.status >= 500:
            return None
        if response.status >= 400:
            parser.allow_all = True
        else:
            parser.parse(response.text.splitlines())
        return parser
