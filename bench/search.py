"""Search benchmark: latency and recall of Chinese full-text search over N articles.

    python bench/search.py [N] [--db PATH] [--db postgresql://…]

Generates an archive of N articles (default 100,000; kept at PATH with --db, so a second
run skips the generation); with a postgresql:// URL, copies it there too (when that archive
is empty) and runs every query on both backends, alternately, in one run. Runs queries
of 1 to 4 characters, Chinese and mixed Latin and digits, sampled from the articles' text
(hits) and made up (mostly misses).
Prints p50/p95 latency for the newest 20 matches and for the 20 most relevant, and the
recall and precision of every match against a brute-force substring scan.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build import make_archive
from bench.machine import cpu_check
from finews.fulltext import Query
from finews.store import open_store
from finews.transfer.migrate import migrate

ASCII_ALNUM = set("abcdefghijklmnopqrstuvwxyz0123456789")


def sample_queries(texts: list[str], rng: random.Random, per_length: int) -> list[tuple[str, str]]:
    """(kind, query): substrings of the texts of 1 to 4 characters, some with Latin letters
    or digits, and made-up Chinese strings."""
    queries: list[tuple[str, str]] = []
    alphabet = sorted({c for t in texts[:2000] for c in t if "\u4e00" <= c <= "\u9fff"})
    for length in (1, 2, 3, 4):
        found = 0
        while found < per_length:
            text = rng.choice(texts)
            at = rng.randrange(len(text) - length)
            q = text[at : at + length]
            if any(not (c.isalnum()) for c in q):
                continue
            queries.append((f"{length} chars", q))
            found += 1
        mixed = 0
        while mixed < per_length // 4:
            text = rng.choice(texts)
            at = rng.randrange(len(text) - length)
            q = text[at : at + length]
            if any(not c.isalnum() for c in q) or not (set(q) & ASCII_ALNUM):
                continue
            queries.append((f"{length} mixed", q))
            mixed += 1
        for _ in range(per_length // 4):
            queries.append((f"{length} made-up", "".join(rng.choice(alphabet) for _ in range(length))))
    return queries


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def index_megabytes(store) -> float:
    """The search index's size: SQLite's FTS5 segments, PostgreSQL's tables and indexes."""
    if hasattr(store, "db"):
        return sum(
            store.db.execute(f"SELECT SUM(length(block)) FROM {name}").fetchone()[0] or 0
            for (name,) in store.db.execute(
                "SELECT name FROM sqlite_master WHERE name LIKE 'search%\\_data' ESCAPE '\\'")
        ) / 1e6
    return store.conn.execute(
        "SELECT pg_total_relation_size('search_grams') + pg_total_relation_size('search_title_grams') "
        "+ pg_total_relation_size('search_text')"
    ).fetchone()[0] / 1e6


