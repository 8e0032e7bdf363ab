"""What a reader follows: watches (saved searches that notify) and the rules that mark
articles important. Pure data and their checks; the store matches them through its search
index (finews/store/following.py), so a watch finds exactly what `finews search` finds.

An article matches a criterion when it holds the query *or* names one of the stocks (either
may be left out; with neither, every article does), and, where given, comes from one of the
outlets and is important. A watch is a criterion with a name and notification targets.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from finews.errors import ConfigError, QueryError
from finews.fulltext import Query

IMPORTANT = 1
"""The level of an important article: marked red by its source or by an [[important]] rule."""

_WATCH_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_SECID = re.compile(r"\d{1,3}\.[0-9A-Za-z]{1,12}")


@dataclass(frozen=True)
class Criterion:
    """Which articles a watch or an importance rule picks."""

    query: Query | None = None
    stocks: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    """Outlet names or category slugs."""
    important: bool = False

    def admits(self, outlet: str, category: str, importance: int) -> bool:
        """The filters that need no index: outlet and importance."""
        if self.outlets and outlet not in self.outlets and category not in self.outlets:
            return False
        return importance >= IMPORTANT or not self.important

    @property
    def picks_everything(self) -> bool:
        return self.query is None and not self.stocks


@dataclass(frozen=True)
class Watch:
    name: str
    criterion: Criterion
    notify: tuple[str, ...] = ()
    query_text: str = ""

    def targets(self) -> dict[str, str]:
        """Each notification URL under a short fingerprint: the outbox names a target by
        it, so no secret of the URL (a token) is written to the archive."""
        return {target_id(url): url for url in self.notify}


def target_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FollowRules:
    """The [[watch]] and [[important]] tables and the [follow] settings."""

    watches: tuple[Watch, ...] = ()
    important: tuple[Criterion, ...] = ()
    max_age_seconds: float = 86400.0
    """Articles published longer ago than this when stored are never notified (a new
    source's first pass reads days back)."""
    per_minute: int = 10
    """Messages per watch per minute; the rest of a burst goes out as one digest."""

    def watch(self, name: str) -> Watch:
        for watch in self.watches:
            if watch.name == name:
                return watch
        known = ", ".join(w.name for w in self.watches) or "none configured"
        raise ConfigError(f"no watch named {name!r} (known: {known}); add [[watch]] to finews.toml")


@dataclass
class WatchTable:
    """One [[watch]] or [[important]] table as written in finews.toml."""

    name: str = ""
    query: str = ""
    stocks: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    important: bool = False
    notify: list[str] = field(default_factory=list)


def criterion(table: WatchTable, where: str) -> Criterion:
    """A table's criterion, or a ConfigError saying which setting is wrong and how."""
    query = None
    if table.query.strip():
        try:
            query = Query.parse(table.query)
        except QueryError as exc:
            raise ConfigError(f"{where}.query: {exc}") from exc
    for secid in table.stocks:
        if not _SECID.fullmatch(secid):
            raise ConfigError(f"{where}.stocks: {secid!r} is not a security id such as "
                              "'1.600519' (market.code; 'finews stocks' lists them)")
    return Criterion(query, tuple(table.stocks), tuple(table.outlets), table.important)


def watch(table: WatchTable, where: str, check_url: Callable[[str], bool] | None = None) -> Watch:
    """A [[watch]] table checked: a URL-safe unique name, a query that parses, security ids,
    notification URLs that ``check_url`` (Apprise's parser) accepts."""
    if not _WATCH_NAME.fullmatch(table.name):
        raise ConfigError(f"{where}.name: {table.name!r} is not a watch name (lower-case letters, "
                          "digits, '-' and '_'; it becomes /watch/<name>.html)")
    for url in table.notify:
        if check_url is not None and not check_url(url):
            raise ConfigError(f"watch.{table.name}.notify: {url!r} is not a notification URL "
                              "Apprise understands (e.g. 'ntfy://host/topic', 'json://host/path')")
    return Watch(table.name, criterion(table, f"watch.{table.name}"), tuple(table.notify),
                 table.query.strip())
