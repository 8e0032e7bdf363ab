"""`finews serve`: the built site and a JSON API on one ASGI app (Starlette under uvicorn).

Static files are served by a small ASGI handler of our own rather than StaticFiles: it
keeps small files and their gzip in memory (checked against the file's mtime and size on
every request), answers ETag revalidation with 304, and maps the site's clean URLs. API
responses are cached per query string until the archive changes (its log position), so a
busy home page costs one SQL query per request.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from finews.api import MAX_LIMIT, Archive, Filters
from finews.config import Settings
from finews.errors import BadRequest, FinewsError
from finews.store import open_store

CACHE_BYTES = 64 * 1024 * 1024
POSITION_TTL = 0.25
CACHE_FILE_LIMIT = 1024 * 1024
GZIP_MIN = 1024
COMPRESSIBLE = ("text/", "application/json", "application/xml", "application/atom+xml",
                "application/javascript", "image/svg+xml")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]


@dataclass
class _Cached:
    stamp: tuple[int, int]
    body: bytes
    gzipped: bytes | None
    etag: bytes
    content_type: bytes


def _content_type(path: str) -> str:
    if path.endswith(".pf_fragment") or path.endswith(".pf_index") or path.endswith(".pf_meta"):
        return "application/octet-stream"
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json",
                                            "application/xml", "image/svg+xml",
                                            "application/atom+xml"):
        kind += "; charset=utf-8"
    return kind


def safe_relative_path(path: str) -> str | None:
    """The site-relative file a URL path names, or None if it could escape the site:
    '..' segments, backslashes, NUL bytes, drive letters and absolute paths in disguise."""
    if "\x00" in path or "\\" in path or not path.startswith("/"):
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p.startswith((".", "~")) or ":" in p for p in parts):
        return None  # '..', and hidden files such as the build's .finews/ manifest
    relative = "/".join(parts)
    if path.endswith("/") or not relative:
        relative = f"{relative}/index.html".lstrip("/")
    return relative


class SiteFiles:
    """An ASGI app serving one folder: ETag/304, Cache-Control, gzip, 404 page."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.cache: OrderedDict[str, _Cached] = OrderedDict()
        self.cached_bytes = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _send(send, 405, b"method not allowed", b"text/plain; charset=utf-8",
                        [(b"allow", b"GET, HEAD")], head=False)
            return
        headers = dict(scope["headers"])
        relative = safe_relative_path(scope["path"])
        entry = self._load(relative) if relative is not None else None
        if entry is None and relative is not None and "." not in relative.rsplit("/", 1)[-1]:
            entry = self._load(relative + ".html")
            if entry is None:
                entry = self._load(relative + "/index.html")
        if entry is None:
            missing = self._load("404.html")
            body = missing.body if missing else b"404 not found"
            await _send(send, 404, body, missing.content_type if missing else b"text/plain",
                        [(b"cache-control", b"no-cache")], head=method == "HEAD")
            return
        extra = [(b"etag", entry.etag), (b"cache-control", _cache_control(relative or "")),
                 (b"vary", b"accept-encoding")]
        if headers.get(b"if-none-match") == entry.etag:
            await _send(send, 304, b"", None, extra, head=True)
            return
        body = entry.body
        if entry.gzipped is not None and b"gzip" in headers.get(b"accept-encoding", b""):
            body = entry.gzipped
            extra.append((b"content-encoding", b"gzip"))
        await _send(send, 200, body, entry.content_type, extra, head=method == "HEAD")

    def _load(self, relative: str) -> _Cached | None:
        path = os.path.join(self.root, relative)
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not os.path.isfile(path) or (os.path.islink(path) and not _inside(self.root, path)):
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        with self.lock:
            entry = self.cache.get(relative)
            if entry is not None and entry.stamp == stamp:
                self.cache.move_to_end(relative)
                return entry
        try:
            with open(path, "rb") as handle:
                body = handle.read()
        except OSError:
            return None
        content_type = _content_type(relative)
        gzipped = None
        if len(body) >= GZIP_MIN and content_type.startswith(COMPRESSIBLE):
            gzipped = gzip.compress(body, 6, mtime=0)
        etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
        entry = _Cached(stamp, body, gzipped, etag, content_type.encode())
        if len(body) <= CACHE_FILE_LIMIT:
            self._remember(relative, entry)
        return entry

    def _remember(self, relative: str, entry: _Cached) -> None:
        size = len(entry.body) + len(entry.gzipped or b"")
        with self.lock:
            old = self.cache.pop(relative, None)
            if old is not None:
                self.cached_bytes -= len(old.body) + len(old.gzipped or b"")
            self.cache[relative] = entry
            self.cached_bytes += size
            while self.cached_bytes > CACHE_BYTES and self.cache:
                _, dropped = self.cache.popitem(last=False)
                self.cached_bytes -= len(dropped.body) + len(dropped.gzipped or b"")


