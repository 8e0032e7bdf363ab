"""The default archive: one SQLite file in WAL mode, with a versioned schema."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from finews.clean import publishable_html
from finews.errors import FinewsError
from finews.fulltext import INDEX_VERSION, Query, Tokens, matches, normalize, text_tokens
from finews.model import Article
from finews.store.following import FOLLOW_MIGRATION
from finews.store.grouping import STORY_BANDS_MIGRATION, STORY_MIGRATION
from finews.store.sql import (
    _FULL_A,
    _SUMMARY_A,
    CHECKPOINT_MIGRATION,
    REVISIONS_MIGRATION,
    SITE_STOCKS_MIGRATION,
    STOCKS_MIGRATION,
    SearchFilters,
    Store,
    _html_column,
    _row_to_article,
)
from finews.store.url import ArchiveURL

PAGE_SIZE = 16384
"""For new archives (an existing one keeps its own): an article's body fits one page, and
writing the search index took a tenth less time than with SQLite's default 4 KB."""
BUSY_SECONDS = 30
"""How long a connection waits for another process's write to finish."""
INDEX_BUFFER_BYTES = 16 << 20
"""How much index data FTS5 gathers in memory before it writes a segment (1 MB by default):
a batch of 1,000 imported articles then becomes one segment instead of dozens that must
be merged again, which cut the index's share of an import by about a fifth."""


def _backfill_html(db: sqlite3.Connection) -> None:
    """Derive the publishable HTML of articles stored before it was kept."""
    rows = db.execute("SELECT key, body, url FROM articles").fetchall()
    db.executemany(
        "UPDATE articles SET html=? WHERE key=?",
        [(_html_column(body, publishable_html(body, url)), key) for key, body, url in rows],
    )


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
    """
    CREATE TABLE source_leases (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL DEFAULT '', expires INTEGER NOT NULL DEFAULT 0
    );
    """,
    """
    CREATE VIRTUAL TABLE search_titles USING fts5(
        title, content='', tokenize='ascii', detail=full
    );
    """,
    f"""
    CREATE VIRTUAL TABLE search_chars USING fts5(chars, content='', tokenize='ascii', detail=none);
    INSERT INTO search_index (search_index, rank) VALUES ('hashsize', {INDEX_BUFFER_BYTES});
    INSERT INTO search_titles (search_titles, rank) VALUES ('hashsize', {INDEX_BUFFER_BYTES});
    INSERT INTO search_chars (search_chars, rank) VALUES ('hashsize', {INDEX_BUFFER_BYTES});
    """,
    CHECKPOINT_MIGRATION,
    STOCKS_MIGRATION,
    SITE_STOCKS_MIGRATION,
    STORY_MIGRATION,
    STORY_BANDS_MIGRATION.replace("(week, band, key)\n    );", "(week, band, key)\n    ) WITHOUT ROWID;"),
    FOLLOW_MIGRATION,
    """
    CREATE VIEW news AS SELECT a.id, a.key,
        strftime('%Y-%m-%dT%H:%M:%S+08:00', a.published, 'unixepoch', '+8 hours') AS published,
        a.outlet, a.title, a.url, a.digest,
        COALESCE((SELECT group_concat(m.secid, ' ') FROM article_securities m WHERE m.key = a.key), '')
            AS stocks,
        EXISTS (SELECT 1 FROM article_importance i WHERE i.key = a.key) AS important
    FROM articles a
    """,
    REVISIONS_MIGRATION.format(blob="BLOB"),
]
"""The step before the last is ``news``, the read-only view an analyst opens in datasette or
sqlite3: time as ISO text in Beijing time, outlet, title, URL, digest, securities,
importance. The last keeps earlier versions with each change (finews.revisions)."""

TOKENS_VERSION = f"{INDEX_VERSION}-pairs"
"""The version of the searchable text and of the tokens made of it: the index is rebuilt
when it changes."""
SEARCH_TABLES = ("search_index", "search_chars", "search_titles")
_INSERT_TOKENS = "INSERT INTO search_index (rowid, title, body) VALUES (?, ?, ?)"
_INSERT_CHARS = "INSERT INTO search_chars (rowid, chars) VALUES (?, ?)"
_INSERT_TITLE = "INSERT INTO search_titles (rowid, title) VALUES (?, ?)"


