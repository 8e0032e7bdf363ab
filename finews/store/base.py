"""The archive interface that every backend implements, and the rules they share."""

from __future__ import annotations

import os
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from finews.fulltext import Query
from finews.keys import key_seconds
from finews.model import Article, CategoryCount, UpsertResult
from finews.parallel import process_running
from finews.slugs import is_safe_slug, pinyin_slug, safe_slug
from finews.store.url import ArchiveURL

RANKED_CANDIDATES = 400
"""Ranked search scores the newest this many matches, and as many title matches."""
RECENCY_HALF_LIFE_DAYS = 90.0


def relevance_score(bm25: float, key: int, now: float) -> float:
    """Relevance (higher is better) that halves every RECENCY_HALF_LIFE_DAYS of age."""
    age_days = max(0.0, now - key_seconds(key)) / 86400
    return max(bm25, 1e-6) * 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS)


@dataclass
class Change:
    article_id: str
    previous_hash: str
    previous_changed: datetime
    changed_at: datetime


@dataclass
class LogEntry:
    """One change to the archive, in order: 'put' (stored), 'drop' (removed or moved),
    'alias' (a new alias). The site build replays the log since its last build."""

    seq: int
    action: str
    key: int
    id: str
    code: str
    category: str
    published: datetime
    tags: list[str]


@dataclass
class SearchHit:
    article: Article
    snippet: str
    score: float = 0.0


class Stored(NamedTuple):
    """What the collector needs to know of an archived copy of an item."""

    code: str
    title: str
    source: str
    category: str


@dataclass
class SourceHealth:
    """How a source has been doing; times are Unix seconds, 0 for never."""

    name: str
    last_run: int = 0
    last_success: int = 0
    last_error_at: int = 0
    last_error: str = ""
    consecutive_failures: int = 0
    items_last_run: int = 0
    next_due: int = 0
    checkpoint_time: int = 0
    """How far back the source's list has been read completely: the publication time of
    the newest item of its last fully stored pass (0: not known yet)."""
    checkpoint_id: str = ""
    gap: str = ""
    """Why the last pass could not read back to the checkpoint ("" when it could)."""


class CategoryRegistry:
    """Outlet name -> category slug, assigned once and never changed."""

    def __init__(self, rows: Iterable[tuple[str, str]], overrides: dict[str, str]):
        self.by_outlet: dict[str, str] = {}
        self.slugs: set[str] = set()
        for slug, outlet in rows:
            self.slugs.add(slug)
            self.by_outlet.setdefault(outlet, slug)
        self.overrides = overrides
        self.new: list[tuple[str, str]] = []
        self.new_aliases: list[tuple[str, str]] = []

    def _add(self, slug: str, outlet: str) -> None:
        self.slugs.add(slug)
        self.by_outlet.setdefault(outlet, slug)
        self.new.append((slug, outlet))

    def _unique(self, base: str) -> str:
        slug, n = base, 2
        while slug in self.slugs:
            slug, n = f"{base}{n}", n + 1
        return slug

    def resolve(self, article: Article) -> None:
        """Give the article its slug: the one it came with (made safe), or its outlet's."""
        if article.category:
            slug = article.category
            if not is_safe_slug(slug):
                safe = safe_slug(slug) or pinyin_slug(article.outlet)
                self.new_aliases.append((slug, safe))
                slug = safe
            if slug not in self.slugs:
                self._add(slug, article.outlet)
            article.category = slug
            return
        slug = self.overrides.get(article.outlet) or self.by_outlet.get(article.outlet)
        if slug is None:
            slug = self._unique(pinyin_slug(article.outlet))
        if slug not in self.slugs:
            self._add(slug, article.outlet)
        article.category = slug


def new_holder() -> str:
    """Who holds a source lease: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """A lease held by a process of this host that no longer runs (killed, crashed) is
    free at once; holders elsewhere free theirs only when the lease expires."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not process_running(int(pid))


def prefer_incoming(existing_category: str, incoming: Article, rolling: set[str]) -> bool:
    """Which copy of a story is kept: the outlet's, not rolling news, whichever arrived
    first, under one code or two. The collector asks it before fetching a body, the store
    when it writes; imports follow it too."""
    return existing_category in rolling and incoming.category not in rolling


