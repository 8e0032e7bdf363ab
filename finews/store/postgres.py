"""The PostgreSQL archive (psycopg 3): for millions of articles and several collectors.

Writers take a transaction-level advisory lock, so upserts from several processes are
applied one batch at a time and an article can never be stored twice. Search keeps each
article's normalised text in ``search_text`` and matches terms with ``LIKE``, which is
exact by construction. A pg_trgm index on it would speed up searches for rare terms of three
or more characters, but costs about 3 ms per stored article (four times the rest of the
insert), so it is left to the operator (README).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from finews.errors import ArchiveError, FinewsError
from finews.fulltext import INDEX_VERSION, Query, searchable_text
from finews.model import Article
from finews.store.base import SearchHit, relevance_score
from finews.store.following import FOLLOW_MIGRATION
from finews.store.grouping import STORY_BANDS_MIGRATION, STORY_MIGRATION
from finews.store.sql import (
    _FULL_A,
    CHECKPOINT_MIGRATION,
    SITE_STOCKS_MIGRATION,
    STOCKS_MIGRATION,
    Store,
    _confirmed,
    search_filters,
)
from finews.store.url import ArchiveURL

WRITE_LOCK = 0x66696E6577  # "finew": the advisory lock every archive writer holds

MIGRATIONS = [
    """
    CREATE TABLE articles (
        key BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        code TEXT NOT NULL,
        title TEXT NOT NULL,
        published BIGINT NOT NULL,
        outlet TEXT NOT NULL,
        category TEXT NOT NULL,
        tags TEXT NOT NULL,
        digest TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_changed BIGINT NOT NULL,
        content_hash TEXT NOT NULL,
        body TEXT NOT NULL,
        html TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX articles_category ON articles (category, key);
    CREATE TABLE article_tags (tag TEXT NOT NULL, key BIGINT NOT NULL, PRIMARY KEY (tag, key));
    CREATE TABLE article_aliases (
        category TEXT NOT NULL, code TEXT NOT NULL, article_id TEXT NOT NULL,
        PRIMARY KEY (category, code)
    );
    CREATE INDEX article_aliases_article ON article_aliases (article_id);
    CREATE TABLE categories (slug TEXT PRIMARY KEY, outlet TEXT NOT NULL, created BIGINT NOT NULL);
    CREATE INDEX categories_outlet ON categories (outlet);
    CREATE TABLE category_aliases (alias TEXT PRIMARY KEY, slug TEXT NOT NULL);
    CREATE TABLE changes (
        article_id TEXT NOT NULL, previous_hash TEXT NOT NULL,
        previous_changed BIGINT NOT NULL, changed_at BIGINT NOT NULL
    );
    CREATE INDEX changes_article ON changes (article_id);
    CREATE TABLE source_health (
        name TEXT PRIMARY KEY,
        last_run BIGINT NOT NULL DEFAULT 0,
        last_success BIGINT NOT NULL DEFAULT 0,
        last_error_at BIGINT NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        items_last_run INTEGER NOT NULL DEFAULT 0,
        next_due BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE http_validators (url TEXT PRIMARY KEY, etag TEXT NOT NULL, last_modified TEXT NOT NULL);
    CREATE TABLE article_log (
        seq BIGSERIAL PRIMARY KEY,
        action TEXT NOT NULL,
        key BIGINT NOT NULL,
        id TEXT NOT NULL,
        code TEXT NOT NULL,
        category TEXT NOT NULL,
        published BIGINT NOT NULL,
        tags TEXT NOT NULL
    );
    CREATE TABLE search_text (key BIGINT PRIMARY KEY, text TEXT NOT NULL);
    CREATE TABLE source_leases (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL DEFAULT '', expires BIGINT NOT NULL DEFAULT 0
    )
    """,
    CHECKPOINT_MIGRATION,
    STOCKS_MIGRATION,
    SITE_STOCKS_MIGRATION,
    STORY_MIGRATION,
    STORY_BANDS_MIGRATION,
    FOLLOW_MIGRATION,
    """
    CREATE VIEW news AS SELECT a.id, a.key,
        to_char(to_timestamp(a.published) AT TIME ZONE 'Asia/Shanghai',
                'YYYY-MM-DD"T"HH24:MI:SS"+08:00"') AS published,
        a.outlet, a.title, a.url, a.digest,
        COALESCE((SELECT string_agg(m.secid, ' ') FROM article_securities m WHERE m.key = a.key), '')
            AS stocks,
        EXISTS (SELECT 1 FROM article_importance i WHERE i.key = a.key) AS important
    FROM articles a
    """,
]


@lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    """Our portable statements use ``?``; psycopg wants ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _array(numbers: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers."""
    return "{" + ",".join(map(str, numbers)) + "}"


class PostgresStore(Store):
    no_limit = None
    utf8_bytes = "convert_to({}, 'UTF8')"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    joined = "string_agg({}, ' ')"

    def __init__(self, archive: ArchiveURL, category_overrides: dict[str, str] | None = None):
        try:
            import psycopg
        except ImportError:
            raise ArchiveError(
                "PostgreSQL support is not installed: pip install 'finews[postgres]'") from None

        self.archive = archive
        url = archive.location
        self.category_overrides = category_overrides or {}
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise FinewsError(
                f"cannot connect to the PostgreSQL archive {archive.redacted}: "
                f"{str(exc).strip().splitlines()[0]}. Is the server running and the URL right?"
            ) from None
        self._migrate()

    # -- the engine ------------------------------------------------------------------------

    def _x(self, sql: str, params: tuple | list = ()) -> Any:
        return self.conn.execute(_pg(sql), params)

    def _xm(self, sql: str, rows: list) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)

    def _begin(self) -> None:
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))

    def _begin_plain(self) -> None:
        self.conn.execute("BEGIN")

    def _rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def _inserted(self, sql: str, rows: list) -> int:
        count = 0
        for row in rows:
            count += self.conn.execute(_pg(sql), row).rowcount
        return count

    def _index(self, rows: list[tuple[int, Article]]) -> None:
        self._xm("INSERT INTO search_text VALUES (?, ?)", [(key, a.search_text) for key, a in rows])

    def _unindex(self, key: int) -> None:
        self._x("DELETE FROM search_text WHERE key = ?", (key,))

    def _file_bands(self, rows: list[tuple[int, int, int]]) -> None:
        """In one statement of three arrays: row by row, the 1,200 rows of a batch of 50
        took 50 ms, a third of what grouping costs; psycopg's dump of a list of ints took
        another 0.26 ms an article, an array literal almost nothing."""
        if rows:
            self._x("INSERT INTO story_bands SELECT * FROM unnest(?::int[], ?::int[], ?::bigint[]) "
                    "ON CONFLICT DO NOTHING", tuple(map(_array, zip(*rows, strict=True))))

    def _band_holders(self, weeks: list[int], bands: list[int]) -> Iterator[tuple[int, int]]:
        """One index probe per band, whatever the planner believes: without statistics
        (autovacuum off, or a young table) it read `band IN (…)` as matching every row and
        scanned whole weeks, 1.7 s a batch; OFFSET 0 keeps the lateral subquery apart."""
        yield from self._x(
            "SELECT q.band, s.key FROM unnest(?::int[]) AS q(band) CROSS JOIN LATERAL "
            "(SELECT key FROM story_bands s WHERE s.week = ANY(?) AND s.band = q.band OFFSET 0) s",
            (_array(bands), _array(weeks)))

    # -- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self.transaction():
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > len(MIGRATIONS):
                raise FinewsError(
                    f"archive {self.archive.redacted} has schema version {version}, newer than "
                    f"this finews understands ({len(MIGRATIONS)}); upgrade finews"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self._set_meta("schema_version", str(number))
            row = self.conn.execute("SELECT value FROM meta WHERE key='search_version'").fetchone()
            if row is None or row[0] != INDEX_VERSION:
                self._reindex()

    def _set_meta(self, key: str, value: str) -> None:
        self._x("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                (key, value))

    def _reindex(self) -> None:
        self.conn.execute("DELETE FROM search_text")
        last = -1
        while True:
            rows = self._x(
                "SELECT key, title, body, html FROM articles WHERE key > ? ORDER BY key LIMIT 1000",
                (last,),
            ).fetchall()
            if not rows:
                break
            self._xm("INSERT INTO search_text VALUES (?, ?)",
                     [(key, searchable_text(title, html or body)) for key, title, body, html in rows])
            last = rows[-1][0]
        self._set_meta("search_version", INDEX_VERSION)

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

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
        snippets: bool = True,
        stock: str | None = None,
        important: bool = False,
    ) -> list[SearchHit]:
        filters, filter_params = search_filters(category, tag, keys, stock=stock, important=important)
        wanted = [[_like(term) for term in clause] for clause in query.clauses]
        in_text = " AND ".join(["t.text LIKE ANY(?)"] * len(wanted))
        in_title = "(" + " AND ".join(["split_part(t.text, E'\\n', 1) LIKE ANY(?)"] * len(wanted)) + ")"
        clauses, params = [in_text, *filters], [*wanted, *filter_params]
        if query.excluded:
            clauses.append("NOT t.text LIKE ANY(?)")
            params.append([_like(term) for term in query.excluded])
        order = f"{in_title} DESC, a.key DESC" if ranked else "a.key DESC"
        rows = self._x(
            f"SELECT {_FULL_A}, {in_title} FROM search_text t "
            f"JOIN articles a ON a.key = t.key WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT ?",
            (*wanted, *params, *(wanted if ranked else ()), limit),
        ).fetchall()
        now = time.time()
        hits = []
        for row in rows:
            score = _title_score(row[0], row[-1], now) if ranked else 0.0
            hit = _confirmed(row[:-1], query, score, with_snippet=snippets)
            if hit is not None:
                hits.append(hit)
        return hits

    # -- housekeeping ----------------------------------------------------------------------

    def size_bytes(self) -> int:
        return self.conn.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
        ).fetchone()[0]

    def integrity_check(self) -> str:
        missing = self.conn.execute(
            "SELECT COUNT(*) FROM articles a LEFT JOIN search_text t USING (key) WHERE t.key IS NULL"
        ).fetchone()[0]
        return "ok" if missing == 0 else f"{missing} articles missing from the search index"

    def close(self) -> None:
        self.conn.close()


def _title_score(key: int, in_title: bool, now: float) -> float:
    return relevance_score(2.0 if in_title else 0.0, key, now)


