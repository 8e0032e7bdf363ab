"""Collect benchmark: N generated articles from 20 sources served on 127.0.0.1.

    python bench/fetch.py [N]

Prints articles/s for a cold pass (list pages + every article page), the requests a warm
second pass makes (list requests only, when nothing is new) and peak memory. Politeness limits
are lifted for the benchmark only; the mock server runs in its own process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import cpu_check, peak_memory_mb
from finews.collect import Collector
from finews.config import FetchConfig, Settings, SourceSettings
from finews.mocknews import MockNews, serve
from finews.store import open_store

SOURCES = 20


def run_server(n: int, port_queue) -> None:
    news = MockNews(columns=SOURCES)
    news.publish(n)

    async def main():
        ready = asyncio.get_running_loop().create_future()
        ready.add_done_callback(lambda f: port_queue.put(f.result()))
        await serve(news, ready=ready)

    asyncio.run(main())


def settings(base: str, n: int) -> Settings:
    per_source = n // SOURCES
    sources = [
        SourceSettings(
            name=f"column-{i}", kind="eastmoney-columns",
            url=f"{base}/comm/web/getNewsByColumns", article_url=f"{base}/a/{{code}}.html",
            page_size=100, max_pages=per_source // 100 + 2, params={"column": str(i)},
        )
        for i in range(SOURCES)
    ]
    fetch = FetchConfig(min_interval=0, per_host_concurrency=32, retries=1, backoff=0.1)
    return Settings(sources=sources, fetch=fetch)


def main(n: int) -> None:
    print(cpu_check(), flush=True)
    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=run_server, args=(n, ports), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=120)}"
    config = settings(base, n)
    with tempfile.TemporaryDirectory() as work, open_store(f"{work}/archive.db") as store:
        collector = Collector(store, config)
        started = time.perf_counter()
        reports = asyncio.run(collector.run(config.sources))
        cold = time.perf_counter() - started
        stored = store.count()
        failed = [r.error for r in reports if not r.ok]
        cold_requests = collector.fetcher.requests
        started = time.perf_counter()
        warm_reports = asyncio.run(collector.run(config.sources))
        warm = time.perf_counter() - started
        warm_kinds = dict(collector.fetcher.requests_by_kind)
    server.terminate()
    peak = peak_memory_mb()
    print(f"articles served        {n}")
    print(f"articles stored        {stored}  (failed sources: {len(failed)})")
    print(f"cold pass              {cold:.1f} s, {stored / cold:,.0f} articles/s, "
          f"{cold_requests} requests")
    print(f"warm pass              {warm:.2f} s, requests by kind {warm_kinds}, "
          f"new {sum(r.new for r in warm_reports)}")
    print(f"peak memory            {peak:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
