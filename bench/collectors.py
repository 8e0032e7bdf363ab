"""PostgreSQL benchmark: ingest with 1, 2 and 4 collectors, and `finews migrate` each way.

    python bench/collectors.py [--articles 5000] [--migrate 100000] [--pg URL]

Ingest: a mock server (its own process) publishes N articles over 20 sources; 1, 2 and 4
`finews fetch` processes share them through source leases on one PostgreSQL archive
(a fresh schema each run). Prints articles/s. Migrate: generates a SQLite archive of M
articles, copies it to PostgreSQL and back, and prints seconds and articles/s each way.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build import make_archive
from bench.fetch import SOURCES, run_server
from bench.machine import cpu_check
from finews.mocknews import column_sources_toml
from finews.store import open_store
from finews.transfer.migrate import migrate


def fresh_schema(server: str) -> tuple[str, str]:
    import psycopg

    schema = f"finews_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in server else "?"
    return schema, f"{server}{separator}options={quote(f'-csearch_path={schema},public')}"


def drop_schema(server: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


def config(folder: Path, mock: str, database: str) -> Path:
    sources = column_sources_toml(mock, SOURCES, page_size=100, max_pages=100)
    path = folder / f"{uuid.uuid4().hex[:6]}.toml"
    path.write_text(f"""
[archive]
database_url = "{database}"
[fetch]
min_interval = 0
retries = 1
per_host_concurrency = 8
sources_at_once = 4
{sources}""")
    return path


def ingest(server: str, mock: str, collectors: int, folder: Path) -> tuple[int, float]:
    schema, url = fresh_schema(server)
    try:
        open_store(url).close()
        cfg = config(folder, mock, url)
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "finews", "--config", str(cfg), "fetch"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(collectors)]
        for p in procs:
            p.wait()
        seconds = time.perf_counter() - started
        with open_store(url) as store:
            return store.count(), seconds
    finally:
        drop_schema(server, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--migrate", type=int, default=100_000)
    parser.add_argument("--sqlite", type=Path, help="an existing SQLite archive to migrate")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(cpu_check(), flush=True)
    folder = Path(tempfile.mkdtemp(prefix="finews-pg-"))
    if args.articles:
        ctx = multiprocessing.get_context("spawn")
        ports = ctx.Queue()
        mock = ctx.Process(target=run_server, args=(args.articles, ports), daemon=True)
        mock.start()
        mock_url = f"http://127.0.0.1:{ports.get(timeout=60)}"
        print(f"ingest of {args.articles:,} articles from {SOURCES} sources into PostgreSQL")
        for n in (1, 2, 4):
            stored, seconds = ingest(args.pg, mock_url, n, folder)
            rate = stored / seconds
            print(f"  {n} collector(s): {stored:,} stored in {seconds:.1f} s, {rate:,.0f} articles/s",
                  flush=True)
        mock.terminate()
    if args.migrate:
        sqlite = args.sqlite or folder / "source.db"
        if not sqlite.exists():
            make_archive(sqlite, args.migrate)
        schema, url = fresh_schema(args.pg)
        try:
            with open_store(str(sqlite)) as source, open_store(url) as target:
                started = time.perf_counter()
                report = migrate(source, target)
                seconds = time.perf_counter() - started
                print(f"migrate SQLite -> PostgreSQL: {report.copied:,} articles in {seconds:.1f} s "
                      f"({report.copied / seconds:,.0f}/s), verified", flush=True)
            back = folder / "back.db"
            with open_store(url) as source, open_store(str(back)) as target:
                started = time.perf_counter()
                report = migrate(source, target)
                seconds = time.perf_counter() - started
                print(f"migrate PostgreSQL -> SQLite: {report.copied:,} articles in {seconds:.1f} s "
                      f"({report.copied / seconds:,.0f}/s), verified", flush=True)
        finally:
            drop_schema(args.pg, schema)


if __name__ == "__main__":
    main()