def _add_to_index(db: sqlite3.Connection, rows: list[tuple[int, Tokens]]) -> None:
    db.executemany(_INSERT_TOKENS, [(key, t.title_pairs, t.body_pairs) for key, t in rows])
    db.executemany(_INSERT_CHARS, [(key, t.chars) for key, t in rows])
    db.executemany(_INSERT_TITLE, [(key, t.title_chars) for key, t in rows])


def _reindex(db: sqlite3.Connection) -> None:
    """Rebuild the search index from the articles (after a change of tokens)."""
    for table in SEARCH_TABLES:
        db.execute(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
    last = -1
    while True:
        rows = db.execute(
            "SELECT key, title, body, html FROM articles WHERE key > ? ORDER BY key LIMIT 1000",
            (last,),
        ).fetchall()
        if not rows:
            break
        _add_to_index(db, [(key, _stored_tokens(title, body, html)) for key, title, body, html in rows])
        last = rows[-1][0]
    db.execute("INSERT OR REPLACE INTO meta VALUES ('search_version', ?)", (TOKENS_VERSION,))


def _stored_tokens(title: str, body: str, html: str) -> Tokens:
    """The tokens an archived row was indexed with (html is stored only where it differs)."""
    return text_tokens(title, html or body)


def _body_match(query: Query, excluding: bool = True) -> tuple[str, str, tuple[str, ...]]:
    """(FROM clause with alias s, WHERE clause, its parameters) for the articles whose
    title or body holds every term: pairs for longer terms, characters for single ones;
    ``excluding``: the index leaves out the excluded terms too (see Query.pair_expression)."""
    pairs, chars = query.pair_expression(excluding), query.char_expression(excluding)
    if pairs and chars:
        return ("search_index s JOIN search_chars c ON c.rowid = s.rowid",
                "search_index MATCH ? AND search_chars MATCH ?", (pairs, chars))
    if pairs:
        return "search_index s", "search_index MATCH ?", (pairs,)
    return "search_chars s", "search_chars MATCH ?", (chars or "",)


def _title_match(query: Query) -> tuple[str, str, tuple[str, ...]]:
    """Like _body_match, over the titles' characters (with positions)."""
    return "search_titles s", "search_titles MATCH ?", (query.title_expression(),)


def _writable(path: Path) -> bool:
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


class SQLiteStore(Store):
    integrity_errors = (sqlite3.IntegrityError,)
    no_limit = -1

    def __init__(self, archive: ArchiveURL, category_overrides: dict[str, str] | None = None):
        self.archive = archive
        self.path = archive.path
        self.category_overrides = category_overrides or {}
        if not self.path.parent.exists():
            raise FinewsError(
                f"cannot open archive {self.path}: folder {self.path.parent} does not exist"
            )
        try:
            self.db = sqlite3.connect(
                self.path, isolation_level=None, timeout=BUSY_SECONDS, check_same_thread=False
            )
            self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._use_wal()
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA cache_size=-16384")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            if not _writable(self.path):
                raise FinewsError(
                    f"cannot open archive {self.path}: the file or its folder is read-only, and "
                    "SQLite writes its -wal and -shm files beside it; make both writable or copy "
                    "the archive somewhere writable"
                ) from exc
            raise FinewsError(
                f"cannot open archive {self.path}: {exc}. The file is not a finews archive or "
                "is damaged; restore it from a backup or set archive.database_url to another file"
            ) from exc

    def _use_wal(self) -> None:
        """Switching a new archive to WAL does not wait out SQLite's busy timeout when another
        process is setting it up too ("database is locked" at once): retry as long as it would."""
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _migrate(self) -> None:
        """Bring the schema and the search index up to date. Each step re-reads the version
        inside its write transaction: two processes opening a new archive at once (`finews
        run` and `finews serve`) would otherwise both apply the first migration."""
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise FinewsError(
                f"archive {self.path} has schema version {version}, newer than this finews "
                f"understands ({len(MIGRATIONS)}); upgrade finews"
            )
        while version < len(MIGRATIONS):
            self._in_write_transaction(self._next_migration)
            version = self.schema_version
        if self._meta("search_version") != TOKENS_VERSION:
            self._in_write_transaction(self._reindex_if_stale)

    def _in_write_transaction(self, work) -> None:
        with self.transaction():
            work()

    def _next_migration(self) -> None:
        version = self.schema_version
        if version >= len(MIGRATIONS):
            return
        script = MIGRATIONS[version]
        if callable(script):
            script(self.db)
        else:
            for statement in script.split(";"):
                if statement.strip():
                    self.db.execute(statement)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version + 1),))

    def _reindex_if_stale(self) -> None:
        if self._meta("search_version") != TOKENS_VERSION:
            _reindex(self.db)

    @property
    def schema_version(self) -> int:
        return int(self._meta("schema_version") or 0)

    # -- the engine ------------------------------------------------------------------------

    def _x(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def _xm(self, sql: str, rows: list) -> None:
        self.db.executemany(sql, rows)

    def _begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    _begin_plain = _begin

    def _rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def _inserted(self, sql: str, rows: list) -> int:
        before = self.db.total_changes
        self.db.executemany(sql, rows)
        return self.db.total_changes - before

    def _prepare(self, article: Article) -> None:
        _ = article.search_tokens

    def _index(self, rows: list[tuple[int, Article]]) -> None:
        _add_to_index(self.db, [(key, a.search_tokens) for key, a in rows])

    def _unindex(self, key: int) -> None:
        """Remove an article from the contentless index, which needs the tokens it holds."""
        title, body, html = self.db.execute(
            "SELECT title, body, html FROM articles WHERE key=?", (key,)
        ).fetchone()
        t = _stored_tokens(title, body, html)
        self.db.execute(
            "INSERT INTO search_index (search_index, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            (key, t.title_pairs, t.body_pairs),
        )
        self.db.execute(
            "INSERT INTO search_chars (search_chars, rowid, chars) VALUES ('delete', ?, ?)", (key, t.chars)
        )
        self.db.execute(
            "INSERT INTO search_titles (search_titles, rowid, title) VALUES ('delete', ?, ?)",
            (key, t.title_chars),
        )

    def size_bytes(self) -> int:
        return sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"))
            if p.exists()
        )


    # -- search ----------------------------------------------------------------------------

    def _matching(self, query: Query, narrowed: SearchFilters, *, headline: bool = False,
                  full: bool = True, expected: int = 20) -> Iterator[Article]:
        """Reads the index newest first in growing steps, joined to the articles: a
        headline search reads the titles' index. Hits the index cannot tell exactly (see
        Query.exact) are confirmed on the article's text."""
        clauses, params = narrowed.sql(key="s.rowid")
        filters = "".join(f" AND {clause}" for clause in clauses)
        source, match, match_params = _title_match(query) if headline else \
            _body_match(query, excluding=narrowed.keys is None)
        confirm = not query.exact
        columns = _FULL_A if full or confirm else _SUMMARY_A
        upper = None
        step = max(expected + expected // 4, 8)
        while True:
            bound = " AND s.rowid < ?" if upper is not None else ""
            rows = self.db.execute(
                f"SELECT {columns} FROM {source} JOIN articles a ON a.key = s.rowid "
                f"WHERE {match}{filters}{bound} ORDER BY s.rowid DESC LIMIT ?",
                (*match_params, *params, *((upper,) if upper is not None else ()), step),
            ).fetchall()
            for row in rows:
                article = _row_to_article(row)
                if confirm and not matches(article.title, article.html, query):
                    continue
                if headline and not query.matches(normalize(article.title)):
                    continue
                yield article
            if len(rows) < step:
                return
            upper = rows[-1][0]
            step = min(step * 4, 4096)

    def integrity_check(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        self.db.close()

