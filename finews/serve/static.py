"""The built site's files, as an ASGI handler of our own rather than Starlette's
StaticFiles: it keeps small files and their gzip in memory (checked against the file's
mtime and size on every request), answers ETag revalidation with 304, maps the site's clean
URLs, and refuses any path that could leave the site folder."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from starlette.types import Receive, Scope, Send

CACHE_BYTES = 64 * 1024 * 1024
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
            await send_response(send, 405, b"method not allowed", b"text/plain; charset=utf-8",
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
            await send_response(send, 404, body, missing.content_type if missing else b"text/plain",
                        [(b"cache-control", b"no-cache")], head=method == "HEAD")
            return
        extra = [(b"etag", entry.etag), (b"cache-control", _cache_control(relative or "")),
                 (b"vary", b"accept-encoding")]
        if headers.get(b"if-none-match") == entry.etag:
            await send_response(send, 304, b"", None, extra, head=True)
            return
        body = entry.body
        if entry.gzipped is not None and b"gzip" in headers.get(b"accept-encoding", b""):
            body = entry.gzipped
            extra.append((b"content-encoding", b"gzip"))
        await send_response(send, 200, body, entry.content_type, extra, head=method == "HEAD")

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
    """Pages change when news arrives: revalidate them (cheap, with the ETag). The search
    index's files are named by their content, so they never change (its manifest does)."""
    if relative.startswith("search/") and relative.endswith(".bin"):
        return b"public, max-age=31536000, immutable"
    if relative.endswith((".html", ".xml", ".txt", ".json")):
        return b"no-cache"
    return b"public, max-age=3600"


async def send_response(
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
