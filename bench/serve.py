"""Server benchmark: `finews serve` under wrk (Debian's wrk package) on 127.0.0.1.

    python bench/serve.py [N] [--workers 2] [--seconds 10] [--db PATH]

Builds an archive of N articles (default 10,000) and its site, starts `finews serve`
with the given workers, and prints requests per second, p50/p99 latency and errors for
article pages (1,000 different ones), /api/articles (50 summaries, the same query, as a
home page or a feed reader polls it), /api/articles pages at 1,000 different cursors
(each computed once per worker, then served from the cache until the archive changes) and
/api/search, each at 50 and 200 concurrent connections.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build import make_archive
from bench.machine import cpu_check
from finews.config import Settings
from finews.site.build import BuildOptions, SiteBuilder
from finews.site.pages import article_path
from finews.store import open_store

LUA = """
local paths = {%s}
math.randomseed(7)
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
                 + summary.errors.status + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%f, "p50": %%f, "p99": %%f, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, errors))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db: Path, site: Path, n: int) -> None:
    if not db.exists():
        print(f"generating {n:,} articles ...", flush=True)
        make_archive(db, n)
    if not (site / "index.html").exists():
        settings = Settings()
        with open_store(str(db)) as store:
            SiteBuilder(store, settings, BuildOptions(out=site, search=False)).build()


def wrk(url: str, paths: list[str], connections: int, seconds: int, folder: Path) -> dict:
    script = folder / "paths.lua"
    script.write_text(LUA % ", ".join(json.dumps(p) for p in paths))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--db", type=Path, help="archive to keep between runs")
    args = parser.parse_args()
    print(cpu_check(), flush=True)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="finews-serve-"))
    db = args.db or folder / "archive.db"
    site = db.parent / "site"
    db.parent.mkdir(parents=True, exist_ok=True)
    prepare(db, site, args.n)
    settings = Settings()
    with open_store(str(db)) as store:
        sample = random.Random(3).sample(store.summaries(limit=store.count()), 1000)
        keys = [a.key for a in sample]
    pages = [article_path(a.category, a.published, a.code, settings.tz) for a in sample]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "finews", "--database", str(db), "serve", "--port", str(port),
         "--workers", str(args.workers), "--out", str(site)],
        stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        cases = [
            ("article pages", pages),
            ("/api/articles", ["/api/articles?limit=50"]),
            ("/api/articles, 1,000 cursors", [f"/api/articles?limit=50&cursor={k}" for k in keys]),
            ("/api/search?q=芯片", ["/api/search?q=%E8%8A%AF%E7%89%87&limit=20"]),
        ]
        print(f"finews serve --workers {args.workers}, {args.seconds} s per run")
        print(f"{'':<30} {'conns':>5} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
        for label, paths in cases:
            for connections in (50, 200):
                wrk(url, paths, connections, 2, folder)  # warm up the caches
                r = wrk(url, paths, connections, args.seconds, folder)
                print(f"{label:<30} {connections:>5} {r['rps']:>9,.0f} {r['p50']:>7.1f} "
                      f"{r['p99']:>7.1f} {r['errors']:>6}", flush=True)
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