class Store(ABC):
    """An archive of articles, each stored exactly once under its stable id."""

    archive: ArchiveURL

    @abstractmethod
    def upsert(
        self, articles: Iterable[Article], *, rolling: Iterable[str] = ("emnews",)
    ) -> UpsertResult:
        """Store a batch in one transaction: new ids are added, known ids updated in place."""

    @abstractmethod
    def get(self, article_id: str) -> Article | None: ...

    @abstractmethod
    def latest(self, limit: int = 100, *, with_body: bool = True) -> list[Article]: ...

    @abstractmethod
    def by_category(
        self, slug: str, page: int = 1, per_page: int = 100, *, with_body: bool = True
    ) -> list[Article]: ...

    @abstractmethod
    def by_tag(
        self, tag: str, page: int = 1, per_page: int = 100, *, with_body: bool = True
    ) -> list[Article]: ...

    @abstractmethod
    def by_day(self, day: date, tz: ZoneInfo, *, with_body: bool = True) -> list[Article]: ...

    @abstractmethod
    def category_counts(self) -> list[CategoryCount]: ...

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def date_range(self) -> tuple[datetime, datetime] | None: ...

    @abstractmethod
    def iter_articles(self, batch: int = 1000, after: int | None = None) -> Iterator[Article]:
        """Every article (after a sort key), oldest first, in batches so memory stays flat."""

    @abstractmethod
    def article_aliases(self, article_id: str) -> list[tuple[str, str]]: ...

    @abstractmethod
    def category_aliases(self) -> dict[str, str]: ...

    @abstractmethod
    def changes(self, article_id: str) -> list[Change]: ...

    @abstractmethod
    def size_bytes(self) -> int: ...

    @abstractmethod
    def known(self, ids: Iterable[str]) -> dict[str, Stored]:
        """The archived copies of the given ids, by id."""

    @abstractmethod
    def source_health(self, name: str | None = None) -> list[SourceHealth]: ...

    @abstractmethod
    def save_source_health(self, health: SourceHealth) -> None: ...

    @abstractmethod
    def advance_checkpoint(self, name: str, published: int, article_id: str) -> None:
        """Move a source's checkpoint forward to an item (never back): call it only once
        everything between the old checkpoint and that item has landed."""

    @abstractmethod
    def validators(self, url: str) -> tuple[str, str] | None:
        """(ETag, Last-Modified) last seen for a URL, for conditional GET."""

    @abstractmethod
    def save_validators(self, url: str, etag: str, last_modified: str) -> None: ...

    @abstractmethod
    def log_position(self) -> int:
        """The sequence number of the last change."""

    @abstractmethod
    def log_since(self, seq: int) -> list[LogEntry]: ...

    @abstractmethod
    def summaries(
        self,
        *,
        category: str | None = None,
        tag: str | None = None,
        keys: tuple[int, int] | None = None,
        newest_first: bool = True,
        limit: int | None = None,
        offset: int = 0,
        with_body: bool = False,
    ) -> list[Article]:
        """Articles filtered by category, tag and key range, in key order."""

    @abstractmethod
    def page_bodies(
        self, *, category: str, keys: tuple[int, int], limit: int
    ) -> list[tuple[Article, bytes]]:
        """An outlet's articles in key order (oldest first) without their text, each with
        its publishable HTML as UTF-8: a full build writes every body, and decoding each
        into text only to encode it again was a tenth of the build's work."""

    @abstractmethod
    def count_where(
        self, *, category: str | None = None, tag: str | None = None,
        keys: tuple[int, int] | None = None,
    ) -> int: ...

    @abstractmethod
    def nearest_key(self, key: int, *, before: bool, category: str | None = None) -> int | None:
        """The closest key before (or after) ``key``, optionally within a category."""

    @abstractmethod
    def nth_key(self, position: int, *, keys: tuple[int, int], category: str | None = None,
                tag: str | None = None) -> int | None:
        """The key at ``position`` (0 is the oldest) of the filtered articles, or None: read
        from an index alone, where skipping with OFFSET would read each skipped article."""

    @abstractmethod
    def page_dates(
        self, keys: tuple[int, int]
    ) -> list[tuple[str, str, datetime, datetime, datetime]]:
        """(category, code, published, first seen, last changed) of each article in the
        key range, oldest first: what a sitemap lists, without building whole articles."""

    @abstractmethod
    def all_keys(self) -> list[int]: ...

    @abstractmethod
    def tag_counts(self) -> dict[str, int]: ...

    @abstractmethod
    def all_aliases(self) -> list[tuple[str, str, Article]]: ...

    @abstractmethod
    def search(
        self,
        query: Query,
        *,
        category: str | None = None,
        tag: str | None = None,
        keys: tuple[int, int] | None = None,
        limit: int | None = 20,
        ranked: bool = False,
        snippets: bool = True,
    ) -> list[SearchHit]:
        """Articles that contain every term of the query, newest first (or ranked by
        relevance and recency); ``limit=None`` returns every match. Without snippets,
        hits come back several times faster (for counting and analysis)."""

    # -- several collectors: a source is polled by one collector at a time -------------------

    @abstractmethod
    def lease_sources(self, names: list[str], holder: str, seconds: float) -> list[str]:
        """Of the named sources, those now leased to ``holder`` for ``seconds``: free ones and
        those whose lease expired (a collector that died) or that it already holds."""

    @abstractmethod
    def release_source(self, name: str, holder: str) -> None: ...

    # -- copying between archives (finews migrate) ---------------------------------------------

    @abstractmethod
    def fingerprints(self, after: int = -1, batch: int = 5000) -> Iterator[tuple[int, str, str]]:
        """(sort key, id, content hash) of every article after ``after``, in key order."""

    @abstractmethod
    def last_key(self) -> int:
        """The highest sort key, -1 for an empty archive."""

    @abstractmethod
    def restore(self, articles: list[Article], content_hashes: list[str]) -> None:
        """Store articles exactly as another archive holds them (keys, times, aliases), in
        one transaction; ones already present are left alone."""

    @abstractmethod
    def stored_hashes(self, keys: list[int]) -> dict[int, str]: ...

    @abstractmethod
    def dump_state(self) -> dict[str, list[tuple]]:
        """Everything besides the articles: categories, aliases, changes, source health."""

    @abstractmethod
    def load_state(self, state: dict[str, list[tuple]]) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