def _inside(root: Path, path: str) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) == str(root)


def _cache_control(relative: str) -> bytes:
    """Pages change when news arrives: revalidate them (cheap, with the ETag). Search
    fragments are named by their content, so they never change."""
    if relative.startswith("pagefind/") and not relative.endswith((".js", ".json", ".css")):
        return b"public, max-age=31536000, immutable"
    if relative.endswith((".html", ".xml", ".txt", ".json")):
        return b"no-cache"
    return b"public, max-age=3600"


async def _send(
    send: Send, status: int, body: bytes, content_type: bytes | None,
    extra: list[tuple[bytes, bytes]], *, head: bool,
) -> None:
    headers = [*SECURITY_HEADERS, *extra]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if status != 304:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


# -- the JSON API ---------------------------------------------------------------------------

ARTICLE_PARAMS = {"outlet", "tag", "since", "until", "q", "limit", "cursor"}
SEARCH_PARAMS = ARTICLE_PARAMS | {"order"}


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
    return Filters(
        outlet=params.get("outlet") or None, tag=params.get("tag") or None,
        since=params.get("since") or None, until=params.get("until") or None,
        q=params.get("q") or None, limit=int(raw_limit),
        cursor=params.get("cursor") or None, ranked=order == "relevance",
    )


def _error(status: int, field: str | None, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


class Api:
    """The endpoints, each worker with its own archive connection and response cache."""

    def __init__(self, open_archive, settings: Settings):
        self.open_archive = open_archive
        self.settings = settings
        self.local = threading.local()
        self.cache: dict[str, tuple[int, bytes, bytes]] = {}
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
        _, body, etag = hit
        extra = [(b"etag", etag), (b"cache-control", b"no-cache")]
        for name, value in scope["headers"]:
            if name == b"if-none-match" and value == etag:
                await _send(send, 304, b"", None, extra, head=True)
                return True
        await _send(send, 200, body, b"application/json", extra, head=False)
        return True

    def archive(self) -> Archive:
        archive = getattr(self.local, "archive", None)
        if archive is None:
            archive = self.local.archive = Archive(self.open_archive(), self.settings)
        return archive

    def _cached(self, request: Request, compute) -> Response:
        """The JSON for this URL, recomputed only when the archive has changed."""
        archive = self.archive()
        position = self.position()
        key = request.url.path + "?" + request.url.query
        hit = self.cache.get(key)
        if hit is None or hit[0] != position:
            try:
                body = json.dumps(compute(archive), ensure_ascii=False, separators=(",", ":")).encode()
            except BadRequest as exc:
                return _error(400, exc.field, exc.message)
            etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
            if len(self.cache) > 2000:
                self.cache.clear()
            hit = self.cache[key] = (position, body, etag)
        _, body, etag = hit
        headers = {"etag": etag.decode(), "cache-control": "no-cache"}
        if request.headers.get("if-none-match") == headers["etag"]:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    async def articles(self, request: Request) -> Response:
        try:
            f = _filters(request, ARTICLE_PARAMS, 50)
        except BadRequest as exc:
            return _error(400, exc.field, exc.message)
        return self._cached(request, lambda a: a.articles(f))

    async def search(self, request: Request) -> Response:
        try:
            f = _filters(request, SEARCH_PARAMS, 20)
        except BadRequest as exc:
            return _error(400, exc.field, exc.message)
        return self._cached(request, lambda a: a.search(f))

    async def article(self, request: Request) -> Response:
        article_id = request.path_params["article_id"]
        if not (0 < len(article_id) <= 64) or not all(c.isalnum() or c in "-_" for c in article_id):
            return _error(404, "article_id", f"no article {article_id!r}")
        archive = self.archive()
        data = archive.article(article_id)
        if data is None:
            return _error(404, "article_id", f"no article {article_id!r}")
        return JSONResponse(data)

    async def sources(self, request: Request) -> Response:
        """Not cached: health changes on every fetch, without a change to the articles."""
        return JSONResponse(self.archive().sources())

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_schema())

    async def not_found(self, request: Request) -> Response:
        return _error(404, None, f"no API endpoint {request.url.path}; see /api/openapi.json")


