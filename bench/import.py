"""Import and export benchmark: posts/s and peak memory for N generated Jekyll posts.

    python bench/import.py 10000 [100000 ...]

Each phase runs in its own process so that its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import articles
from bench.machine import cpu_check, peak_memory_mb
from finews.store import open_store
from finews.transfer import jekyll

STYLE = jekyll.JekyllStyle(base_url="//finews.withounder.com")


def generate(n: int, folder: Path) -> None:
    for article in articles(n):
        (folder / jekyll.post_file_name(article, STYLE.tz)).write_text(
            jekyll.format_post(article, STYLE), encoding="utf-8"
        )


def run_import(folder: Path, db: Path, queue) -> None:
    start = time.perf_counter()
    with open_store(str(db)) as store:
        report = jekyll.import_posts(store, [folder], STYLE)
    seconds = time.perf_counter() - start
    queue.put((report.read, seconds, peak_memory_mb()))


def run_export(db: Path, out: Path, queue) -> None:
    start = time.perf_counter()
    with open_store(str(db)) as store:
        written = jekyll.export_posts(store, out, STYLE)
    seconds = time.perf_counter() - start
    queue.put((written, seconds, peak_memory_mb()))


def phase(target, *args) -> tuple[int, float, int]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(sizes: list[int]) -> None:
    print(cpu_check(), flush=True)
    print(f"{'N':>8} {'import posts/s':>15} {'import MB':>10} {'export posts/s':>15} {'export MB':>10}")
    for n in sizes:
        work = Path(tempfile.mkdtemp(prefix="finews-bench-"))
        try:
            posts = work / "_posts"
            posts.mkdir()
            generate(n, posts)
            count, seconds, rss = phase(run_import, posts, work / "archive.db")
            out_count, out_seconds, out_rss = phase(run_export, work / "archive.db", work / "out")
            assert count == n and out_count == n
            print(f"{n:>8} {n / seconds:>15,.0f} {rss:>10.0f} "
                  f"{n / out_seconds:>15,.0f} {out_rss:>10.0f}", flush=True)
        finally:
            shutil.rmtree(work)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10000])
