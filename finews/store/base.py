"""The archive interface that every backend implements, and the rules they share."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from finews.keys import key_seconds
from finews.model import Article
from finews.parallel import process_running
from finews.slugs import is_safe_slug, pinyin_slug, safe_slug

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
    stocks: list[str] = field(default_factory=list)


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
    digest: str


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
    return f"{os.uname().nodename}:{os.getpid()}:{os.urandom(4).hex()}"


def holder_is_dead(holder: str) -> bool:
    """A lease held by a process of this host that no longer runs (killed, crashed) is
    free at once; holders elsewhere free theirs only when the lease expires."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return host == os.uname().nodename and pid.isdigit() and not process_running(int(pid))


def prefer_incoming(existing_category: str, incoming: Article, rolling: set[str]) -> bool:
    """Which copy of a story is kept: the outlet's, not rolling news, whichever arrived
    first, under one code or two. The collector asks it before fetching a body, the store
    when it writes; imports follow it too."""
    return existing_category in rolling and incoming.category not in rolling