class FinewsApp:
    """/api/... from the archive (cached answers straight away, the rest through Starlette's
    routing), everything else from the built site."""

    def __init__(self, api: Api, site: SiteFiles, starlette: Starlette):
        self.api = api
        self.site = site
        self.starlette = starlette

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/"):
            await self.site(scope, receive, send)
        elif scope["type"] != "http" or not await self.api.send_cached(scope, send):
            await self.starlette(scope, receive, send)


def create_app(settings: Settings, site_dir: Path, open_archive=None) -> FinewsApp:
    """The whole server: /api/... from the archive, everything else from the built site."""
    open_archive = open_archive or (lambda: open_store(settings.database_url, settings.categories))
    api = Api(open_archive, settings)
    site = SiteFiles(site_dir)
    routes = [
        Route("/api/articles", api.articles),
        Route("/api/articles/{article_id}", api.article),
        Route("/api/search", api.search),
        Route("/api/sources", api.sources),
        Route("/api/openapi.json", api.openapi),
        Route("/api/{rest:path}", api.not_found),
        Mount("/", app=site),
    ]
    return FinewsApp(api, site, Starlette(routes=routes))


def app_from_environment() -> FinewsApp:
    """The app factory uvicorn's worker processes call (settings come through the env)."""
    from finews.config import load_settings

    config = os.environ.get("FINEWS_CONFIG") or None
    settings = load_settings(Path(config) if config else None)
    if os.environ.get("FINEWS_DATABASE_URL"):
        settings.archive.database_url = os.environ["FINEWS_DATABASE_URL"]
    site = Path(os.environ.get("FINEWS_SITE_DIR") or settings.path(settings.build.out))
    return create_app(settings, site)


def _article_schema(extra: dict | None = None) -> dict:
    props = {
        "id": {"type": "string", "description": "Stable id: the digits of the source's code"},
        "code": {"type": "string"},
        "title": {"type": "string"},
        "published": {"type": "string", "format": "date-time"},
        "outlet": {"type": "string"},
        "category": {"type": "string", "description": "The outlet's URL slug"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "digest": {"type": "string"},
        "url": {"type": "string", "description": "The original article"},
        "page": {"type": "string", "description": "The article's page on this site"},
        "source": {"type": "string"},
        **(extra or {}),
    }
    return {"type": "object", "properties": props, "required": list(props)}


def _limit(default: int) -> dict:
    return {"name": "limit", "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": default}}


