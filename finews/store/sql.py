"""What the SQL backends share: the upsert rules, the queries, the log, in portable SQL.

Statements use ``?`` placeholders and ``ON CONFLICT`` clauses that SQLite and PostgreSQL
both understand; each backend supplies its schema, its transactions and its search index.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Any, NamedTuple

from finews.clean import publishable_html
from finews.errors import FinewsError
from finews.fulltext import Query, headline_weight, snippet
from finews.keys import sort_key
from finews.model import Article, CategoryCount, UpsertResult
from finews.parallel import chunks
from finews.revisions import Version, pack, unpack
from finews.stocks import Mention, NameMatcher, article_mentions, parse_secid
from finews.store.base import (
    RANKED_CANDIDATES,
    CategoryRegistry,
    Change,
    LogEntry,
    SearchHit,
    SourceHealth,
    Stored,
    holder_is_dead,
    prefer_incoming,
    relevance_score,
)
from finews.store.following import Following
from finews.store.grouping import StoryGrouping

_COLUMNS = (
    "key, id, code, title, published, outlet, category, tags, digest, url, source, "
    "first_seen, last_changed"
)
_SUMMARY = f"{_COLUMNS}, '' AS body, '' AS html"
_FULL = f"{_COLUMNS}, body, html"
_PUBLISHABLE = "CASE WHEN html = '' THEN body ELSE html END"
_FULL_A = ", ".join("a." + c.strip() for c in _FULL.split(","))
_SUMMARY_A = ", ".join("a." + c.strip() for c in _COLUMNS.split(",")) + ", '', ''"


def _html_column(body: str, clean: str) -> str:
    """The sanitised HTML is stored only where it differs from the body as received."""
    return "" if clean == body else clean


def _ts(dt: datetime) -> int:
    return int(dt.timestamp())


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


TAG_SEPARATOR = "\x1f"


def _tags(stored: str) -> list[str]:
    return stored.split(TAG_SEPARATOR) if stored else []


def _row_to_article(row: tuple) -> Article:
    """Rows were validated when stored: build the Article without validating again."""
    (key, aid, code, title, published, outlet, category, tags, digest, url, source,
     first_seen, last_changed, body, html) = row
    return Article.trusted(
        id=aid, code=code, title=title, published=_dt(published), outlet=outlet,
        category=category, tags=_tags(tags), body=body, digest=digest, url=url,
        source=source, first_seen=_dt(first_seen), last_changed=_dt(last_changed), key=key,
        aliases=[], html=html or body, stocks=[],
    )


_IMPORTANT = "{} IN (SELECT key FROM article_importance WHERE level >= 1)"


class SearchFilters(NamedTuple):
    """What narrows a search: an outlet's category, a tag, a range of sort keys (dates),
    a security, important articles only."""

    category: str | None = None
    tag: str | None = None
    keys: tuple[int, int] | None = None
    stock: str | None = None
    important: bool = False

    def sql(self, key: str = "a.key", article_key: str = "a.key") -> tuple[list[str], list]:
        """Conditions over the articles aliased ``a``; ``key`` names the column to bound
        by key (SQLite bounds its index's rowid, which FTS5 seeks to), ``article_key``
        the one the other tables are joined on."""
        clauses: list[str] = []
        params: list = []
        if self.category is not None:
            clauses.append("a.category = ?")
            params.append(self.category)
        if self.tag is not None:
            clauses.append(f"{article_key} IN (SELECT key FROM article_tags WHERE tag = ?)")
            params.append(self.tag)
        if self.keys is not None:
            clauses.append(f"{key} BETWEEN ? AND ?")
            params += list(self.keys)
        if self.stock is not None:
            clauses.append(f"{article_key} IN (SELECT key FROM article_securities WHERE secid = ?)")
            params.append(self.stock)
        if self.important:
            clauses.append(_IMPORTANT.format(article_key))
        return clauses, params

    @property
    def needs_articles(self) -> bool:
        """Whether a condition reads the articles table itself."""
        return self.category is not None


def _linked_names(article: Article, mentions: list[Mention]) -> list[tuple[str, str, int]]:
    """(secid, name, when seen) of the stock links among an article's mentions: the only
    mentions whose names the archive learns (a listed one has a name only from a link)."""
    return [(m.security.secid, m.name, _ts(article.published))
            for m in mentions if m.origin in ("list", "link") and m.name]


class _Row(NamedTuple):
    """What the upsert needs to know of a stored article."""

    key: int
    fields: tuple
    content_hash: str
    first_seen: int
    last_changed: int
    source: str


_INSERT_ARTICLE = (
    "INSERT INTO articles (key, id, code, title, published, outlet, category, tags, digest, url, "
    "body, content_hash, first_seen, last_changed, source, html) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _first_of_new(batch: list[Article], existing: dict[str, _Row]) -> list[Article]:
    """Articles new to the archive, the first of each id, that need no alias bookkeeping."""
    seen: set[str] = set()
    fresh = []
    for article in batch:
        if article.id in existing or article.id in seen:
            seen.add(article.id)
            continue
        seen.add(article.id)
        if not article.aliases:
            fresh.append(article)
    return fresh


def _owned_by_another(row: _Row, article: Article) -> bool:
    """An article belongs to the source that stored it first: another source overwrites it
    only with the outlet's own copy of a rolling-news item (see prefer_incoming)."""
    return bool(row.source and article.source and row.source != article.source)


def _stored_fields(article: Article) -> tuple:
    return (
        article.code, article.title, _ts(article.published), article.outlet, article.category,
        TAG_SEPARATOR.join(article.tags), article.digest, article.url, article.body,
    )



REVISIONS_MIGRATION = """
    ALTER TABLE changes ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE changes ADD COLUMN title TEXT NOT NULL DEFAULT '';
    ALTER TABLE changes ADD COLUMN body {blob}
"""
"""A change keeps the version it replaced (finews.revisions): its number, its title and
its body packed against the newer one. Changes recorded before have number 0 and no body."""

STATE_TABLES = ("categories", "category_aliases", "changes", "source_health", "http_validators",
                "securities", "security_names", "article_securities", "mention_names",
                "article_stories", "article_importance", "outbox")
_INSERT_TAG = "INSERT INTO article_tags VALUES (?, ?) ON CONFLICT DO NOTHING"
_NEWEST_NAME = ("(SELECT n.name FROM security_names n WHERE n.secid = s.secid "
                "ORDER BY n.last_seen DESC LIMIT 1)")
_HEALTH_COLUMNS = (
    "last_run", "last_success", "last_error_at", "last_error", "consecutive_failures",
    "items_last_run", "next_due", "checkpoint_time", "checkpoint_id", "gap",
)
CHECKPOINT_MIGRATION = """
    ALTER TABLE source_health ADD COLUMN checkpoint_time BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE source_health ADD COLUMN checkpoint_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE source_health ADD COLUMN gap TEXT NOT NULL DEFAULT '';
    INSERT INTO source_health (name, checkpoint_time)
        SELECT source, MAX(published) FROM articles WHERE source <> '' GROUP BY source
        ON CONFLICT (name) DO UPDATE SET checkpoint_time = excluded.checkpoint_time
"""
"""Sources get their checkpoints: an archive of an older finews starts each source at the
newest article it stored, which is how far its list was read then."""
STOCKS_MIGRATION = """
    CREATE TABLE securities (
        secid TEXT PRIMARY KEY, market INTEGER NOT NULL, code TEXT NOT NULL, kind TEXT NOT NULL
    );
    CREATE TABLE security_names (
        secid TEXT NOT NULL, name TEXT NOT NULL, last_seen BIGINT NOT NULL,
        PRIMARY KEY (secid, name)
    );
    CREATE TABLE article_securities (
        key BIGINT NOT NULL, secid TEXT NOT NULL, origin TEXT NOT NULL, is_first INTEGER NOT NULL,
        PRIMARY KEY (key, secid)
    );
    CREATE INDEX article_securities_secid ON article_securities (secid, key)
"""
SITE_STOCKS_MIGRATION = """
    ALTER TABLE article_log ADD COLUMN stocks TEXT NOT NULL DEFAULT '';
    CREATE TABLE mention_names (
        secid TEXT NOT NULL, name TEXT NOT NULL, mentions BIGINT NOT NULL,
        PRIMARY KEY (secid, name)
    )
"""
"""What the site needs of securities: the log keeps the secids an article named when it was
logged (space-separated), so a build rewrites the pages of the securities an article left
as well as of those it joined; ``mention_names`` counts the names text mentions wrote
(``航天科技(000901)``), for the display name of a security no stock link ever named."""
"""The securities each article mentions (finews.stocks): ``origin`` is list, link, text or
name; ``is_first`` marks the security it names first. A security keeps every name it was
linked under, with when it was last seen; the newest is its name."""


class Store(StoryGrouping, Following, ABC):
    """An archive of articles, each stored exactly once under its stable id: one SQL
    store over a DB-API connection, in portable SQL; SQLite and PostgreSQL subclasses
    supply the small engine hooks below (statements, transactions, the search index)."""

    category_overrides: dict[str, str]
    integrity_errors: tuple[type[Exception], ...]
    no_limit: Any = None
    _matcher: NameMatcher | None = None
    utf8_bytes = "CAST({} AS BLOB)"
    """SQL that gives a text value's UTF-8 bytes."""
    skip_locked = ""
    joined = "group_concat({}, ' ')"
    """SQL that joins a column's values with spaces (an aggregate)."""

    @abstractmethod
    def _x(self, sql: str, params: tuple | list = ()) -> Any:
        """Execute one statement (``?`` placeholders); returns a cursor."""

    @abstractmethod
    def _xm(self, sql: str, rows: list) -> None:
        """Execute one statement for many rows."""

    @abstractmethod
    def _begin(self) -> None:
        """Start a write transaction that no other writer can interleave with."""

    @abstractmethod
    def _begin_plain(self) -> None:
        """Start a write transaction (row locks are enough)."""

    @abstractmethod
    def _rollback(self) -> None:
        """Undo the current transaction, if the engine has not already (SQLite rolls back
        by itself on a full disk, and a second ROLLBACK would hide that error)."""

    @abstractmethod
    def _inserted(self, sql: str, rows: list) -> int:
        """Run an INSERT ... ON CONFLICT DO NOTHING for rows; how many were new."""

    @abstractmethod
    def _index(self, rows: list[tuple[int, Article]]) -> None:
        """Add articles (by key) to the search index, in the current transaction."""

    def _meta(self, key: str) -> str | None:
        row = self._x("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _prepare(self, article: Article) -> None:
        """Compute what the search index will hold of an article before the write
        transaction, so that other writers wait for the insert only."""

    search_ready = True
    """False while the search index is incomplete (an archive from before it): search
    then reads every article's text, and build_search_index completes it."""

    def search_backlog(self) -> int:
        """How many articles the search index still lacks."""
        return 0

    def defer_search_index(self) -> None:
        """Before a bulk copy into an empty archive: the search index's own indexes are
        built once at the end, by build_search_index, instead of row by row."""

    def build_search_index(self, on_batch: Callable[[int], None] = lambda n: None) -> None:
        """Index the articles the search index lacks; ``on_batch`` hears how many each
        batch added. Resumable: an interrupted build goes on where it stopped."""

    @abstractmethod
    def _unindex(self, key: int) -> None:
        """Remove an article from the search index, before its row is deleted."""

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
        stock: str | None = None,
        important: bool = False,
    ) -> list[SearchHit]:
        """Articles that contain every term of the query, newest first (or ranked by
        relevance and recency); ``limit=None`` returns every match. Without snippets,
        hits come back several times faster (for counting and analysis)."""
        narrowed = SearchFilters(category, tag, keys, stock, important)
        if ranked:
            return self._ranked(query, narrowed, limit)
        found = islice(self._matching(query, narrowed, full=snippets, expected=limit or 64), limit)
        return [SearchHit(a, snippet(a.html, query) if snippets else "", 0.0) for a in found]

    def _ranked(self, query: Query, narrowed: SearchFilters, limit: int | None) -> list[SearchHit]:
        """One rule on every backend: the candidates are the newest RANKED_CANDIDATES
        articles whose headline holds the query and the newest RANKED_CANDIDATES matches
        of any kind; each scores its headline weight (fulltext.headline_weight, 0 for a
        match in the body only), halved for every RECENCY_HALF_LIFE_DAYS of age (so those
        in the body only rank newest first, and only the newest ``limit`` are read). Scoring
        bodies would first count a phrase's matches in the whole archive (seconds for a
        common word), so the body counts only as a match."""
        weights: dict[int, float] = {}
        titled = self._matching(query, narrowed, headline=True, full=False, expected=RANKED_CANDIDATES)
        for article in islice(titled, RANKED_CANDIDATES):
            weights[article.key] = headline_weight(article.title, query)
        others = 0
        matched = self._matching(query, narrowed, full=False, expected=limit or RANKED_CANDIDATES)
        for article in islice(matched, RANKED_CANDIDATES):
            if article.key not in weights:
                weights[article.key] = headline_weight(article.title, query)
                others += 1
                if others == limit:
                    break  # only the newest `limit` of them can rank: they all weigh 0
        now = time.time()
        order = sorted(((relevance_score(w, key, now), key) for key, w in weights.items()),
                       reverse=True)[:limit]
        articles = self.by_keys([key for _, key in order], text=True)
        return [SearchHit(articles[key], snippet(articles[key].html, query), score)
                for score, key in order]

    @abstractmethod
    def _matching(self, query: Query, narrowed: SearchFilters, *, headline: bool = False,
                  full: bool = True, expected: int = 20) -> Iterator[Article]:
        """Every article that matches the query (``headline``: whose headline holds it),
        newest first, confirmed, lazily; ``full``: with body and HTML; ``expected``: how
        many the caller will probably take, so the first read is about that size."""

    @abstractmethod
    def close(self) -> None: ...

    @contextmanager
    def transaction(self, *, exclusive: bool = True) -> Iterator[None]:
        """One write transaction: committed when the block ends, rolled back if it raises.
        ``exclusive`` keeps every other writer out, so a batch is applied as a whole;
        without it, row locks are enough."""
        (self._begin if exclusive else self._begin_plain)()
        try:
            yield
            self._x("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def upsert(
        self, articles: Iterable[Article], *, rolling: Iterable[str] = ("emnews",),
        notify: bool = False,
    ) -> UpsertResult:
        """Store a batch in one transaction: new ids are added, known ids updated in place.
        ``notify``: the new articles' watch matches go into the outbox (a collector's
        batches; imports of old posts notify no one)."""
        self._notify_batch = notify
        try:
            return self._upsert(list(articles), rolling)
        finally:
            self._notify_batch = False

    def _upsert(self, batch: list[Article], rolling: Iterable[str]) -> UpsertResult:
        rolling = set(rolling)
        result = UpsertResult()
        for article in batch:  # before the transaction: other writers wait for the inserts only
            article.html = article.html or publishable_html(article.body, article.url)
            _ = article.content_hash
            self._prepare(article)
        now = int(time.time())
        with self.transaction():
            registry = CategoryRegistry(
                self._x("SELECT slug, outlet FROM categories"), self.category_overrides
            )
            for article in batch:
                registry.resolve(article)
            existing = self._existing({a.id for a in batch})
            fresh = _first_of_new(batch, existing)
            if fresh and self._insert_many(fresh, existing, now):
                result.new += len(fresh)
                placed = {id(a) for a in fresh}
                batch = [a for a in batch if id(a) not in placed]
            for article in batch:
                self._upsert_one(article, existing, rolling, now, result)
            self._xm(
                "INSERT INTO categories VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(slug, outlet, now) for slug, outlet in registry.new],
            )
            self._xm(
                "INSERT INTO category_aliases VALUES (?, ?) ON CONFLICT DO NOTHING", registry.new_aliases
            )
        return result

    def _existing(self, ids: set[str]) -> dict[str, _Row]:
        found: dict[str, _Row] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._x(
                "SELECT id, key, code, title, published, outlet, category, tags, digest, url, "
                f"body, content_hash, first_seen, last_changed, source FROM articles "
                f"WHERE id IN ({marks})",
                chunk,
            ):
                found[row[0]] = _Row(row[1], row[2:11], *row[11:])
        return found

    def _insert_many(self, articles: list[Article], existing: dict[str, _Row], now: int) -> bool:
        """Insert new articles with one statement per table: the common case of an import
        or a collect pass. False (and nothing written) if two sort keys collide; the caller
        then inserts one by one, probing for free keys."""
        rows, tag_rows, log_rows, token_rows, stored = [], [], [], [], {}
        for a in articles:
            fields = _stored_fields(a)
            key = sort_key(a.published, a.id)
            first_seen = _ts(a.first_seen) if a.first_seen else now
            html = _html_column(a.body, a.html)
            rows.append((key, a.id, *fields, a.content_hash, first_seen, now, a.source, html))
            token_rows.append((key, a))
            tag_rows += [(tag, key) for tag in a.tags]
            log_rows.append(("put", key, a.id, a.code, a.category, fields[2], fields[5]))
            stored[a.id] = _Row(key, fields, a.content_hash, first_seen, now, a.source)
        self._x("SAVEPOINT bulk")
        try:
            self._xm(_INSERT_ARTICLE, rows)
            self._index(token_rows)
            named = self._write_mentions(token_rows)
            self._group(token_rows)
            self._follow(token_rows)
            self._xm(_INSERT_TAG, tag_rows)
            self._xm(
                "INSERT INTO article_log (action, key, id, code, category, published, tags, stocks) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row, " ".join(named.get(row[1], ()))) for row in log_rows])
        except self.integrity_errors:
            self._x("ROLLBACK TO bulk")
            self._x("RELEASE bulk")
            return False
        self._x("RELEASE bulk")
        existing.update(stored)
        return True

    def _upsert_one(
        self,
        article: Article,
        existing: dict[str, _Row],
        rolling: set[str],
        now: int,
        result: UpsertResult,
    ) -> None:
        row = existing.get(article.id)
        if row is None:
            first_seen = _ts(article.first_seen) if article.first_seen else now
            existing[article.id] = self._insert(article, first_seen, now)
            self._add_aliases(article.id, article.aliases)
            result.new += 1
            return
        code, category = row.fields[0], row.fields[4]
        takes_over = prefer_incoming(category, article, rolling)
        if takes_over:
            self._add_aliases(article.id, [(category, code), *article.aliases])
            existing[article.id] = self._replace(row, article, now, take_over=True)
        elif code != article.code:
            self._add_aliases(article.id, [(article.category, article.code)])
        if code != article.code:
            result.merged += 1
            return
        if takes_over:
            result.updated += 1
            return
        self._add_aliases(article.id, article.aliases)
        if row.fields == _stored_fields(article) or _owned_by_another(row, article):
            result.unchanged += 1
            return
        existing[article.id] = self._replace(row, article, now)
        result.updated += 1

    def _add_aliases(self, article_id: str, aliases: Iterable[tuple[str, str]]) -> None:
        rows = [(category, code, article_id) for category, code in aliases]
        if not rows:
            return
        if self._inserted("INSERT INTO article_aliases VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows):
            self._x(
                "INSERT INTO article_log (action, key, id, code, category, published, tags) "
                "SELECT 'alias', key, id, code, category, published, tags FROM articles "
                "WHERE id=?",
                (article_id,),
            )

    def _log_keys(self, action: str, keys: list[int]) -> None:
        """Log a change of many articles at once, each with the securities it names now."""
        named = (f"COALESCE((SELECT {self.joined.format('m.secid')} FROM article_securities m "
                 "WHERE m.key = articles.key), '')")
        for chunk in chunks(keys, 500):
            rows = self._x(
                f"SELECT ?, key, id, code, category, published, tags, {named} FROM articles "
                f"WHERE key IN ({','.join('?' * len(chunk))}) ORDER BY key", (action, *chunk)).fetchall()
            self._xm("INSERT INTO article_log (action, key, id, code, category, published, tags, stocks) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _log(self, action: str, key: int, stocks: str | None = None) -> None:
        """Log a change with the securities the article names now (or ``stocks``)."""
        named = (f"COALESCE((SELECT {self.joined.format('m.secid')} FROM article_securities m "
                 "WHERE m.key = articles.key), '')") if stocks is None else "?"
        self._x(
            "INSERT INTO article_log (action, key, id, code, category, published, tags, stocks) "
            f"SELECT ?, key, id, code, category, published, tags, {named} FROM articles WHERE key=?",
            (action, key) if stocks is None else (action, stocks, key),
        )

    def _insert(
        self, article: Article, first_seen: int, last_changed: int, source: str | None = None
    ) -> _Row:
        fields = _stored_fields(article)
        digest = article.content_hash
        html = _html_column(article.body, article.html)
        source = source if source is not None else article.source
        for attempt in range(1 << 10):
            key = sort_key(article.published, article.id, attempt)
            try:
                self._x(
                    _INSERT_ARTICLE,
                    (key, article.id, *fields, digest, first_seen, last_changed, source, html),
                )
            except self.integrity_errors:
                if self._x("SELECT 1 FROM articles WHERE key=?", (key,)).fetchone():
                    continue
                raise
            self._index([(key, article)])
            self._write_mentions([(key, article)])
            self._group([(key, article)])
            self._follow([(key, article)])
            self._xm(
                _INSERT_TAG,
                [(tag, key) for tag in article.tags],
            )
            self._log("put", key)
            return _Row(key, fields, digest, first_seen, last_changed, source)
        raise FinewsError(f"no free sort key for article {article.id}")

    def _replace(self, row: _Row, article: Article, now: int, *, take_over: bool = False) -> _Row:
        """Rewrite an article in place; its key follows its publication time. When the
        outlet's copy takes over a rolling one, the article passes to the outlet's source;
        the securities the replaced copy's list named stay with it."""
        self._log("drop", row.key)
        self._ungroup(row.key)
        self._unindex(row.key)
        listed = [s["secid"] for s in self.stocks_of([row.key], origin="list")[row.key]]
        article.stocks = list(dict.fromkeys([*article.stocks, *listed]))
        self._x("DELETE FROM article_securities WHERE key=?", (row.key,))
        self._x("DELETE FROM article_tags WHERE key=?", (row.key,))
        self._x("DELETE FROM articles WHERE key=?", (row.key,))
        changed = article.content_hash != row.content_hash
        source = article.source if take_over else row.source or None
        article.importance = max(article.importance, self._unmark(row.key))
        new = self._insert(article, row.first_seen, now if changed else row.last_changed, source)
        self._move_outbox(row.key, new.key)
        if changed:
            (number,) = self._x("SELECT COUNT(*) + 1 FROM changes WHERE article_id = ?",
                                (article.id,)).fetchone()
            self._x(
                "INSERT INTO changes (article_id, previous_hash, previous_changed, changed_at, "
                "number, title, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (article.id, row.content_hash, row.last_changed, now, number, row.fields[1],
                 pack(row.fields[8], article.body)),
            )
        return new

    def _names(self) -> NameMatcher:
        """The names learned so far, built once per store and again after it learns more."""
        if self._matcher is None:
            rows = self._x(
                "SELECT n.name, n.secid FROM security_names n ORDER BY n.last_seen").fetchall()
            self._matcher = NameMatcher((name, parse_secid(secid)) for name, secid in rows)
        return self._matcher

    def _write_mentions(self, rows: list[tuple[int, Article]]) -> dict[int, list[str]]:
        """The securities of newly written articles, in the same transaction; returns the
        secids of each, the first named first."""
        names = self._names()
        mentions, securities, learned = [], {}, []
        named: dict[int, list[str]] = {}
        written: Counter[tuple[str, str]] = Counter()
        for key, article in rows:
            found = article_mentions(article.title, article.html or article.body, article.stocks, names)
            named[key] = [mention.security.secid for mention in found]
            for position, mention in enumerate(found):
                security = mention.security
                mentions.append((key, security.secid, mention.origin, int(position == 0)))
                if mention.origin == "text" and mention.name:
                    written[security.secid, mention.name] += 1
                securities[security.secid] = (security.secid, security.market, security.code, security.kind)
            learned += _linked_names(article, found)
        self._xm("INSERT INTO article_securities VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", mentions)
        self._xm("INSERT INTO mention_names VALUES (?, ?, ?) ON CONFLICT (secid, name) DO UPDATE "
                 "SET mentions = mention_names.mentions + excluded.mentions",
                 [(secid, name, n) for (secid, name), n in written.items()])
        self._xm("INSERT INTO securities VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                 list(securities.values()))
        self._remember_names(learned)
        return named

    def reextract_stocks(self, on_batch: Callable[[int], None] = lambda n: None) -> int:
        """Find the securities of every stored article again, from its stored text and
        without the network (an archive of an older finews, or new rules): the names of
        every stock link are learned first, then every article is read with all of them.
        Each batch is one transaction; the securities a source listed are kept."""
        self._texts = None  # the securities that grouping compares may change
        for learning in (True, False):
            if not learning:
                with self.transaction():
                    self._x("DELETE FROM mention_names")  # counted again below
            for batch in chunks(self.iter_articles(batch=1000), 1000):
                self._reextract(batch, learning)
                on_batch(len(batch))
        return self.count()

    def _reextract(self, batch: list[Article], learning: bool) -> None:
        """Also refreshes each body's publishable HTML (a newer finews may publish it
        differently: K-line images became stock marks). Articles whose securities or HTML
        changed are logged, so that the next build rewrites their pages and those of every
        security they joined or left."""
        with self.transaction():
            if learning:
                self._learn_names(batch)
                return
            keys = [a.key for a in batch]
            before = self.stock_ids(keys)
            listed = self.stocks_of(keys, origin="list")
            self._x(f"DELETE FROM article_securities WHERE key IN ({','.join('?' * len(keys))})", keys)
            republished = set()
            for article in batch:
                article.stocks = [s["secid"] for s in listed[article.key]]
                fresh = publishable_html(article.body, article.url)
                if fresh != article.html:
                    article.html = fresh
                    republished.add(article.key)
                    self._x("UPDATE articles SET html=? WHERE key=?",
                            (_html_column(article.body, fresh), article.key))
            after = self._write_mentions([(a.key, a) for a in batch])
            for key in keys:
                if key in republished or set(before[key]) != set(after[key]):
                    self._log("put", key, " ".join(dict.fromkeys([*after[key], *before[key]])))

    def _learn_names(self, batch: list[Article]) -> None:
        self._remember_names([name for a in batch for name in _linked_names(a, article_mentions("", a.html))])

    def _remember_names(self, learned: list[tuple[str, str, int]]) -> None:
        """(secid, name, when seen): every name is kept with the last time it was seen."""
        if not learned:
            return
        self._xm(
            "INSERT INTO security_names VALUES (?, ?, ?) ON CONFLICT (secid, name) DO UPDATE SET "
            "last_seen = CASE WHEN excluded.last_seen > security_names.last_seen "
            "THEN excluded.last_seen ELSE security_names.last_seen END", learned)
        self._matcher = None

    def stocks_of(self, keys: list[int], *, origin: str | None = None) -> dict[int, list[dict]]:
        """The securities of each article (by key), the first named first: secid, code,
        market, its newest name, kind; with ``origin``, only those found that way."""
        found: dict[int, list[dict]] = {key: [] for key in keys}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, secid, market, code, kind, name in self._x(
                f"SELECT m.key, s.secid, s.market, s.code, s.kind, {_NEWEST_NAME} "
                f"FROM article_securities m JOIN securities s ON s.secid = m.secid "
                f"WHERE m.key IN ({marks}){' AND m.origin = ?' if origin else ''} "
                "ORDER BY m.key, m.is_first DESC, s.secid", (*chunk, *([origin] if origin else [])),
            ):
                found[key].append({"secid": secid, "code": code, "market": market,
                                   "name": name or "", "kind": kind})
        return found

    def stock_ids(self, keys: list[int]) -> dict[int, list[str]]:
        """The secids of each article (by key), the first named first."""
        found: dict[int, list[str]] = {key: [] for key in keys}
        for chunk in chunks(keys, 500):
            for key, secid in self._x(
                f"SELECT key, secid FROM article_securities WHERE key IN ({','.join('?' * len(chunk))}) "
                "ORDER BY key, is_first DESC, secid", chunk,
            ):
                found[key].append(secid)
        return found

    def all_security_names(self) -> dict[str, list[str]]:
        """Every name each security was linked under, the newest first, for a whole site
        build in two queries. A security no link ever named is shown under the name its
        text mentions used most often: ``其中宁德时代(300750)`` is a misreading once, while
        the real name recurs."""
        names: dict[str, list[str]] = {}
        for secid, name in self._x(
                "SELECT secid, name FROM security_names ORDER BY secid, last_seen DESC, name"):
            names.setdefault(secid, []).append(name)
        written: dict[str, tuple[int, int, str]] = {}
        for secid, name, n in self._x("SELECT secid, name, mentions FROM mention_names"):
            rank = (n, -len(name), name)  # a tie goes to the shorter name
            if secid not in names and rank > written.get(secid, (0, 0, "")):
                written[secid] = rank
        names.update({secid: [name] for secid, (_, _, name) in written.items()})
        return names

    def security_counts(self, keys: tuple[int, int] | None = None) -> dict[str, int]:
        """How many articles (in a key range) name each security; without a range the count
        is read from the index alone, five times faster."""
        where, params = ("WHERE key BETWEEN ? AND ? ", keys) if keys else ("", ())
        return dict(self._x(f"SELECT secid, COUNT(*) FROM article_securities {where}GROUP BY secid",
                            params))

    def mention_keys(self, secid: str, keys: tuple[int, int]) -> list[int]:
        """The keys of the articles naming a security, in a key range, oldest first."""
        return [key for (key,) in self._x(
            "SELECT key FROM article_securities WHERE secid = ? AND key BETWEEN ? AND ? ORDER BY key",
            (secid, *keys))]

    def security_names(self, secid: str) -> list[tuple[str, int]]:
        """(name, last seen in Unix seconds) of every name a security was linked under,
        the newest first."""
        return [tuple(row) for row in self._x(
            "SELECT name, last_seen FROM security_names WHERE secid = ? ORDER BY last_seen DESC",
            (secid,))]

    def securities(self, query: str = "", limit: int | None = 100) -> list[dict]:
        """Securities with news, most mentioned first; ``query`` matches a code, a secid or
        any name it was seen under."""
        where, params = "", ()
        if query:
            like = f"%{query}%"
            where = ("WHERE s.secid = ? OR s.code = ? OR s.secid IN "
                     "(SELECT secid FROM security_names WHERE name LIKE ?)")
            params = (query, query, like)
        rows = self._x(
            f"SELECT s.secid, s.market, s.code, s.kind, {_NEWEST_NAME}, "
            "(SELECT COUNT(*) FROM article_securities m WHERE m.secid = s.secid) AS n "
            f"FROM securities s {where} ORDER BY n DESC, s.secid LIMIT ?",
            (*params, self.no_limit if limit is None else limit),
        )
        return [{"secid": secid, "market": market, "code": code, "kind": kind, "name": name or "",
                 "articles": n} for secid, market, code, kind, name, n in rows]

    # -- reading ---------------------------------------------------------------------------

    def _articles(self, sql: str, params: tuple = ()) -> list[Article]:
        return [_row_to_article(row) for row in self._x(sql, params)]

    def by_keys(self, keys: list[int], *, text: bool = False) -> dict[int, Article]:
        """Articles by key (keys not stored are left out); ``text``: with body and HTML."""
        columns = _FULL if text else _SUMMARY
        found: dict[int, Article] = {}
        for chunk in chunks(keys, 500):
            found.update((a.key, a) for a in self._articles(
                f"SELECT {columns} FROM articles WHERE key IN ({','.join('?' * len(chunk))})", tuple(chunk)))
        return found

    def get(self, article_id: str) -> Article | None:
        rows = self._articles(f"SELECT {_FULL} FROM articles WHERE id=?", (article_id,))
        if not rows:
            return None
        rows[0].aliases = self.article_aliases(article_id)
        return rows[0]

    def category_counts(self) -> list[CategoryCount]:
        rows = self._x(
            "SELECT a.category, COALESCE(c.outlet, ''), a.n FROM "
            "(SELECT category, COUNT(*) AS n FROM articles GROUP BY category) a "
            "LEFT JOIN categories c ON c.slug = a.category ORDER BY a.n DESC, a.category"
        )
        return [CategoryCount(slug, outlet, n) for slug, outlet, n in rows]

    def date_range(self) -> tuple[datetime, datetime] | None:
        low, high = self._x("SELECT MIN(published), MAX(published) FROM articles").fetchone()
        if low is None:
            return None
        return _dt(low), _dt(high)

    def iter_articles(self, batch: int = 1000, after: int | None = None) -> Iterator[Article]:
        """Every article (after a sort key), oldest first, in batches so memory stays flat."""
        last = after
        while True:
            if last is None:
                sql, params = f"SELECT {_FULL} FROM articles ORDER BY key LIMIT ?", (batch,)
            else:
                sql = f"SELECT {_FULL} FROM articles WHERE key > ? ORDER BY key LIMIT ?"
                params = (last, batch)
            rows = self._x(sql, params).fetchall()
            if not rows:
                return
            aliases = self._aliases_for([row[1] for row in rows])
            for row in rows:
                article = _row_to_article(row)
                article.aliases = aliases.get(article.id, [])
                yield article
            last = rows[-1][0]

    def _aliases_for(self, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        marks = ",".join("?" * len(ids))
        found: dict[str, list[tuple[str, str]]] = {}
        for category, code, aid in self._x(
            f"SELECT category, code, article_id FROM article_aliases WHERE article_id IN ({marks})"
            " ORDER BY category, code",
            ids,
        ):
            found.setdefault(aid, []).append((category, code))
        return found

    def article_aliases(self, article_id: str) -> list[tuple[str, str]]:
        return self._aliases_for([article_id]).get(article_id, [])

    def category_aliases(self) -> dict[str, str]:
        return dict(self._x("SELECT alias, slug FROM category_aliases"))

    def changes(self, article_id: str) -> list[Change]:
        return [
            Change(aid, h, _dt(prev), _dt(at))
            for aid, h, prev, at in self._x(
                "SELECT article_id, previous_hash, previous_changed, changed_at FROM changes "
                "WHERE article_id=? ORDER BY number, changed_at", (article_id,)
            )
        ]

    def versions(self, article_id: str) -> list[Version]:
        """Every version of an article, oldest first, the current one last; [] for an id
        not stored. Bodies are unpacked newest first, each from the one after it."""
        current = self.get(article_id)
        if current is None:
            return []
        rows = self._x(
            "SELECT previous_changed, changed_at, title, body FROM changes WHERE article_id = ? "
            "ORDER BY number DESC, changed_at DESC", (article_id,)).fetchall()
        count = len(rows) + 1
        assert current.last_changed is not None
        versions = [Version(count, current.title, current.body, current.last_changed, None)]
        newer: str | None = current.body
        for since, replaced, title, packed in rows:
            body = unpack(packed, newer) if packed is not None and newer is not None else None
            versions.append(Version(count - len(versions), title, body, _dt(since), _dt(replaced)))
            newer = body
        return versions[::-1]

    def revision_counts(self) -> dict[int, int]:
        """How many times each changed article changed, by key."""
        return dict(self._x(
            "SELECT a.key, COUNT(*) FROM changes c JOIN articles a ON a.id = c.article_id "
            "GROUP BY a.key"))

    def known(self, ids: Iterable[str]) -> dict[str, Stored]:
        """The archived copies of the given ids, by id."""
        found: dict[str, Stored] = {}
        id_list = list(set(ids))
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for aid, *fields in self._x(
                f"SELECT id, code, title, source, category, digest FROM articles WHERE id IN ({marks})",
                chunk,
            ):
                found[aid] = Stored(*fields)
        return found

    def source_health(self, name: str | None = None) -> list[SourceHealth]:
        sql = f"SELECT name, {', '.join(_HEALTH_COLUMNS)} FROM source_health"
        rows = self._x(sql + " WHERE name=?", (name,)) if name else self._x(
            sql + " ORDER BY name"
        )
        return [SourceHealth(*row) for row in rows]

    def save_source_health(self, health: SourceHealth) -> None:
        marks = ", ".join("?" * (len(_HEALTH_COLUMNS) + 1))
        self._x(
            f"INSERT INTO source_health (name, {', '.join(_HEALTH_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (name) DO UPDATE SET "
            + ", ".join(f"{c}=excluded.{c}" for c in _HEALTH_COLUMNS),
            (health.name, *(getattr(health, c) for c in _HEALTH_COLUMNS)),
        )

    def advance_checkpoint(self, name: str, published: int, article_id: str) -> None:
        """Move a source's checkpoint forward to an item (never back): call it only once
        everything between the old checkpoint and that item has landed."""
        self._x(
            "INSERT INTO source_health (name, checkpoint_time, checkpoint_id) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET checkpoint_time = excluded.checkpoint_time, "
            "checkpoint_id = excluded.checkpoint_id "
            "WHERE source_health.checkpoint_time <= excluded.checkpoint_time",
            (name, published, article_id),
        )

    def validators(self, url: str) -> tuple[str, str] | None:
        """(ETag, Last-Modified) last seen for a URL, for conditional GET."""
        return self._x(
            "SELECT etag, last_modified FROM http_validators WHERE url=?", (url,)
        ).fetchone()

    def save_validators(self, url: str, etag: str, last_modified: str) -> None:
        self._x(
            "INSERT INTO http_validators VALUES (?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
            "etag=excluded.etag, last_modified=excluded.last_modified", (url, etag, last_modified)
        )

    # -- for the site ----------------------------------------------------------------------

    def log_position(self) -> int:
        """The sequence number of the last change."""
        return self._x("SELECT COALESCE(MAX(seq), 0) FROM article_log").fetchone()[0]

    def log_since(self, seq: int) -> list[LogEntry]:
        return [
            LogEntry(s, action, key, aid, code, category, _dt(published), _tags(tags), stocks.split())
            for s, action, key, aid, code, category, published, tags, stocks in self._x(
                "SELECT seq, action, key, id, code, category, published, tags, stocks "
                "FROM article_log WHERE seq > ? ORDER BY seq", (seq,)
            )
        ]

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
        stock: str | None = None,
        with_stocks: bool = False,
        important: bool = False,
    ) -> list[Article]:
        """Articles filtered by category, tag, key range, security and importance, in key
        order; ``with_stocks`` fills each one's ``stocks`` with the secids it names."""
        where, params = self._filters(category, tag, keys, stock, important)
        order = "DESC" if newest_first else "ASC"
        cols = _FULL if with_body else _SUMMARY
        found = self._articles(
            f"SELECT {cols} FROM {where} ORDER BY key {order} LIMIT ? OFFSET ?",
            (*params, self.no_limit if limit is None else limit, offset),
        )
        return self._with_stocks(found) if with_stocks else found

    def _with_stocks(self, articles: list[Article]) -> list[Article]:
        named = self.stock_ids([a.key for a in articles])
        for article in articles:
            article.stocks = named[article.key]
        return articles

    def page_bodies(
        self, *, category: str, keys: tuple[int, int], limit: int
    ) -> list[tuple[Article, bytes]]:
        """An outlet's articles in key order (oldest first) without their text, with the
        secids they name, each with its publishable HTML as UTF-8: a full build writes
        every body, and decoding each into text only to encode it again was a tenth of the
        build's work."""
        sql = (f"SELECT {_SUMMARY}, {self.utf8_bytes.format(_PUBLISHABLE)} FROM articles "
               "WHERE category = ? AND key BETWEEN ? AND ? ORDER BY key LIMIT ?")
        rows = [(_row_to_article(row[:-1]), bytes(row[-1]))
                for row in self._x(sql, (category, *keys, limit))]
        self._with_stocks([article for article, _ in rows])
        return rows

    def count(
        self, *, category: str | None = None, tag: str | None = None,
        keys: tuple[int, int] | None = None, stock: str | None = None,
    ) -> int:
        """How many articles, of an outlet, with a tag, naming a security, in a key range."""
        where, params = self._key_filters(category, tag, keys, stock)
        return self._x(f"SELECT COUNT(*) FROM {where}", params).fetchone()[0]

    def _key_filters(
        self, category: str | None, tag: str | None, keys: tuple[int, int] | None,
        stock: str | None = None,
    ) -> tuple[str, tuple]:
        """Like _filters, for queries that need only keys: a tag or a security alone is
        answered from its own table, since joining the articles would read every one."""
        alone = [(table, column, value) for table, column, value in (
            ("article_tags", "tag", tag), ("article_securities", "secid", stock)) if value is not None]
        if category is not None or len(alone) != 1:
            return self._filters(category, tag, keys, stock)
        table, column, value = alone[0]
        where, params = f"{table} WHERE {column} = ?", (value,)
        if keys is not None:
            where, params = where + " AND key BETWEEN ? AND ?", (*params, *keys)
        return where, params

    @staticmethod
    def _filters(
        category: str | None, tag: str | None, keys: tuple[int, int] | None,
        stock: str | None = None, important: bool = False,
    ) -> tuple[str, tuple]:
        clauses: list[str] = []
        params: list = []
        if category is not None:
            clauses.append("category = ?")
            params.append(category)
        if tag is not None:
            clauses.append("tag = ?")
            params.append(tag)
        if keys is not None:
            clauses.append("key BETWEEN ? AND ?")
            params += list(keys)
        if stock is not None:
            clauses.append("key IN (SELECT key FROM article_securities WHERE secid = ?)")
            params.append(stock)
        if important:
            clauses.append(_IMPORTANT.format("key"))
        source = "article_tags JOIN articles USING (key)" if tag is not None else "articles"
        return f"{source} " + ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)

    def nth_key(self, position: int, *, keys: tuple[int, int], category: str | None = None,
                tag: str | None = None, stock: str | None = None) -> int | None:
        """The key at ``position`` (0 is the oldest) of the filtered articles, or None: read
        from an index alone, where skipping with OFFSET would read each skipped article."""
        where, params = self._key_filters(category, tag, keys, stock)
        row = self._x(f"SELECT key FROM {where} ORDER BY key LIMIT 1 OFFSET ?",
                      (*params, position)).fetchone()
        return row[0] if row else None

    def page_dates(
        self, keys: tuple[int, int]
    ) -> list[tuple[str, str, datetime, datetime, datetime]]:
        """(category, code, published, first seen, last changed) of each article in the
        key range, oldest first: what a sitemap lists, without building whole articles."""
        rows = self._x(
            "SELECT category, code, published, first_seen, last_changed FROM articles "
            "WHERE key BETWEEN ? AND ? ORDER BY key", keys,
        )
        return [(category, code, _dt(published), _dt(seen), _dt(changed))
                for category, code, published, seen, changed in rows]

    def story_articles(self, stories: list[int] | None = None) -> dict[int, list[Article]]:
        """The articles (summaries, with their secids) of each story of more than one
        article, or of the given stories, oldest (the lead) first: what a site build shows
        of stories, a few hundred bytes per copy."""
        if stories is None:
            where = ("JOIN (SELECT story FROM article_stories GROUP BY story HAVING COUNT(*) > 1) m "
                     "ON m.story = s.story", ())
            parts = [where]
        else:
            parts = [(f"WHERE s.story IN ({','.join('?' * len(chunk))})", tuple(chunk))
                     for chunk in chunks(stories, 500)]
        found: dict[int, list[Article]] = {}
        for clause, params in parts:
            for row in self._x(f"SELECT s.story, {_SUMMARY_A} FROM article_stories s "
                               f"JOIN articles a ON a.key = s.key {clause} ORDER BY s.story, s.key", params):
                found.setdefault(row[0], []).append(_row_to_article(row[1:]))
        self._with_stocks([a for members in found.values() for a in members])
        return found

    def tag_counts(self) -> dict[str, int]:
        return dict(self._x("SELECT tag, COUNT(*) FROM article_tags GROUP BY tag"))

    def all_aliases(self) -> list[tuple[str, str, Article]]:
        """(category, code, the article it points to) for every alias."""
        rows = self._x(
            f"SELECT al.category, al.code, {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))}, "
            "'', '' FROM article_aliases al JOIN articles a ON a.id = al.article_id"
        ).fetchall()
        return [(row[0], row[1], _row_to_article(row[2:])) for row in rows]


    # -- several collectors -------------------------------------------------------------------

    def lease_sources(self, names: list[str], holder: str, seconds: float) -> list[str]:
        """Of the named sources, those now leased to ``holder`` for ``seconds``: free ones and
        those whose lease expired (a collector that died) or that it already holds."""
        if not names:
            return []
        now = int(time.time())
        marks = ",".join("?" * len(names))
        with self.transaction(exclusive=False):
            self._xm("INSERT INTO source_leases (name) VALUES (?) ON CONFLICT DO NOTHING",
                     [(n,) for n in names])
            free = [
                name for name, held_by, expires in self._x(
                    f"SELECT name, holder, expires FROM source_leases WHERE name IN ({marks}) "
                    f"ORDER BY name{self.skip_locked}",
                    names,
                ).fetchall()
                if expires < now or held_by in ("", holder) or holder_is_dead(held_by)
            ]
            self._xm("UPDATE source_leases SET holder = ?, expires = ? WHERE name = ?",
                     [(holder, now + int(seconds) + 1, name) for name in free])
        return free

    def release_source(self, name: str, holder: str) -> None:
        self._x("UPDATE source_leases SET holder = '', expires = 0 WHERE name = ? AND holder = ?",
                (name, holder))

    # -- copying between archives ------------------------------------------------------------

    def fingerprints(self, after: int = -1, batch: int = 5000) -> Iterator[tuple[int, str, str]]:
        """(sort key, id, content hash) of every article after ``after``, in key order."""
        while True:
            rows = self._x(
                "SELECT key, id, content_hash FROM articles WHERE key > ? ORDER BY key LIMIT ?",
                (after, batch),
            ).fetchall()
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def keys_in(self, keys: tuple[int, int]) -> list[int]:
        """Every sort key in a range, oldest first: how a site's search index is cut."""
        rows = self._x("SELECT key FROM articles WHERE key BETWEEN ? AND ? ORDER BY key", keys)
        return [key for (key,) in rows]

    def last_key(self) -> int:
        """The highest sort key, -1 for an empty archive."""
        return self._x("SELECT COALESCE(MAX(key), -1) FROM articles").fetchone()[0]

    def restore(self, articles: list[Article], content_hashes: list[str]) -> None:
        """Store articles exactly as another archive holds them (keys, times, aliases), in
        one transaction; ones already present are left alone."""
        rows, tag_rows, alias_rows, log_rows = [], [], [], []
        for a, digest in zip(articles, content_hashes, strict=True):
            fields = _stored_fields(a)
            html = _html_column(a.body, a.html)
            rows.append((a.key, a.id, *fields, digest, _ts(a.first_seen), _ts(a.last_changed),
                         a.source, html))
            tag_rows += [(tag, a.key) for tag in a.tags]
            alias_rows += [(category, code, a.id) for category, code in a.aliases]
            log_rows.append(("put", a.key, a.id, a.code, a.category, fields[2], fields[5]))
        with self.transaction():
            known = {k for (k,) in self._x(
                f"SELECT key FROM articles WHERE key IN ({','.join('?' * len(rows))})",
                [r[0] for r in rows],
            )} if rows else set()
            fresh = [i for i, r in enumerate(rows) if r[0] not in known]
            self._xm(_INSERT_ARTICLE, [rows[i] for i in fresh])
            self._index([(articles[i].key, articles[i]) for i in fresh])
            self._restore_bands([articles[i] for i in fresh])
            self._xm(_INSERT_TAG, tag_rows)
            self._xm("INSERT INTO article_aliases VALUES (?, ?, ?) ON CONFLICT DO NOTHING", alias_rows)
            self._xm(
                "INSERT INTO article_log (action, key, id, code, category, published, tags) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", [log_rows[i] for i in fresh])

    def stored_hashes(self, keys: list[int]) -> dict[int, str]:
        marks = ",".join("?" * len(keys))
        return dict(self._x(f"SELECT key, content_hash FROM articles WHERE key IN ({marks})", keys))

    def dump_state(self) -> dict[str, list[tuple]]:
        """Everything besides the articles: categories, aliases, changes, source health."""
        return {table: [tuple(r) for r in self._x(f"SELECT * FROM {table}")] for table in STATE_TABLES}

    def load_state(self, state: dict[str, list[tuple]]) -> None:
        with self.transaction():
            for table, rows in state.items():
                if rows:
                    marks = ",".join("?" * len(rows[0]))
                    conflict = "" if table == "changes" else " ON CONFLICT DO NOTHING"
                    if table == "changes":
                        self._x("DELETE FROM changes")
                    self._xm(f"INSERT INTO {table} VALUES ({marks}){conflict}", rows)
