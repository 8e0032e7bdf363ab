"""Bulk export: time and peak memory of `finews export jsonl|csv|parquet` over a generated
archive (bench/corpus.py, bodies of 1,500–4,000 characters), each in a process of its own.

    python bench/export.py --articles 100000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import articles as generated
from bench.machine import cpu_check
from finews.store import open_store
from finews.stories import StoryRules

RUN = """
import sys
from finews.cli import main
sys.argv = ["finews", "--database", sys.argv[1], "export", sys.argv[2], sys.argv[3], "--fields", sys.argv[4]]
try:
    main()
except SystemExit:
    pass
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(int(peak.split()[1]) // 1024, file=sys.stderr)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100000)
    args = parser.parse_args()
    print(cpu_check())
    folder = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        db = folder / "a.db"
        store = open_store(str(db), stories=StoryRules(enabled=False))
        batch = []
        for article in generated(args.articles, seed=6):
            batch.append(article)
            if len(batch) == 1000:
                store.upsert(batch)
                batch = []
        store.upsert(batch)
        store.close()
        print(f"export of {args.articles:,} articles, each format in its own process")
        for kind, fields in (("jsonl", "all"), ("csv", "id,published,outlet,title,digest,url,stocks"),
                             ("parquet", "all")):
            out = folder / f"news.{kind}"
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", RUN, str(db), kind, str(out), fields],
                                  capture_output=True, text=True, check=True)
            seconds = time.perf_counter() - started
            peak = int(done.stderr.strip().splitlines()[-1])
            size = out.stat().st_size / 2**20 if out.exists() else 0.0
            print(f"  {kind:8} fields {fields[:20]:20}: {seconds:6.1f} s, {args.articles / seconds:7.0f} "
                  f"articles/s, {size:7.1f} MB, peak {peak} MB (target: under 200 MB)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
