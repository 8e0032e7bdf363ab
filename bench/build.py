"""Site build benchmark: full build and rebuild after 10 new articles, for N articles.

    python bench/build.py 10000 100000 [--search]

Generates an archive of N articles (about 60 outlets over two years), then prints for each
N: full build seconds, pages per second, peak memory (the builder; and the largest worker
process, an upper bound since Linux counts what a worker shared with the builder when it
started) and the seconds to rebuild after 10 new articles arrive (the median of five
rounds). Pages and feeds only unless --search is given, which also times the static
search index (its size is the folder /search/; bench/site_search.py measures its queries).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import articles
from bench.machine import cpu_check, peak_memory_mb
from finews.config import Settings
from finews.model import stable_id
from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store

REBUILDS = 5


def make_archive(path: Path, n: int) -> None:
    with open_store(str(path)) as store:
        batch = []
        for article in articles(n):
            batch.append(article)
            if len(batch) == 2000:
                store.upsert(batch)
                batch = []
        if batch:
            store.upsert(batch)


def build(db: Path, out: Path, search: bool, full: bool, queue) -> None:
    settings = Settings()
    settings.site.base_url = "https://news.example.com"
    with open_store(str(db)) as store:
        started = time.perf_counter()
        report = SiteBuilder(store, settings, BuildOptions(out=out, search=search, full=full)).build()
        seconds = time.perf_counter() - started
    own = peak_memory_mb()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    queue.put((seconds, report.pages, own, children, report.search_seconds))


def phase(*args, target=None):
    """Run ``target`` (the build, by default) in a fresh process; it puts its result on the
    queue given as its last argument."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target or build, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def add_ten(db: Path, round_: int) -> None:
    """Ten new articles, newer than any in the archive."""
    with open_store(str(db)) as store:
        newest = store.summaries(limit=1)[0].published
        fresh = list(articles(10, seed=99 + round_, start=newest + timedelta(minutes=1)))
        for i, a in enumerate(fresh):
            a.published = newest + timedelta(minutes=i + 1)
            a.code = f"NW{a.published:%Y%m%d}{9_000_000_000 + round_ * 10 + i:010d}"
            a.id = stable_id(a.code)
        store.upsert(fresh)


def main(sizes: list[int], search: bool) -> None:
    """Work folders are removed only at the end: on this VM's ext4, which has no journal,
    creating files in the minutes after many were deleted is several times slower, and
    a build measured after the previous size's cleanup measured that."""
    print(cpu_check(), flush=True)
    print(f"{'N':>7} {'full s':>7} {'pages/s':>8} {'peak MB':>8} {'workers MB':>10} "
          f"{'+10 s':>6}" + (f" {'search s':>9} {'index MB':>9}" if search else ""))
    folders: list[Path] = []
    try:
        for n in sizes:
            work = Path(tempfile.mkdtemp(prefix="finews-build-"))
            folders.append(work)
            db, out = work / "archive.db", work / "site"
            make_archive(db, n)
            os.sync()  # the archive's writing is not the build's: flush it before timing
            seconds, pages, own, children, search_seconds = phase(db, out, search, True)
            rebuilds = []
            for round_ in range(REBUILDS):
                add_ten(db, round_)
                rebuilds.append(phase(db, out, search, False)[0])
            again = statistics.median(rebuilds)
            line = (f"{n:>7} {seconds:>7.2f} {pages / seconds:>8,.0f} {own:>8.0f} "
                    f"{children:>10.0f} {again:>6.2f}")
            if search:
                size = sum(p.stat().st_size for p in (out / "search").rglob("*") if p.is_file())
                line += f" {search_seconds:>9.1f} {size / 1e6:>9.1f}"
            print(line, flush=True)
    finally:
        for work in folders:
            shutil.rmtree(work)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main([int(a) for a in args] or [10000], "--search" in sys.argv)