def openapi_schema() -> dict:
    """The API, described for humans and for schemathesis."""
    strings = {"type": "array", "items": {"type": "string"}}
    filters = [
        {"name": "outlet", "in": "query", "schema": {"type": "string"},
         "description": "An outlet's name (南方都市报) or slug (nanfangdushibao)"},
        {"name": "tag", "in": "query", "schema": {"type": "string"}},
        {"name": "since", "in": "query", "schema": {"type": "string"},
         "description": "YYYY-MM-DD (start of that day, Beijing time) or an ISO 8601 time"},
        {"name": "until", "in": "query", "schema": {"type": "string"},
         "description": "YYYY-MM-DD (end of that day) or an ISO 8601 time, exclusive"},
        {"name": "cursor", "in": "query", "schema": {"type": "string"},
         "description": "next_cursor of the previous page"},
    ]
    error = {"description": "Bad parameter", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "string"},
                                         "field": {"type": ["string", "null"]}},
        "required": ["error", "field"]}}}}

    def page(item: dict) -> dict:
        return {"description": "A page of articles, newest first", "content": {"application/json": {
            "schema": {"type": "object", "properties": {
                "articles": {"type": "array", "items": item},
                "next_cursor": {"type": ["string", "null"]},
            }, "required": ["articles", "next_cursor"]}}}}

    hit = _article_schema({"snippet": {"type": "string", "description": "Escaped HTML, hits in <mark>"},
                           "score": {"type": "number"}})
    return {
        "openapi": "3.1.0",
        "info": {"title": "finews API", "version": "1",
                 "description": "The archive of Chinese financial news, read-only."},
        "paths": {
            "/api/articles": {"get": {
                "summary": "Articles, newest first, filtered; with q, those that contain it",
                "parameters": [*filters,
                               {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                               _limit(50)],
                "responses": {"200": page(_article_schema()), "400": error},
            }},
            "/api/articles/{article_id}": {"get": {
                "summary": "One article with its sanitised HTML",
                "parameters": [{"name": "article_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The article", "content": {"application/json": {
                        "schema": _article_schema({"html": {"type": "string"}, "aliases": strings})}}},
                    "404": {"description": "No such article", "content": {"application/json": {
                        "schema": error["content"]["application/json"]["schema"]}}},
                },
            }},
            "/api/search": {"get": {
                "summary": "Full-text search: every article containing every space-separated term",
                "parameters": [*filters,
                               {"name": "q", "in": "query", "required": True,
                                "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
                               {"name": "order", "in": "query",
                                "schema": {"type": "string", "enum": ["newest", "relevance"]}},
                               _limit(20)],
                "responses": {"200": page(hit), "400": error},
            }},
            "/api/sources": {"get": {
                "summary": "The configured sources and their health",
                "responses": {"200": {"description": "One entry per source", "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}},
            }},
        },
    }


def serve(
    settings: Settings, site_dir: Path, *, host: str, port: int, workers: int = 1,
    config_path: Path | None = None,
) -> None:
    """Run until interrupted. Several workers share the port (uvicorn starts them as
    processes, which build the app from the environment)."""
    import uvicorn

    options = {"host": host, "port": port, "log_level": "warning", "access_log": False,
               "server_header": False, "timeout_graceful_shutdown": 5}
    if workers <= 1:
        uvicorn.run(create_app(settings, site_dir), **options)
        return
    os.environ["FINEWS_DATABASE_URL"] = settings.database_url
    os.environ["FINEWS_SITE_DIR"] = str(site_dir)
    if config_path:
        os.environ["FINEWS_CONFIG"] = str(config_path)
    uvicorn.run("finews.server:app_from_environment", factory=True, workers=workers, **options)


class BackgroundServer:
    """The server on a thread of this process, for `finews run --serve` and the demo."""

    def __init__(self, app: FinewsApp, host: str, port: int):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, server_header=False,
        ))
        self.thread = threading.Thread(target=self.server.run, name="finews-serve", daemon=True)

    def start(self) -> None:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise FinewsError("the server could not start: is the port already in use?")
            self.thread.join(0.05)

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