def fill_postgres(lite, pg) -> None:
    """Copy the SQLite archive into an empty PostgreSQL one, as `finews migrate` does."""
    if pg.count():
        return
    started = time.perf_counter()
    migrate(lite, pg, batch_size=1000)
    seconds = time.perf_counter() - started
    print(f"finews migrate to PostgreSQL, index included: {seconds:.0f} s "
          f"({lite.count() / seconds:,.0f} articles/s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--db", action="append", default=[],
                        help="archive to keep between runs: a SQLite path and/or a postgresql:// URL "
                             "(filled from the SQLite one when empty); both backends run alternately")
    parser.add_argument("--per-length", type=int, default=80)
    parser.add_argument("--no-recall", action="store_true", help="latency only (the scan is slow)")
    args = parser.parse_args()
    print(cpu_check(), flush=True)
    urls = [d for d in args.db if d.startswith("postgresql:")]
    paths = [Path(d) for d in args.db if not d.startswith("postgresql:")]
    db = paths[0] if paths else Path(tempfile.mkdtemp(prefix="finews-search-")) / "archive.db"
    if not db.exists():
        started = time.perf_counter()
        make_archive(db, args.n)
        seconds = time.perf_counter() - started
        print(f"archive of {args.n:,} articles with its search index: {seconds:.1f} s "
              f"({args.n / seconds:,.0f} articles/s)")
    stores = {"SQLite": open_store(str(db))}
    if urls:
        stores["PostgreSQL"] = open_store(urls[0])
        fill_postgres(stores["SQLite"], stores["PostgreSQL"])
    keys, texts = [], []
    for article in stores["SQLite"].iter_articles():
        keys.append(article.key)
        texts.append(article.search_text)
    for name, store in stores.items():
        print(f"{name}: {store.count():,} articles, search index {index_megabytes(store):,.0f} MB, "
              f"archive {store.size_bytes() / 1e6:,.0f} MB")
    queries = sample_queries(texts, random.Random(7), args.per_length)
    newest = {name: {} for name in stores}
    ranked = {name: {} for name in stores}
    found = {name: [0, 0] for name in stores}
    expected_total, scan_times, ranked_differ = 0, [], []
    for kind, q in queries:
        query = Query.parse(q)
        orders = []
        for name, store in stores.items():
            started = time.perf_counter()
            store.search(query, limit=20)
            newest[name].setdefault(kind, []).append(time.perf_counter() - started)
            started = time.perf_counter()
            orders.append([h.article.key for h in store.search(query, limit=20, ranked=True)])
            ranked[name].setdefault(kind, []).append(time.perf_counter() - started)
        if orders[1:] and orders[0] != orders[1]:
            ranked_differ.append(q)
        if args.no_recall:
            continue
        started = time.perf_counter()
        expected = {k for k, t in zip(keys, texts, strict=True) if q in t}
        scan_times.append(time.perf_counter() - started)
        expected_total += len(expected)
        for name, store in stores.items():
            hits = {hit.article.key for hit in store.search(query, limit=None, snippets=False)}
            found[name][0] += len(expected & hits)
            found[name][1] += len(hits - expected)
    print_latencies(stores, newest, ranked)
    if len(stores) > 1:
        print(f"ranked top 20 identical on both backends for {len(queries) - len(ranked_differ)} "
              f"of {len(queries)} queries" + (f"; differ: {ranked_differ[:5]}" if ranked_differ else ""))
    if args.no_recall:
        return
    for name in stores:
        hit, extra = found[name]
        recall = hit / expected_total if expected_total else 1.0
        print(f"{name}: recall {recall:.2%} ({hit:,} of {expected_total:,} matches over "
              f"{len(queries)} queries), false hits {extra}")
    print(f"brute-force scan p95 {percentile(scan_times, .95) * 1e3:.0f} ms")


def print_latencies(stores, newest, ranked) -> None:
    names = list(stores)
    header = f"{'queries':<14} {'n':>4}"
    for name in names:
        header += f" | {name[:10] + ' newest20':>19} {'p95':>7} {'ranked p50':>10} {'p95 ms':>7}"
    print(header)
    for kind in newest[names[0]]:
        line = f"{kind:<14} {len(newest[names[0]][kind]):>4}"
        for name in names:
            a, b = newest[name][kind], ranked[name][kind]
            line += (f" | {statistics.median(a) * 1e3:>19.2f} {percentile(a, .95) * 1e3:>7.2f} "
                     f"{statistics.median(b) * 1e3:>10.2f} {percentile(b, .95) * 1e3:>7.2f}")
        print(line)
    for name in names:
        for label, made_up in (("2-4 chars sampled from the articles", False),
                               ("2-4 chars made up (mostly no match)", True)):
            pool = [k for k in newest[name] if k[0] in "234" and ("made-up" in k) == made_up]
            a = [x for k in pool for x in newest[name][k]]
            b = [x for k in pool for x in ranked[name][k]]
            print(f"{name}, {label}: newest-20 p95 {percentile(a, .95) * 1e3:.2f} ms, "
                  f"ranked p95 {percentile(b, .95) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
