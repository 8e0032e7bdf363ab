"""The default archive: one SQLite file in WAL mode, with a versioned schema."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from finews.clean import publishable_html
from finews.model import Article, CategoryCount, FinewsError, UpsertResult
from finews.store.base import (
    RANKED_CANDIDATES,
    CategoryRegistry,
    Change,
    LogEntry,
    SourceHealth,
    Store,
    key_range,
    prefer_incoming,
    relevance_score,
    sort_key,
)
from finews.store.fulltext import (
    INDEX_VERSION,
    Query,
    SearchHit,
    index_tokens,
    matches,
    searchable_text,
    snippet,
)


def _backfill_html(db: sqlite3.Connection) -> None:
    """Derive the publishable HTML of articles stored before it was kept."""
    rows = db.execute("SELECT key, body, url FROM articles").fetchall()
    db.executemany(
        "UPDATE articles SET html=? WHERE key=?",
        [(_html_column(body, publishable_html(body, url)), key) for key, body, url in rows],
    )


def _html_column(body: str, clean: str) -> str:
    """The sanitised HTML is stored only where it differs from the body as received."""
    return "" if clean == body else clean


MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    """
    CREATE TABLE articles (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        code TEXT NOT NULL,
        title TEXT NOT NULL,
        published INTEGER NOT NULL,
        outlet TEXT NOT NULL,
        category TEXT NOT NULL,
        tags TEXT NOT NULL,
        digest TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_changed INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX articles_category ON articles (category, key);
    CREATE TABLE article_tags (
        tag TEXT NOT NULL,
        key INTEGER NOT NULL,
        PRIMARY KEY (tag, key)
    ) WITHOUT ROWID;
    CREATE TABLE article_aliases (
        category TEXT NOT NULL,
        code TEXT NOT NULL,
        article_id TEXT NOT NULL,
        PRIMARY KEY (category, code)
    ) WITHOUT ROWID;
    CREATE INDEX article_aliases_article ON article_aliases (article_id);
    CREATE TABLE categories (
        slug TEXT PRIMARY KEY,
        outlet TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX categories_outlet ON categories (outlet);
    CREATE TABLE category_aliases (
        alias TEXT PRIMARY KEY,
        slug TEXT NOT NULL
    );
    CREATE TABLE changes (
        article_id TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        previous_changed INTEGER NOT NULL,
        changed_at INTEGER NOT NULL
    );
    CREATE INDEX changes_article ON changes (article_id);
    """,
    """
    ALTER TABLE articles ADD COLUMN html TEXT NOT NULL DEFAULT '';
    CREATE TABLE source_health (
        name TEXT PRIMARY KEY,
        last_run INTEGER NOT NULL DEFAULT 0,
        last_success INTEGER NOT NULL DEFAULT 0,
        last_error_at INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        items_last_run INTEGER NOT NULL DEFAULT 0,
        next_due INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE http_validators (
        url TEXT PRIMARY KEY,
        etag TEXT NOT NULL,
        last_modified TEXT NOT NULL
    );
    """,
    _backfill_html,
    """
    CREATE TABLE article_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        key INTEGER NOT NULL,
        id TEXT NOT NULL,
        code TEXT NOT NULL,
        category TEXT NOT NULL,
        published INTEGER NOT NULL,
        tags TEXT NOT NULL
    );
    INSERT INTO article_log (action, key, id, code, category, published, tags)
        SELECT 'put', key, id, code, category, published, tags FROM articles ORDER BY key;
    """,
    """
    CREATE VIRTUAL TABLE search_index USING fts5(
        title, body, content='', tokenize='ascii', detail=full
    );
    """,
]

_INSERT_TOKENS = "INSERT INTO search_index (rowid, title, body) VALUES (?, ?, ?)"


def _reindex(db: sqlite3.Connection) -> None:
    """Rebuild the search index from the articles (after a change of tokens)."""
    db.execute("INSERT INTO search_index (search_index) VALUES ('delete-all')")
    last = -1
    while True:
        rows = db.execute(
            "SELECT key, title, body, html FROM articles WHERE key > ? ORDER BY key LIMIT 1000",
            (last,),
        ).fetchall()
        if not rows:
            break
        db.executemany(
            _INSERT_TOKENS,
            [(key, *_stored_tokens(title, body, html)) for key, title, body, html in rows],
        )
        last = rows[-1][0]
    db.execute("INSERT OR REPLACE INTO meta VALUES ('search_version', ?)", (INDEX_VERSION,))


def _stored_tokens(title: str, body: str, html: str) -> tuple[str, str]:
    text = searchable_text(title, html or body)
    head, _, rest = text.partition("\n")
    return index_tokens(head), index_tokens(rest)

_COLUMNS = (
    "key, id, code, title, published, outlet, category, tags, digest, url, source, "
    "first_seen, last_changed"
)
_SUMMARY = f"{_COLUMNS}, '' AS body, '' AS html"
_FULL = f"{_COLUMNS}, body, html"
_FULL_A = ", ".join("a." + c.strip() for c in _FULL.split(","))


def _ts(dt: datetime) -> int:
    return int(dt.timestamp())


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


TAG_SEPARATOR = "\x1f"


def _tags(stored: str) -> list[str]:
    return stored.split(TAG_SEPARATOR) if stored else []


def _row_to_article(row: sqlite3.Row | tuple) -> Article:
    """Rows were validated when stored: build the Article without validating again."""
    (key, aid, code, title, published, outlet, category, tags, digest, url, source,
     first_seen, last_changed, body, html) = row
    return Article.trusted(
        id=aid, code=code, title=title, published=_dt(published), outlet=outlet,
        category=category, tags=_tags(tags), body=body, digest=digest, url=url,
        source=source, first_seen=_dt(first_seen), last_changed=_dt(last_changed), key=key,
        aliases=[], html=html or body,
    )


def _confirmed(row: tuple, query: Query, score: float = 0.0) -> SearchHit | None:
    """The hit, if the article really contains the query: a term with punctuation inside
    it ("3.5%") matches any punctuation in the index, so those hits are checked."""
    article = _row_to_article(row)
    if not query.exact() and not matches(article.title, article.html, query):
        return None
    return SearchHit(article, snippet(article.html, query), score)


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


class SQLiteStore(Store):
    def __init__(self, path: str | Path, category_overrides: dict[str, str] | None = None):
        self.path = Path(path)
        self.url = str(self.path)
        self.category_overrides = category_overrides or {}
        if not self.path.parent.exists():
            raise FinewsError(
                f"cannot open archive {self.path}: folder {self.path.parent} does not exist"
            )
        try:
            self.db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA cache_size=-16384")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise FinewsError(
                f"cannot open archive {self.path}: {exc}. The file is not a finews archive or "
                "is damaged; restore it from a backup or set archive.database_url to another file"
            ) from exc

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise FinewsError(
                f"archive {self.path} has schema version {version}, newer than this finews "
                f"understands ({len(MIGRATIONS)}); upgrade finews"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if callable(script):
                    script(self.db)
                else:
                    for statement in script.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(number),)
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        row = self.db.execute("SELECT value FROM meta WHERE key='search_version'").fetchone()
        if row is None or row[0] != INDEX_VERSION:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                _reindex(self.db)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    # -- writing ---------------------------------------------------------------------------

    def upsert(
        self, articles: Iterable[Article], *, rolling: Iterable[str] = ("emnews",)
    ) -> UpsertResult:
        batch = list(articles)
        rolling = set(rolling)
        result = UpsertResult()
        now = int(time.time())
        self.db.execute("BEGIN IMMEDIATE")
        try:
            registry = CategoryRegistry(
                self.db.execute("SELECT slug, outlet FROM categories"), self.category_overrides
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
            self.db.executemany(
                "INSERT OR IGNORE INTO categories VALUES (?, ?, ?)",
                [(slug, outlet, now) for slug, outlet in registry.new],
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO category_aliases VALUES (?, ?)", registry.new_aliases
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return result

    def _existing(self, ids: set[str]) -> dict[str, _Row]:
        found: dict[str, _Row] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
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
            a.html = a.html or publishable_html(a.body, a.url)
            html = _html_column(a.body, a.html)
            rows.append((key, a.id, *fields, a.content_hash, first_seen, now, a.source, html))
            token_rows.append((key, *a.search_tokens))
            tag_rows += [(tag, key) for tag in a.tags]
            log_rows.append(("put", key, a.id, a.code, a.category, fields[2], fields[5]))
            stored[a.id] = _Row(key, fields, a.content_hash, first_seen, now, a.source)
        self.db.execute("SAVEPOINT bulk")
        try:
            self.db.executemany(_INSERT_ARTICLE, rows)
            self.db.executemany(_INSERT_TOKENS, token_rows)
            self.db.executemany("INSERT OR IGNORE INTO article_tags VALUES (?, ?)", tag_rows)
            self.db.executemany(
                "INSERT INTO article_log (action, key, id, code, category, published, tags) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", log_rows)
        except sqlite3.IntegrityError:
            self.db.execute("ROLLBACK TO bulk")
            self.db.execute("RELEASE bulk")
            return False
        self.db.execute("RELEASE bulk")
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
        if code != article.code:
            if prefer_incoming(category, article, rolling):
                self._add_aliases(article.id, [(category, code)])
                existing[article.id] = self._replace(row, article, now)
            else:
                self._add_aliases(article.id, [(article.category, article.code)])
            result.merged += 1
            return
        self._add_aliases(article.id, article.aliases)
        if row.fields == _stored_fields(article) or (
            _owned_by_another(row, article) and not prefer_incoming(category, article, rolling)
        ):
            result.unchanged += 1
            return
        existing[article.id] = self._replace(row, article, now)
        result.updated += 1

    def _add_aliases(self, article_id: str, aliases: Iterable[tuple[str, str]]) -> None:
        rows = [(category, code, article_id) for category, code in aliases]
        if not rows:
            return
        added = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO article_aliases VALUES (?, ?, ?)", rows)
        if self.db.total_changes != added:
            self.db.execute(
                "INSERT INTO article_log (action, key, id, code, category, published, tags) "
                "SELECT 'alias', key, id, code, category, published, tags FROM articles "
                "WHERE id=?",
                (article_id,),
            )

    def _log(self, action: str, key: int) -> None:
        self.db.execute(
            "INSERT INTO article_log (action, key, id, code, category, published, tags) "
            "SELECT ?, key, id, code, category, published, tags FROM articles WHERE key=?",
            (action, key),
        )

    def _insert(
        self, article: Article, first_seen: int, last_changed: int, source: str | None = None
    ) -> _Row:
        fields = _stored_fields(article)
        digest = article.content_hash
        article.html = article.html or publishable_html(article.body, article.url)
        html = _html_column(article.body, article.html)
        source = source if source is not None else article.source
        for attempt in range(1 << 10):
            key = sort_key(article.published, article.id, attempt)
            try:
                self.db.execute(
                    _INSERT_ARTICLE,
                    (key, article.id, *fields, digest, first_seen, last_changed, source, html),
                )
            except sqlite3.IntegrityError:
                if self.db.execute("SELECT 1 FROM articles WHERE key=?", (key,)).fetchone():
                    continue
                raise
            self.db.execute(_INSERT_TOKENS, (key, *article.search_tokens))
            self.db.executemany(
                "INSERT OR IGNORE INTO article_tags VALUES (?, ?)",
                [(tag, key) for tag in article.tags],
            )
            self._log("put", key)
            return _Row(key, fields, digest, first_seen, last_changed, source)
        raise FinewsError(f"no free sort key for article {article.id}")

    def _replace(self, row: _Row, article: Article, now: int) -> _Row:
        """Rewrite an article in place; its key follows its publication time."""
        self._log("drop", row.key)
        self._unindex(row.key)
        self.db.execute("DELETE FROM article_tags WHERE key=?", (row.key,))
        self.db.execute("DELETE FROM articles WHERE key=?", (row.key,))
        changed = article.content_hash != row.content_hash
        new = self._insert(
            article, row.first_seen, now if changed else row.last_changed, row.source or None
        )
        if changed:
            self.db.execute(
                "INSERT INTO changes VALUES (?, ?, ?, ?)",
                (article.id, row.content_hash, row.last_changed, now),
            )
        return new

    def _unindex(self, key: int) -> None:
        """Remove an article from the contentless index, which needs the tokens it holds."""
        title, body, html = self.db.execute(
            "SELECT title, body, html FROM articles WHERE key=?", (key,)
        ).fetchone()
        self.db.execute(
            "INSERT INTO search_index (search_index, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            (key, *_stored_tokens(title, body, html)),
        )

    # -- reading ---------------------------------------------------------------------------

    def _articles(self, sql: str, params: tuple = ()) -> list[Article]:
        return [_row_to_article(row) for row in self.db.execute(sql, params)]

    def get(self, article_id: str) -> Article | None:
        rows = self._articles(f"SELECT {_FULL} FROM articles WHERE id=?", (article_id,))
        if not rows:
            return None
        rows[0].aliases = self.article_aliases(article_id)
        return rows[0]

    def latest(self, limit: int = 100, *, with_body: bool = True) -> list[Article]:
        cols = _FULL if with_body else _SUMMARY
        return self._articles(f"SELECT {cols} FROM articles ORDER BY key DESC LIMIT ?", (limit,))

    def by_category(
        self, slug: str, page: int = 1, per_page: int = 100, *, with_body: bool = True
    ) -> list[Article]:
        cols = _FULL if with_body else _SUMMARY
        return self._articles(
            f"SELECT {cols} FROM articles WHERE category=? ORDER BY key DESC LIMIT ? OFFSET ?",
            (slug, per_page, (page - 1) * per_page),
        )

    def by_tag(
        self, tag: str, page: int = 1, per_page: int = 100, *, with_body: bool = True
    ) -> list[Article]:
        cols = _FULL if with_body else _SUMMARY
        return self._articles(
            f"SELECT {cols} FROM articles WHERE key IN (SELECT key FROM article_tags "
            "WHERE tag=? ORDER BY key DESC LIMIT ? OFFSET ?) ORDER BY key DESC",
            (tag, per_page, (page - 1) * per_page),
        )

    def by_day(self, day: date, tz: ZoneInfo, *, with_body: bool = True) -> list[Article]:
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        low, high = key_range(start, start + timedelta(days=1))
        cols = _FULL if with_body else _SUMMARY
        return self._articles(
            f"SELECT {cols} FROM articles WHERE key BETWEEN ? AND ? ORDER BY key DESC",
            (low, high),
        )

    def category_counts(self) -> list[CategoryCount]:
        rows = self.db.execute(
            "SELECT a.category, COALESCE(c.outlet, ''), a.n FROM "
            "(SELECT category, COUNT(*) AS n FROM articles GROUP BY category) a "
            "LEFT JOIN categories c ON c.slug = a.category ORDER BY a.n DESC, a.category"
        )
        return [CategoryCount(slug, outlet, n) for slug, outlet, n in rows]

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def date_range(self) -> tuple[datetime, datetime] | None:
        low, high = self.db.execute("SELECT MIN(published), MAX(published) FROM articles").fetchone()
        if low is None:
            return None
        return _dt(low), _dt(high)

    def iter_articles(self, batch: int = 1000) -> Iterator[Article]:
        last = None
        while True:
            if last is None:
                sql, params = f"SELECT {_FULL} FROM articles ORDER BY key LIMIT ?", (batch,)
            else:
                sql = f"SELECT {_FULL} FROM articles WHERE key > ? ORDER BY key LIMIT ?"
                params = (last, batch)
            rows = self.db.execute(sql, params).fetchall()
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
        for category, code, aid in self.db.execute(
            f"SELECT category, code, article_id FROM article_aliases WHERE article_id IN ({marks})"
            " ORDER BY category, code",
            ids,
        ):
            found.setdefault(aid, []).append((category, code))
        return found

    def article_aliases(self, article_id: str) -> list[tuple[str, str]]:
        return self._aliases_for([article_id]).get(article_id, [])

    def category_aliases(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT alias, slug FROM category_aliases"))

    def changes(self, article_id: str) -> list[Change]:
        return [
            Change(aid, h, _dt(prev), _dt(at))
            for aid, h, prev, at in self.db.execute(
                "SELECT * FROM changes WHERE article_id=? ORDER BY changed_at", (article_id,)
            )
        ]

    def size_bytes(self) -> int:
        return sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"))
            if p.exists()
        )

    def known(self, ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        found: dict[str, tuple[str, str, str]] = {}
        id_list = list(set(ids))
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for aid, code, title, source in self.db.execute(
                f"SELECT id, code, title, source FROM articles WHERE id IN ({marks})", chunk
            ):
                found[aid] = (code, title, source)
        return found

    def source_health(self, name: str | None = None) -> list[SourceHealth]:
        sql = "SELECT * FROM source_health"
        rows = self.db.execute(sql + " WHERE name=?", (name,)) if name else self.db.execute(
            sql + " ORDER BY name"
        )
        return [SourceHealth(*row) for row in rows]

    def save_source_health(self, health: SourceHealth) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO source_health VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            tuple(health.__dict__.values()),
        )

    def validators(self, url: str) -> tuple[str, str] | None:
        return self.db.execute(
            "SELECT etag, last_modified FROM http_validators WHERE url=?", (url,)
        ).fetchone()

    def save_validators(self, url: str, etag: str, last_modified: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO http_validators VALUES (?, ?, ?)", (url, etag, last_modified)
        )

    # -- for the site ----------------------------------------------------------------------

    def log_position(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM article_log").fetchone()[0]

    def log_since(self, seq: int) -> list[LogEntry]:
        return [
            LogEntry(s, action, key, aid, code, category, _dt(published), _tags(tags))
            for s, action, key, aid, code, category, published, tags in self.db.execute(
                "SELECT * FROM article_log WHERE seq > ? ORDER BY seq", (seq,)
            )
        ]

    def summaries(
        self,
        *,
        category: str | None = None,
        tag: str | None = None,
        keys: tuple[int, int] | None = None,
        newest_first: bool = True,
        limit: int = -1,
        offset: int = 0,
        with_body: bool = False,
    ) -> list[Article]:
        where, params = self._filters(category, tag, keys)
        order = "DESC" if newest_first else "ASC"
        cols = _FULL if with_body else _SUMMARY
        return self._articles(
            f"SELECT {cols} FROM {where} ORDER BY key {order} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    def count_where(
        self, *, category: str | None = None, tag: str | None = None,
        keys: tuple[int, int] | None = None,
    ) -> int:
        where, params = self._filters(category, tag, keys)
        return self.db.execute(f"SELECT COUNT(*) FROM {where}", params).fetchone()[0]

    @staticmethod
    def _filters(
        category: str | None, tag: str | None, keys: tuple[int, int] | None
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
        source = "article_tags JOIN articles USING (key)" if tag is not None else "articles"
        return f"{source} " + ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)

    def nearest_key(self, key: int, *, before: bool, category: str | None = None) -> int | None:
        op, agg = ("<", "MAX") if before else (">", "MIN")
        where = " AND category = ?" if category is not None else ""
        params = (key, category) if category is not None else (key,)
        return self.db.execute(
            f"SELECT {agg}(key) FROM articles WHERE key {op} ?{where}", params
        ).fetchone()[0]

    def all_keys(self) -> list[int]:
        return [k for (k,) in self.db.execute("SELECT key FROM articles ORDER BY key")]

    def tag_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT tag, COUNT(*) FROM article_tags GROUP BY tag"))

    def all_aliases(self) -> list[tuple[str, str, Article]]:
        """(category, code, the article it points to) for every alias."""
        rows = self.db.execute(
            f"SELECT al.category, al.code, {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))}, "
            "'', '' FROM article_aliases al JOIN articles a ON a.id = al.article_id"
        ).fetchall()
        return [(row[0], row[1], _row_to_article(row[2:])) for row in rows]

    # -- search ----------------------------------------------------------------------------

    def search(
        self,
        query: Query,
        *,
        category: str | None = None,
        tag: str | None = None,
        keys: tuple[int, int] | None = None,
        limit: int | None = 20,
        ranked: bool = False,
    ) -> list[SearchHit]:
        where, params = self._search_filters(query, category, tag, keys)
        if ranked:
            return self._ranked(query, where, params, limit)
        hits: list[SearchHit] = []
        upper = None
        step = 64 if limit is None else max(limit + limit // 4, 8)
        while limit is None or len(hits) < limit:
            bound = " AND s.rowid < ?" if upper is not None else ""
            rows = self.db.execute(
                f"SELECT {_FULL_A} FROM search_index s JOIN articles a ON a.key = s.rowid "
                f"WHERE {where}{bound} ORDER BY s.rowid DESC LIMIT ?",
                (*params, *((upper,) if upper is not None else ()), step),
            ).fetchall()
            for row in rows:
                hit = _confirmed(row, query)
                if hit is not None:
                    hits.append(hit)
                    if limit is not None and len(hits) == limit:
                        break
            if len(rows) < step:
                break
            upper = rows[-1][0]
            step = min(step * 4, 4096)
        return hits

    def _ranked(self, query: Query, where: str, params: tuple, limit: int | None) -> list[SearchHit]:
        """Headline matches first, best (bm25 of the title, halved every 90 days of age)
        first; then the other matches, newest first. bm25 over the bodies would need a
        scan of every match of a phrase, seconds for a common word, so the body counts
        only as a match. Candidates: the newest RANKED_CANDIDATES of each kind."""
        title_params = ("title : " + params[0], *params[1:])
        now = time.time()
        titled = self.db.execute(
            f"SELECT s.rowid, bm25(search_index, 1.0, 0.0) FROM search_index s "
            f"JOIN articles a ON a.key = s.rowid WHERE {where} "
            "ORDER BY s.rowid DESC LIMIT ?",
            (*title_params, RANKED_CANDIDATES),
        ).fetchall()
        order = sorted(
            ((relevance_score(1.0 - bm25, key, now), key) for key, bm25 in titled), reverse=True
        )
        seen = {key for key, _ in titled}
        order += [
            (relevance_score(0.0, key, now), key)
            for (key,) in self.db.execute(
                f"SELECT s.rowid FROM search_index s JOIN articles a ON a.key = s.rowid "
                f"WHERE {where} ORDER BY s.rowid DESC LIMIT ?",
                (*params, RANKED_CANDIDATES),
            )
            if key not in seen
        ]
        hits: list[SearchHit] = []
        for start in range(0, len(order), 32):
            chunk = order[start : start + 32]
            rows = {
                row[0]: row
                for row in self.db.execute(
                    f"SELECT {_FULL} FROM articles WHERE key IN ({','.join('?' * len(chunk))})",
                    [key for _, key in chunk],
                )
            }
            for score, key in chunk:
                hit = _confirmed(rows[key], query, score)
                if hit is not None:
                    hits.append(hit)
                    if limit is not None and len(hits) == limit:
                        return hits
        return hits

    @staticmethod
    def _search_filters(
        query: Query, category: str | None, tag: str | None, keys: tuple[int, int] | None
    ) -> tuple[str, tuple]:
        clauses, params = ["search_index MATCH ?"], [query.fts5_expression()]
        if category is not None:
            clauses.append("a.category = ?")
            params.append(category)
        if tag is not None:
            clauses.append("a.key IN (SELECT key FROM article_tags WHERE tag = ?)")
            params.append(tag)
        if keys is not None:
            clauses.append("s.rowid BETWEEN ? AND ?")
            params += list(keys)
        return " AND ".join(clauses), tuple(params)

    def integrity_check(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        self.db.close()
