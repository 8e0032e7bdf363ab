"""The JSON API's endpoints: parameters checked, answers cached per query string until
the archive changes (its log position, read at most every POSITION_TTL seconds), so a busy
home page costs one SQL query per request."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope, Send

from finews.config import Settings
from finews.errors import BadRequest, ConfigError
from finews.serve.openapi import openapi_schema
from finews.serve.queries import MAX_LIMIT, Archive, Filters
from finews.serve.static import send_response
from finews.site.pages import LATEST_ITEMS, latest_json

POSITION_TTL = 0.25
LIVE_POLL = 0.25
LIVE_BATCH = 50

ARTICLE_PARAMS = {"outlet", "tag", "since", "until", "q", "limit", "cursor", "stock", "group",
                  "important"}
STOCK_PARAMS = {"q", "limit"}
SEARCH_PARAMS = ARTICLE_PARAMS | {"order"}
WATCH_PARAMS = {"limit", "cursor"}
JSON = b"application/json"
ATOM = b"application/atom+xml; charset=utf-8"


def _filters(request: Request, allowed: set[str], default_limit: int) -> Filters:
    params = dict(parse_qsl(request.url.query, keep_blank_values=True))
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadRequest(unknown[0], f"unknown parameter; use {', '.join(sorted(allowed))}")
    for name, value in params.items():
        if len(value) > 500 or "\x00" in value:
            raise BadRequest(name, "value too long or not text")
    raw_limit = params.get("limit", str(default_limit))
    if not raw_limit.isdigit() or len(raw_limit) > 6:
        raise BadRequest("limit", f"must be a whole number between 1 and {MAX_LIMIT}")
    order = params.get("order", "newest")
    if order not in ("newest", "relevance"):
        raise BadRequest("order", "must be 'newest' or 'relevance'")
    important = params.get("important", "false").lower()
    if important not in ("true", "false", "1", "0"):
        raise BadRequest("important", "must be 'true' (only important articles) or 'false'")
    return Filters(
        outlet=params.get("outlet") or None, tag=params.get("tag") or None,
        since=params.get("since") or None, until=params.get("until") or None,
        q=params.get("q") or None, limit=int(raw_limit),
        cursor=params.get("cursor") or None, ranked=order == "relevance",
        stock=params.get("stock") or None, group=params.get("group") or None,
        important=important in ("true", "1"),
    )


def _error(status: int, field: str | None, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


class Api:
    """The endpoints, each worker with its own archive connection and response cache."""

    def __init__(self, open_archive, settings: Settings):
        self.open_archive = open_archive
        self.settings = settings
        self.local = threading.local()
        self.cache: dict[str, tuple[int, bytes, bytes, bytes]] = {}
        self.known_position = (0.0, -1)

    def position(self) -> int:
        """The archive's log position, read at most every POSITION_TTL seconds."""
        checked, position = self.known_position
        now = time.monotonic()
        if now - checked > POSITION_TTL:
            position = self.archive().store.log_position()
            self.known_position = (now, position)
        return position

    async def send_cached(self, scope: Scope, send: Send) -> bool:
        """Answer from the cache without routing or parsing, if the answer is there."""
        if scope["method"] != "GET":
            return False
        hit = self.cache.get(scope["path"] + "?" + scope["query_string"].decode("latin-1"))
        if hit is None or hit[0] != self.position():
            return False
        _, body, etag, media = hit
        extra = [(b"etag", etag), (b"cache-control", b"no-cache")]
        for name, value in scope["headers"]:
            if name == b"if-none-match" and value == etag:
                await send_response(send, 304, b"", None, extra, head=True)
                return True
        await send_response(send, 200, body, media, extra, head=False)
        return True

    def archive(self) -> Archive:
        archive = getattr(self.local, "archive", None)
        if archive is None:
            archive = self.local.archive = Archive(self.open_archive(), self.settings)
        return archive

    def _cached(self, request: Request, compute, media: bytes = JSON) -> Response:
        """The answer for this URL (JSON of what ``compute`` returns, or the bytes it
        returns), recomputed only when the archive has changed."""
        archive = self.archive()
        position = self.position()
        key = request.url.path + "?" + request.url.query
        hit = self.cache.get(key)
        if hit is None or hit[0] != position:
            try:
                answer = compute(archive)
            except BadRequest as exc:
                return _error(400, exc.field, exc.message)
            except ConfigError as exc:
                return _error(404, None, str(exc))
            body = answer if isinstance(answer, bytes) else \
                json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
            etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
            if len(self.cache) > 2000:
                self.cache.clear()
            hit = self.cache[key] = (position, body, etag, media)
        _, body, etag, media = hit
        headers = {"etag": etag.decode(), "cache-control": "no-cache"}
        if request.headers.get("if-none-match") == headers["etag"]:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media.decode(), headers=headers)

    def _filtered(self, request: Request, allowed: set[str], default_limit: int,
                  compute: Callable[[Archive, Filters], dict | bytes], media: bytes = JSON) -> Response:
        """An endpoint over checked parameters: a 400 for bad ones, else a cached answer."""
        try:
            f = _filters(request, allowed, default_limit)
        except BadRequest as exc:
            return _error(400, exc.field, exc.message)
        return self._cached(request, lambda a: compute(a, f), media)

    async def articles(self, request: Request) -> Response:
        return self._filtered(request, ARTICLE_PARAMS, 50, Archive.articles)

    async def search(self, request: Request) -> Response:
        return self._filtered(request, SEARCH_PARAMS, 20, Archive.search)

    async def search_atom(self, request: Request) -> Response:
        """Any search as a feed, to subscribe to."""
        return self._filtered(request, SEARCH_PARAMS, 20, Archive.search_feed, ATOM)

    async def watch(self, request: Request) -> Response:
        """A watch's latest matches; ``NAME.atom`` gives them as a feed."""
        name = request.path_params["name"]
        if name.endswith(".atom"):
            return self._filtered(request, WATCH_PARAMS, 50,
                                  lambda a, f: a.watch_feed(name[:-5], f), ATOM)
        return self._filtered(request, WATCH_PARAMS, 50, lambda a, f: a.watch(name, f))

    async def article(self, request: Request) -> Response:
        article_id = request.path_params["article_id"]
        if not _plausible_id(article_id):
            return _error(404, "article_id", f"no article {article_id!r}")
        archive = self.archive()
        data = archive.article(article_id)
        if data is None:
            return _error(404, "article_id", f"no article {article_id!r}")
        return JSONResponse(data)

    async def revisions(self, request: Request) -> Response:
        article_id = request.path_params["article_id"]
        data = self.archive().revisions(article_id) if _plausible_id(article_id) else None
        if data is None:
            return _error(404, "article_id", f"no article {article_id!r}")
        return JSONResponse(data)

    async def story(self, request: Request) -> Response:
        story = request.path_params["story_id"]
        data = self.archive().story(int(story)) if story.isdigit() and len(story) <= 19 else None
        if data is None:
            return _error(404, "story_id", f"no story {story!r}")
        return JSONResponse(data)

    async def stocks(self, request: Request) -> Response:
        return self._filtered(request, STOCK_PARAMS, 100, lambda a, f: a.stocks(f.q or "", f.limit))

    async def stock(self, request: Request) -> Response:
        secid = request.path_params["secid"]
        if not (0 < len(secid) <= 40) or "\x00" in secid:
            return _error(404, "secid", f"no security {secid!r}")
        data = self.archive().stock(secid)
        if data is None:
            return _error(404, "secid", f"no security {secid!r} in the archive")
        return JSONResponse(data)

    async def latest(self, request: Request) -> Response:
        """latest.json as the archive has it now, naming the event stream: under `finews
        serve` the 7×24 page is pushed what arrives instead of polling the built file."""
        body = latest_json(self.archive().live_items(LATEST_ITEMS), live="/api/live")
        return Response(body, media_type="application/json", headers={"cache-control": "no-cache"})

    async def live(self, request: Request) -> Response:
        """Server-Sent Events: each article stored after ``after`` (or the Last-Event-ID a
        reconnecting browser sends), within LIVE_POLL seconds of its storing."""
        from sse_starlette.sse import EventSourceResponse

        given = request.headers.get("last-event-id") or request.query_params.get("after") or ""
        if not given.isdigit() or len(given) > 19:
            return _error(400, "after", "give the key of the newest item shown (latest.json's first)")

        async def events():
            last, seen = int(given), -1
            while not await request.is_disconnected():
                position = self.position()
                if position != seen:
                    seen = position
                    for item in self.archive().live_items(LIVE_BATCH, after=last):
                        last = int(item["key"])
                        yield {"id": item["key"], "data": json.dumps(item, ensure_ascii=False)}
                await asyncio.sleep(LIVE_POLL)

        return EventSourceResponse(events(), ping=15)

    async def sources(self, request: Request) -> Response:
        """Not cached: health changes on every fetch, without a change to the articles."""
        return JSONResponse(self.archive().sources())

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_schema())

    async def not_found(self, request: Request) -> Response:
        return _error(404, None, f"no API endpoint {request.url.path}; see /api/openapi.json")


def _plausible_id(article_id: str) -> bool:
    """Whether a path's id could be an article's (finews.model.stable_id's alphabet)."""
    return 0 < len(article_id) <= 64 and all(c.isalnum() or c in "-_" for c in article_id)
