"""The PostgreSQL archive (psycopg 3): for millions of articles and several collectors.

Writers take a transaction-level advisory lock, so upserts from several processes are
applied one batch at a time and an article can never be stored twice.

Search uses the tokens SQLite indexes (fulltext.gram_codes: every character pair and every
character, as int4, without positions), one row per article in ``search_grams`` and in
``search_title_grams``, each with a GIN index; each article's normalised text in
``search_text`` confirms a candidate with ``LIKE``, so every hit holds the query. The
query shape is what makes it fast (``_matching``): the newest rows first while they are
dense in candidates, then the GIN index read once in a materialised CTE; the planner's
own plans for ``@>`` walked the primary key and decoded every row's array (1.5 s). pg_trgm
gave no speed-up at all (2-3 s for three or four characters, a 442 MB index) and cannot
help terms of one or two.

An archive from before the index is indexed by ``build_search_index`` (resumable, one
transaction per batch; the CLI runs it with a progress bar when it opens the archive);
until it ends, search reads every article's text.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from functools import lru_cache
from typing import Any

from finews.errors import ArchiveError, FinewsError
from finews.fulltext import INDEX_VERSION, Query, normalize, term_codes, text_grams
from finews.model import Article
from finews.parallel import chunks
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
    _row_to_article,
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
    """
    CREATE TABLE search_grams (key BIGINT PRIMARY KEY, codes INT4[] NOT NULL);
    CREATE TABLE search_title_grams (key BIGINT PRIMARY KEY, codes INT4[] NOT NULL)
    """,
    REVISIONS_MIGRATION.format(blob="BYTEA"),
]

GRAM_INDEXES = (
    "CREATE INDEX IF NOT EXISTS search_title_grams_codes ON search_title_grams USING gin (codes)",
    "CREATE INDEX IF NOT EXISTS search_grams_codes ON search_grams USING gin (codes) "
    "WITH (gin_pending_list_limit = 32768)",
)
"""Created once the tables are complete: a GIN index built in one pass is several times
faster to make than one grown row by row. The titles' codes have a table of their own, so
that a row of ``search_grams`` is a key and a pointer to its codes: a bitmap scan visits
a row per match, and a small table stays in memory (31 MB with the titles inline, 6 MB
without)."""
GRAM_TABLES = ("search_grams", "search_title_grams")
PROBE_ROWS = {"search_grams": 2048, "search_title_grams": 16384}
"""How many of the newest rows a search may test one by one before it turns to the GIN
index: about 25 ms of reading either table's codes (a title's are small, stored inline)."""
CANDIDATES = 4096
"""How many candidate keys one read of the GIN index fetches: the bitmap costs the same
whatever the LIMIT, so it is read once for all but the commonest terms, and its candidates
are confirmed in growing chunks."""
SPARSE = 4
"""Fewer candidates than one row in SPARSE: the GIN index is cheaper from here on (testing
a row's codes costs about 25 µs; the index, a few ms and about 1 µs per match)."""
INDEX_BATCH = 500


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
        self._idle = psycopg.pq.TransactionStatus.IDLE
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

    def _prepare(self, article: Article) -> None:
        _ = article.search_grams

    def _index(self, rows: list[tuple[int, Article]]) -> None:
        grams = [(key, a.search_grams) for key, a in rows]
        self._xm("INSERT INTO search_text VALUES (?, ?)", [(key, g.text) for key, g in grams])
        self._xm("INSERT INTO search_grams VALUES (?, ?::int4[])",
                 [(key, _array(g.codes)) for key, g in grams])
        self._xm("INSERT INTO search_title_grams VALUES (?, ?::int4[])",
                 [(key, _array(g.title)) for key, g in grams])

    def _unindex(self, key: int) -> None:
        self._x("DELETE FROM search_text WHERE key = ?", (key,))
        for table in GRAM_TABLES:
            self._x(f"DELETE FROM {table} WHERE key = ?", (key,))

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
            version = int(self._meta("schema_version") or 0)
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
            if self._meta("search_version") != INDEX_VERSION:
                self._reindex()
            self.search_ready = self._meta("search_grams") == "ready"
            if not self.search_ready and self._empty():
                self._finish_grams()

    def _empty(self) -> bool:
        return self.conn.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None

    def _set_meta(self, key: str, value: str) -> None:
        self._x("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                (key, value))

    def _reindex(self) -> None:
        """After a change of the searchable text: the texts now, the codes resumably."""
        self.conn.execute("DELETE FROM search_text")
        for table in GRAM_TABLES:
            self.conn.execute(f"DELETE FROM {table}")
            self.conn.execute(f"DROP INDEX IF EXISTS {table}_codes")
        self._set_meta("search_grams", "")
        last = -1
        while True:
            rows = self._x(
                "SELECT key, title, body, html FROM articles WHERE key > ? ORDER BY key LIMIT 1000",
                (last,),
            ).fetchall()
            if not rows:
                break
            self._xm("INSERT INTO search_text VALUES (?, ?)",
                     [(key, text_grams(title, html or body).text) for key, title, body, html in rows])
            last = rows[-1][0]
        self._set_meta("search_version", INDEX_VERSION)

    def search_backlog(self) -> int:
        if self.search_ready:
            return 0
        return self._x("SELECT COUNT(*) FROM articles a WHERE NOT EXISTS "
                       "(SELECT 1 FROM search_grams g WHERE g.key = a.key)").fetchone()[0]

    def build_search_index(self, on_batch: Callable[[int], None] = lambda n: None) -> None:
        """Codes for the articles that have none, a batch per transaction (computed before
        it, so collectors wait only for the insert), then the GIN indexes in one pass."""
        last = -1
        while not self.search_ready:
            rows = self._x(
                "SELECT a.key, a.title, a.body, a.html FROM articles a WHERE a.key > ? AND NOT EXISTS "
                "(SELECT 1 FROM search_grams g WHERE g.key = a.key) ORDER BY a.key LIMIT ?",
                (last, INDEX_BATCH)).fetchall()
            if not rows:
                with self.transaction():
                    self._finish_grams()
                break
            grams = [(key, text_grams(title, html or body)) for key, title, body, html in rows]
            with self.transaction():
                for table, field in (("search_grams", "codes"), ("search_title_grams", "title")):
                    self._xm(f"INSERT INTO {table} SELECT ?, ?::int4[] WHERE EXISTS "
                             "(SELECT 1 FROM articles WHERE key = ?) ON CONFLICT DO NOTHING",
                             [(key, _array(getattr(g, field)), key) for key, g in grams])
            last = rows[-1][0]
            on_batch(len(rows))

    def defer_search_index(self) -> None:
        """The GIN indexes go until build_search_index: grown row by row they made a copy
        of 100,000 articles take 380 s, built at the end 53 s more than a copy without."""
        if not self._empty():
            return
        with self.transaction():
            for table in GRAM_TABLES:
                self.conn.execute(f"DROP INDEX IF EXISTS {table}_codes")
            self._set_meta("search_grams", "")
        self.search_ready = False

    def _finish_grams(self) -> None:
        for statement in GRAM_INDEXES:
            self.conn.execute(statement)
        self._set_meta("search_grams", "ready")
        self.search_ready = True

    @property
    def schema_version(self) -> int:
        return int(self._meta("schema_version") or 0)

    # -- search ----------------------------------------------------------------------------

    def _matching(self, query: Query, narrowed: SearchFilters, *, headline: bool = False,
                  full: bool = True, expected: int = 20) -> Iterator[Article]:
        """Newest first, in two phases, each candidate confirmed by key. First the newest
        rows' codes are tested one by one, in growing windows, while at least one row in
        SPARSE is a candidate: a common term is answered from the first few dozen, where
        a bitmap of the GIN index would gather every match in the archive (6 ms for a pair
        in every article, 50 ms with the sort). Then, or at once for a rarer term, the GIN
        index below what was read, in growing steps. Before the index is built, every
        article is a candidate."""
        table = "search_title_grams" if headline else "search_grams"
        step = max(expected + expected // 4, 8)
        upper = narrowed.keys[1] + 1 if narrowed.keys else None  # the bound below is strict
        if self.search_ready:
            upper = yield from self._probed(query, narrowed, headline, full, step)
            if upper is None:
                return
        else:
            table = "search_text"
        holds, hold_params = _holding(query, "codes") if self.search_ready else ("TRUE", [])
        inner, inner_params = [holds], list(hold_params)
        if narrowed.keys is not None:
            inner.append("key >= ?")
            inner_params.append(narrowed.keys[0])
        outer, outer_params, join = _narrowing(narrowed, "c")
        fetch = CANDIDATES if self.search_ready else step
        wanted = step
        while True:
            bound = ["c.key < ?"] if upper is not None else []
            where = " AND ".join([*outer, *bound]) or "TRUE"
            keys = [key for (key,) in self._by_index(
                f"WITH c AS MATERIALIZED (SELECT key FROM {table} WHERE {' AND '.join(inner)}) "
                f"SELECT c.key FROM c{join} WHERE {where} ORDER BY c.key DESC LIMIT ?",
                (*inner_params, *outer_params, *((upper,) if upper is not None else ()), fetch))]
            done = confirmed = 0
            while done < len(keys):
                for article in self._confirmed(keys[done : done + step], query, headline, full):
                    confirmed += 1
                    yield article
                done += step
                rate = max(confirmed, 1) / done  # the share of candidates that hold the query
                remaining = max(wanted - confirmed, wanted // 4, 8)
                step = min(int(remaining / rate * 5 / 4), 4096)
            if len(keys) < fetch:
                return
            upper = keys[-1]
            fetch = min(fetch * 4, CANDIDATES)

    def _probed(self, query: Query, narrowed: SearchFilters, headline: bool, full: bool,
                step: int) -> Generator[Article, None, int | None]:
        """The first phase: yields the matches among the newest rows; returns the key
        below which the GIN index is to go on, None when every row in range was read."""
        table = "search_title_grams" if headline else "search_grams"
        low, high = narrowed.keys or (-(1 << 63), (1 << 63) - 1)
        holds, params = _holding(query, "r.codes")
        outer, outer_params, join = _narrowing(narrowed, "r")
        window, probed, found = step, 0, 0
        upper = high + 1 if high < (1 << 63) - 1 else None
        while True:
            bound = "key < ?" if upper is not None else "TRUE"
            rows = self._x(
                f"WITH r AS MATERIALIZED (SELECT key, codes FROM {table} WHERE key >= ? AND {bound} "
                f"ORDER BY key DESC LIMIT ?) SELECT min(key), count(*) FROM r UNION ALL "
                f"SELECT r.key, -1 FROM r{join} WHERE {' AND '.join([holds, *outer])}",
                (low, *((upper,) if upper is not None else ()), window, *params, *outer_params)
            ).fetchall()
            [(lowest, read)] = [row for row in rows if row[1] >= 0]
            keys = sorted((key for key, mark in rows if mark < 0), reverse=True)
            for chunk in chunks(keys, step):
                yield from self._confirmed(chunk, query, headline, full)
            if read < window:
                return None
            upper, probed, found = lowest, probed + read, found + len(keys)
            if found * SPARSE < probed or probed >= PROBE_ROWS[table]:
                return upper
            wanted = max(step - found, step // 4)  # a caller that reads on wants about this many more
            window = min(max(wanted * probed // found * 5 // 4, step), PROBE_ROWS[table] - probed)

    def _by_index(self, sql: str, params: tuple) -> list[tuple]:
        """Rows of a statement that must read the GIN index: with statistics that call a
        code common, the planner would rather read every row and decode its codes (a
        second, where the index takes 50 ms). Sequential scans are off for it alone."""
        outside = self.conn.info.transaction_status == self._idle
        self.conn.execute("BEGIN" if outside else "SAVEPOINT gin")
        try:
            self.conn.execute("SET LOCAL enable_seqscan = off")
            return self._x(sql, params).fetchall()
        finally:
            ends = ["COMMIT"] if outside else ["ROLLBACK TO SAVEPOINT gin", "RELEASE SAVEPOINT gin"]
            for statement in ends:
                self.conn.execute(statement)

    def _confirmed(self, keys: list[int], query: Query, headline: bool, full: bool) -> Iterator[Article]:
        """The candidates that really match, newest first: LIKE on the searchable text; a
        headline is tested on the title itself (no need to read the body) unless terms
        are excluded, which the whole text must lack."""
        if not keys:
            return
        columns = _FULL_A if full else _SUMMARY_A
        if headline and not query.excluded:
            rows = self._x(f"SELECT {columns} FROM articles a WHERE a.key = ANY(?) ORDER BY a.key DESC",
                           (_array(keys),))
            yield from (a for a in map(_row_to_article, rows) if query.matches(normalize(a.title)))
            return
        confirm, confirm_params = _confirmation(query, headline)
        yield from map(_row_to_article, self._x(
            f"SELECT {columns} FROM unnest(?::bigint[]) AS k(key) JOIN articles a ON a.key = k.key "
            f"JOIN search_text t ON t.key = k.key WHERE {confirm} ORDER BY a.key DESC",
            (_array(keys), *confirm_params)))

    # -- housekeeping ----------------------------------------------------------------------

    def size_bytes(self) -> int:
        return int(self.conn.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
        ).fetchone()[0])

    def integrity_check(self) -> str:
        missing = self.conn.execute(
            "SELECT COUNT(*) FROM articles a LEFT JOIN search_text t USING (key) WHERE t.key IS NULL"
        ).fetchone()[0] + self.search_backlog()
        if self.search_ready:
            for table in GRAM_TABLES:
                missing += self.conn.execute(
                    f"SELECT COUNT(*) FROM articles a LEFT JOIN {table} g USING (key) WHERE g.key IS NULL"
                ).fetchone()[0]
        return "ok" if missing == 0 else f"{missing} articles missing from the search index"

    def close(self) -> None:
        self.conn.close()


def _narrowing(narrowed: SearchFilters, alias: str) -> tuple[list[str], list, str]:
    """(conditions, parameters, join) of every filter but the key range, over candidate
    rows aliased ``alias``: the range bounds the candidates themselves."""
    outer, params = narrowed._replace(keys=None).sql(article_key=f"{alias}.key")
    join = f" JOIN articles a ON a.key = {alias}.key" if narrowed.needs_articles else ""
    return outer, params, join


def _holding(query: Query, column: str) -> tuple[str, list[str]]:
    """SQL that holds where ``column`` has the codes every clause needs (an OR clause:
    those of one of its terms), and its parameters."""
    conditions, params = [], []
    for clause in query.clauses:
        conditions.append("(" + " OR ".join([f"{column} @> ?::int4[]"] * len(clause)) + ")")
        params += [_array(term_codes(term)) for term in clause]
    return " AND ".join(conditions), params


def _confirmation(query: Query, headline: bool) -> tuple[str, list]:
    """SQL over the searchable text ``t.text`` (title, newline, body) that holds exactly
    where the query does: a term of every clause, in the headline for ``headline``, and
    no excluded term."""
    text = "split_part(t.text, E'\\n', 1)" if headline else "t.text"
    conditions = [f"{text} LIKE ANY(?)"] * len(query.clauses)
    params: list = [[_like(term) for term in clause] for clause in query.clauses]
    if query.excluded:
        conditions.append("NOT t.text LIKE ANY(?)")
        params.append([_like(term) for term in query.excluded])
    return " AND ".join(conditions), params
