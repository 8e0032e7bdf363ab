"""Importance, watches and the outbox in the archive (finews.follow holds the rules).

Every criterion is answered by the archive's own search (``search``) and its securities
table, so a watch finds exactly what `finews search` finds. A new article's importance and
its watch matches are written in the transaction that stores it: the outbox can lose no
match a crash would otherwise drop between storing and sending.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from finews.follow import IMPORTANT, Criterion, FollowRules
from finews.model import Article
from finews.parallel import chunks
from finews.store.base import holder_is_dead

FOLLOW_MIGRATION = """
    CREATE TABLE article_importance (
        key BIGINT PRIMARY KEY, level INTEGER NOT NULL, origin TEXT NOT NULL
    );
    CREATE TABLE outbox (
        watch TEXT NOT NULL, key BIGINT NOT NULL, target TEXT NOT NULL,
        created BIGINT NOT NULL, due BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        sent BIGINT NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
        claimed_by TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (watch, key, target)
    );
    CREATE INDEX outbox_pending ON outbox (sent, due)
"""
"""Importance (issue 17): ``origin`` is 'source' (marked red by Eastmoney) or 'rule' (an
[[important]] table). The outbox holds one row per match and target, times in
milliseconds; ``sent`` is when the target confirmed it (0 while pending, -1 when dropped);
``claimed_by`` the notifier sending it (several collectors may share a PostgreSQL archive)."""


@dataclass
class Pending:
    """A message the outbox still owes a target."""

    watch: str
    key: int
    target: str
    created_ms: int
    attempts: int


@dataclass
class TargetHealth:
    """How one notification target is doing, for `finews sources` and /api/sources."""

    watch: str
    target: str
    pending: int
    failing: int
    last_error: str


def _now_ms() -> int:
    return int(time.time() * 1000)


class Following:
    """Mixed into finews.store.sql.Store, whose ``search`` and engine hooks it uses."""

    follow_rules: FollowRules = FollowRules()
    _notify_batch = False
    _x: Callable[..., Any]
    _xm: Callable[..., Any]
    _log: Callable[..., Any]
    search: Callable[..., Any]
    transaction: Callable[..., Any]
    by_keys: Callable[..., Any]

    def _follow(self, rows: list[tuple[int, Article]]) -> None:
        """Mark the new articles' importance, then queue their watch matches (when the
        batch comes from a collector and the article is fresh), in the current transaction."""
        rules = self.follow_rules
        if not rows:
            return
        levels = {key: a.importance for key, a in rows if a.importance >= IMPORTANT}
        origin = dict.fromkeys(levels, "source")
        for rule in rules.important:
            for key in self._picked(rule, rows, levels):
                levels.setdefault(key, IMPORTANT)
                origin.setdefault(key, "rule")
        self._xm("INSERT INTO article_importance VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                 "SET level = excluded.level, origin = excluded.origin",
                 [(key, level, origin[key]) for key, level in levels.items()])
        if self._notify_batch and any(w.notify for w in rules.watches):
            self._queue(rows, levels)

    def _queue(self, rows: list[tuple[int, Article]], levels: dict[int, int]) -> None:
        oldest = time.time() - self.follow_rules.max_age_seconds
        fresh = [(key, a) for key, a in rows if a.published.timestamp() >= oldest]
        now = _now_ms()
        queued = []
        for watch in self.follow_rules.watches:
            if watch.notify and fresh:
                queued += [(watch.name, key, target, now, now)
                           for key in self._picked(watch.criterion, fresh, levels)
                           for target in watch.targets()]
        self._xm("INSERT INTO outbox (watch, key, target, created, due) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT DO NOTHING", queued)

    def _picked(self, criterion: Criterion, rows: list[tuple[int, Article]],
                levels: dict[int, int]) -> list[int]:
        """The keys of ``rows`` the criterion picks, by the search index and the securities
        table (both already hold the rows: they are written first)."""
        candidates = {key for key, a in rows if criterion.admits(a.outlet, a.category, levels.get(key, 0))}
        if not candidates or criterion.picks_everything:
            return sorted(candidates)
        found: set[int] = set()
        if criterion.query is not None:
            hits = self.search(criterion.query, keys=(min(candidates), max(candidates)),
                               limit=None, snippets=False)
            found.update(h.article.key for h in hits if h.article.key in candidates)
        if criterion.stocks:
            found.update(self._naming(sorted(candidates), criterion.stocks))
        return sorted(found)

    def picks_any(self, criterion: Criterion, rows: list[tuple[int, Article]],
                  levels: dict[int, int]) -> bool:
        """Whether the criterion picks any of these stored articles (a build asks which
        watch pages its changes touch)."""
        return bool(self._picked(criterion, rows, levels))

    def picked(self, criterion: Criterion, rows: list[tuple[int, Article]]) -> list[int]:
        """The keys of these stored articles the criterion picks (a build names the
        watches an article's page links to)."""
        return self._picked(criterion, rows, self.importance_of([key for key, _ in rows]))

    def _naming(self, keys: list[int], secids: Iterable[str]) -> set[int]:
        secids = list(secids)
        found: set[int] = set()
        for chunk in chunks(keys, 400):
            found.update(key for (key,) in self._x(
                f"SELECT DISTINCT key FROM article_securities WHERE key IN ({','.join('?' * len(chunk))}) "
                f"AND secid IN ({','.join('?' * len(secids))})", (*chunk, *secids)))
        return found

    # -- importance ------------------------------------------------------------------------

    def mark_important(self, ids: list[str], *, notify: bool = False) -> int:
        """Raise stored articles to important (a source marked an item red that another
        source stored first). Each raised article is logged, so that its pages are
        rebuilt, and with ``notify`` the watches it now matches are queued, as if it had
        arrived important."""
        raised: list[int] = []
        with self.transaction():
            for chunk in chunks(ids, 400):
                keys = [key for (key,) in self._x(
                    f"SELECT a.key FROM articles a LEFT JOIN article_importance i ON i.key = a.key "
                    f"WHERE a.id IN ({','.join('?' * len(chunk))}) AND i.key IS NULL", chunk)]
                self._xm("INSERT INTO article_importance VALUES (?, ?, 'source')",
                         [(key, IMPORTANT) for key in keys])
                for key in keys:
                    self._log("put", key)
                raised += keys
            if raised and notify and any(w.notify for w in self.follow_rules.watches):
                articles = self.by_keys(raised)
                self._queue(sorted(articles.items()), self.importance_of(raised))
        return len(raised)

    def _unmark(self, key: int) -> int:
        """Forget an article's importance before it is rewritten; the level it had, which
        the new copy keeps (the outlet's copy of a red flash item is red too)."""
        level = self.importance_of([key]).get(key, 0)
        self._x("DELETE FROM article_importance WHERE key = ?", (key,))
        return level

    def _move_outbox(self, old: int, new: int) -> None:
        """A rewritten article's messages follow its new key; where the old and the new
        copy matched the same watch, the old message (perhaps sent already) stands."""
        if old == new:
            return
        self._x("DELETE FROM outbox WHERE key = ? AND EXISTS (SELECT 1 FROM outbox o WHERE o.key = ? "
                "AND o.watch = outbox.watch AND o.target = outbox.target)", (new, old))
        self._x("UPDATE outbox SET key = ? WHERE key = ?", (new, old))

    def important_keys(self) -> set[int]:
        """Every important article's key: a site build marks them in every list."""
        return {key for (key,) in self._x("SELECT key FROM article_importance WHERE level >= 1")}

    def importance_of(self, keys: list[int]) -> dict[int, int]:
        """Each key's level; keys of ordinary articles are left out."""
        found: dict[int, int] = {}
        for chunk in chunks(keys, 500):
            found.update(self._x(f"SELECT key, level FROM article_importance WHERE key IN "
                                 f"({','.join('?' * len(chunk))})", chunk))
        return found

    # -- what a criterion picks in the archive --------------------------------------------

    def followed_keys(self, criterion: Criterion, limit: int, before: int | None = None,
                      lowest: int = 0) -> list[int]:
        """The newest ``limit`` keys the criterion picks in the archive (below ``before``,
        from ``lowest`` on): each part (the query's hits, the stocks' mentions) is read
        newest first a chunk at a time and merged down to where every part is complete."""
        upper = before - 1 if before is not None else (1 << 62)
        picked: list[int] = []
        step = max(2 * limit, 64)
        while len(picked) < limit and upper >= lowest:
            parts = self._newest_parts(criterion, (lowest, upper), step)
            full = [part for part in parts if len(part) == step]
            floor = max((min(part) for part in full), default=lowest)
            keys = sorted({k for part in parts for k in part if k >= floor}, reverse=True)
            levels = self.importance_of(keys)
            found = self.by_keys(keys)
            picked += [k for k in keys if k in found
                       and criterion.admits(found[k].outlet, found[k].category, levels.get(k, 0))]
            if not full:
                break
            upper, step = floor - 1, min(step * 4, 4096)
        return picked[:limit]

    def _newest_parts(self, criterion: Criterion, keys: tuple[int, int], step: int) -> list[list[int]]:
        parts = []
        if criterion.query is not None:
            parts.append([h.article.key for h in self.search(
                criterion.query, keys=keys, limit=step, snippets=False)])
        if criterion.stocks:
            marks = ",".join("?" * len(criterion.stocks))
            parts.append([key for (key,) in self._x(
                f"SELECT DISTINCT key FROM article_securities WHERE secid IN ({marks}) "
                "AND key BETWEEN ? AND ? ORDER BY key DESC LIMIT ?", (*criterion.stocks, *keys, step))])
        if criterion.picks_everything:
            source = ("SELECT key FROM article_importance" if criterion.important
                      else "SELECT key FROM articles")
            parts.append([key for (key,) in self._x(
                f"{source} WHERE key BETWEEN ? AND ? ORDER BY key DESC LIMIT ?", (*keys, step))])
        return parts

    # -- the outbox ------------------------------------------------------------------------

    def pending_messages(self, limit: int = 500) -> list[Pending]:
        """Messages due now, oldest first (to look at; a sender claims them)."""
        return [Pending(*row) for row in self._x(
            "SELECT watch, key, target, created, attempts FROM outbox WHERE sent = 0 AND due <= ? "
            "ORDER BY created, key LIMIT ?", (_now_ms(), limit))]

    def claim_messages(self, holder: str, limit: int = 500, lease_ms: int = 60_000) -> list[Pending]:
        """Messages due now, oldest first, each taken for ``lease_ms``: no other notifier
        sends them meanwhile, and one that dies leaves them to the next after the lease (or
        at once, once ``release_dead_claims`` sees it died)."""
        with self.transaction():
            claimed = self.pending_messages(limit)
            self._xm("UPDATE outbox SET due = ?, claimed_by = ? WHERE watch = ? AND key = ? AND target = ?",
                     [(_now_ms() + lease_ms, holder, m.watch, m.key, m.target) for m in claimed])
        return claimed

    def release_dead_claims(self) -> int:
        """Messages claimed by a notifier of this host that no longer runs are due at once."""
        holders = [h for (h,) in self._x(
            "SELECT DISTINCT claimed_by FROM outbox WHERE sent = 0 AND claimed_by <> ''")]
        dead = [h for h in holders if holder_is_dead(h)]
        if not dead:
            return 0
        with self.transaction(exclusive=False):
            self._xm("UPDATE outbox SET due = ?, claimed_by = '' WHERE sent = 0 AND claimed_by = ?",
                     [(_now_ms(), h) for h in dead])
        return len(dead)

    def anything_due(self) -> bool:
        """Whether a message is due now: a read, so an idle notifier takes no write lock."""
        return self._x("SELECT 1 FROM outbox WHERE sent = 0 AND due <= ? LIMIT 1",
                       (_now_ms(),)).fetchone() is not None

    def confirm_sent(self, messages: list[Pending]) -> None:
        """Mark messages delivered: the one step after which they are never sent again."""
        now = _now_ms()
        with self.transaction(exclusive=False):
            self._xm("UPDATE outbox SET sent = ?, attempts = attempts + 1, error = '' "
                     "WHERE watch = ? AND key = ? AND target = ? AND sent = 0",
                     [(now, m.watch, m.key, m.target) for m in messages])

    def retry_later(self, messages: list[Pending], error: str, delay_ms: int) -> None:
        due = _now_ms() + delay_ms
        with self.transaction(exclusive=False):
            self._xm("UPDATE outbox SET due = ?, attempts = attempts + 1, error = ? "
                     "WHERE watch = ? AND key = ? AND target = ?",
                     [(due, error[:500], m.watch, m.key, m.target) for m in messages])

    def drop_messages(self, messages: list[Pending], reason: str) -> None:
        with self.transaction(exclusive=False):
            self._xm("UPDATE outbox SET sent = -1, error = ? WHERE watch = ? AND key = ? AND target = ?",
                     [(reason, m.watch, m.key, m.target) for m in messages])

    def outbox_health(self) -> list[TargetHealth]:
        """Per watch and target: messages pending, how many of them failed at least once,
        and the last error."""
        return [TargetHealth(*row) for row in self._x(
            "SELECT watch, target, SUM(CASE WHEN sent = 0 THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN sent = 0 AND attempts > 0 THEN 1 ELSE 0 END), MAX(error) "
            "FROM outbox GROUP BY watch, target ORDER BY watch, target")]

    def sent_count(self, watch: str, target: str, since_ms: int) -> int:
        """Messages a watch sent a target since a time, for the rate limit: a digest is one
        message, its rows share the moment it was confirmed."""
        return self._x("SELECT COUNT(DISTINCT sent) FROM outbox WHERE watch = ? AND target = ? "
                       "AND sent >= ?", (watch, target, since_ms)).fetchone()[0]
