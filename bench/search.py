"""Search benchmark: latency and recall of Chinese full-text search over N articles.

    python bench/search.py [N] [--db PATH]

Generates an archive of N articles (default 100,000; kept at PATH with --db, so a second
run skips the generation), then runs queries of 1 to 4 characters, Chinese and mixed
Latin and digits, sampled from the articles' text (hits) and made up (mostly misses).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--db", type=Path, help="archive to keep between runs")
    parser.add_argument("--per-length", type=int, default=80)
    parser.add_argument("--no-recall", action="store_true", help="latency only (the scan is slow)")
    args = parser.parse_args()
    print(cpu_check(), flush=True)
    db = args.db or Path(tempfile.mkdtemp(prefix="finews-search-")) / "archive.db"
    if not db.exists():
        started = time.perf_counter()
        make_archive(db, args.n)
        seconds = time.perf_counter() - started
        print(f"archive of {args.n:,} articles with its search index: {seconds:.1f} s "
              f"({args.n / seconds:,.0f} articles/s)")
    with open_store(str(db)) as store:
        index_bytes = sum(
            store.db.execute(f"SELECT SUM(length(block)) FROM {name}").fetchone()[0] or 0
            for (name,) in store.db.execute(
                "SELECT name FROM sqlite_master WHERE name LIKE 'search%\\_data' ESCAPE '\\'")
        )
        keys, texts = [], []
        for article in store.iter_articles():
            keys.append(article.key)
            texts.append(article.search_text)
        print(f"{len(texts):,} articles, search index {index_bytes / 1e6:.0f} MB, "
              f"archive {store.size_bytes() / 1e6:.0f} MB")
        queries = sample_queries(texts, random.Random(7), args.per_length)
        newest: dict[str, list[float]] = {}
        ranked: dict[str, list[float]] = {}
        expected_total = found_total = extra_total = 0
        scan_times = []
        for kind, q in queries:
            query = Query.parse(q)
            started = time.perf_counter()
            store.search(query, limit=20)
            newest.setdefault(kind, []).append(time.perf_counter() - started)
            started = time.perf_counter()
            store.search(query, limit=20, ranked=True)
            ranked.setdefault(kind, []).append(time.perf_counter() - started)
            if args.no_recall:
                continue
            started = time.perf_counter()
            expected = {k for k, t in zip(keys, texts, strict=True) if q in t}
            scan_times.append(time.perf_counter() - started)
            found = {hit.article.key for hit in store.search(query, limit=None, snippets=False)}
            expected_total += len(expected)
            found_total += len(expected & found)
            extra_total += len(found - expected)
    print(f"{'queries':<14} {'n':>4} {'newest20 p50':>13} {'p95 ms':>7} {'ranked p50':>11} {'p95 ms':>7}")
    for kind in newest:
        a, b = newest[kind], ranked[kind]
        print(f"{kind:<14} {len(a):>4} {statistics.median(a) * 1e3:>13.2f} {percentile(a, .95) * 1e3:>7.2f} "
              f"{statistics.median(b) * 1e3:>11.2f} {percentile(b, .95) * 1e3:>7.2f}")
    for label, pool in (
        ("2-4 chars sampled from the articles", [k for k in newest if k[0] in "234" and "made-up" not in k]),
        ("2-4 chars made up (mostly no match)", [k for k in newest if k[0] in "234" and "made-up" in k]),
    ):
        a = [x for k in pool for x in newest[k]]
        b = [x for k in pool for x in ranked[k]]
        print(f"{label}: newest-20 p95 {percentile(a, .95) * 1e3:.2f} ms, "
              f"ranked p95 {percentile(b, .95) * 1e3:.2f} ms")
    if args.no_recall:
        return
    recall = found_total / expected_total if expected_total else 1.0
    print(f"recall {recall:.2%} ({found_total:,} of {expected_total:,} matches over {len(queries)} queries), "
          f"false hits {extra_total}; brute-force scan p95 {percentile(scan_times, .95) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
