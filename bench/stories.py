"""Stories: what grouping costs when articles are stored, and how much memory it needs.

Stores the same generated archive (bench/corpus.py, with a share of reprints: copies of
a recent article under another outlet, with a dateline, a source note or a trimmed
paragraph) twice in one run, with grouping off and on, alternating rounds, one batch of
50 at a time as the collector stores them; prints articles/s and the added cost per
article, the stories found, the rebuild after 10 new articles and peak memory.

    python bench/stories.py --articles 100000
    python bench/stories.py --articles 20000 --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import articles as generated
from bench.machine import cpu_check
from finews.config import parse_settings
from finews.model import Article
from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store
from finews.stories import StoryRules

REBUILDS = 5


def with_reprints(n: int, share: float, seed: int = 3) -> list[Article]:
    rng = random.Random(seed)
    out: list[Article] = []
    for number, a in enumerate(generated(n, seed=seed)):
        if out and rng.random() < share:
            original = rng.choice(out[-50:])
            body = rng.choice(["证券时报网讯，", "（记者 王磊）", ""]) + original.body
            a = Article(code=f"R{number:09d}", title=rng.choice(["【独家】", "快讯：", ""]) + original.title,
                        published=a.published, outlet=a.outlet, body=body + "<p>（文章来源：证券时报）</p>")
        out.append(a)
    return out


def store_all(location: str, batch: list[Article], enabled: bool) -> float:
    store = open_store(location, stories=StoryRules(enabled=enabled))
    started = time.perf_counter()
    for start in range(0, len(batch), 50):
        store.upsert([Article(**{k: v for k, v in vars(a).items() if k in Article.__dataclass_fields__})
                      for a in batch[start:start + 50]])
    seconds = time.perf_counter() - started
    store.close()
    return seconds


def store_phase(root: Path, batch: list[Article]) -> None:
    times: dict[bool, list[float]] = {False: [], True: []}
    for round_ in range(2):
        for enabled in (False, True) if round_ == 0 else (True, False):
            path = root / f"{enabled}-{round_}.db"
            times[enabled].append(store_all(str(path), batch, enabled))
            if round_:  # the first round's archives are kept for the builds below
                for file in root.glob(f"{enabled}-{round_}.db*"):
                    file.unlink()
    report_store("SQLite", batch, times)


def postgres_phase(server: str, batch: list[Article]) -> None:
    """The same on PostgreSQL, each round in a new schema, dropped afterwards."""
    import psycopg

    times: dict[bool, list[float]] = {False: [], True: []}
    with psycopg.connect(server, autocommit=True) as admin:
        for round_ in range(2):
            for enabled in (False, True) if round_ == 0 else (True, False):
                schema = f"bench_stories_{uuid.uuid4().hex[:12]}"
                admin.execute(f"CREATE SCHEMA {schema}")
                separator = "&" if "?" in server else "?"
                url = f"{server}{separator}options={quote(f'-csearch_path={schema},public')}"
                try:
                    times[enabled].append(store_all(url, batch, enabled))
                finally:
                    admin.execute(f"DROP SCHEMA {schema} CASCADE")
    report_store("PostgreSQL", batch, times)


def report_store(backend: str, batch: list[Article], times: dict[bool, list[float]]) -> None:
    off, on = min(times[False]), min(times[True])
    n = len(batch)
    print(f"store {n:,} articles on {backend}, batches of 50 (best of 2, alternating)")
    print(f"  grouping off : {n / off:8,.0f} articles/s  ({off:.1f} s)")
    print(f"  grouping on  : {n / on:8,.0f} articles/s  ({on:.1f} s)")
    print(f"  added cost   : {(on - off) / n * 1000:.3f} ms per article")


def build_phase(root: Path, articles: int, reprints: float) -> None:
    """Full builds of both archives, alternating, best of 2; then rebuilds after 10 new
    articles (which changes the archive), REBUILDS times each."""
    settings = parse_settings({}, root)
    full: dict[bool, list[float]] = {False: [], True: []}
    for order in ((False, True), (True, False)):
        for enabled in order:
            out = root / f"site-{enabled}"
            shutil.rmtree(out, ignore_errors=True)
            with open_store(str(root / f"{enabled}-0.db")) as s:
                started = time.perf_counter()
                SiteBuilder(s, settings, BuildOptions(out=out, search=False)).build()
                full[enabled].append(time.perf_counter() - started)
    extra = with_reprints(articles + 10 * REBUILDS, reprints)[articles:]
    rebuilt: dict[bool, list[float]] = {False: [], True: []}
    for round_ in range(REBUILDS):
        ten = extra[10 * round_:10 * round_ + 10]
        for enabled in (False, True) if round_ % 2 == 0 else (True, False):
            with open_store(str(root / f"{enabled}-0.db")) as s:
                s.upsert([Article(**{k: v for k, v in vars(a).items() if k in Article.__dataclass_fields__})
                          for a in ten])
                started = time.perf_counter()
                SiteBuilder(s, settings, BuildOptions(out=root / f"site-{enabled}", search=False)).build()
                rebuilt[enabled].append(time.perf_counter() - started)
    for enabled in (False, True):
        print(f"  build, grouping {'on ' if enabled else 'off'}: full {min(full[enabled]):.2f} s, "
              f"after 10 new articles {statistics.median(rebuilt[enabled]):.3f} s "
              f"(median of {REBUILDS}, alternating)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--reprints", type=float, default=0.3)
    parser.add_argument("--keep", type=Path, help="keep the archives in this folder (else a temporary one)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure storing on this PostgreSQL server, in schemas of its own")
    parser.add_argument("--build-only", action="store_true",
                        help="with --keep: reuse the archives stored there, measure the builds only")
    args = parser.parse_args()
    print(cpu_check())
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").exists() else None) as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        if not (args.build_only and (root / "True-0.db").exists()):
            batch = with_reprints(args.articles, args.reprints)
            store_phase(root, batch)
            if args.postgres:
                postgres_phase(args.postgres, batch)
            print(f"  reprints made: {sum(a.code.startswith('R') for a in batch):,}")
            del batch
        with open_store(str(root / "True-0.db")) as store:
            print(f"  stories of more than one article: {store.story_count():,}")
        build_phase(root, args.articles, args.reprints)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak memory (this process, all of the above): {peak:.0f} MB")
        print("  finews stories --recompute: " + recompute(root / "True-0.db"))


def recompute(db: Path) -> str:
    """`finews stories --recompute` in a process of its own, which reports its own peak
    resident size (VmHWM: getrusage's maxrss survives exec, so a child started by this
    process would report this process's peak)."""
    code = ("import re, sys, time; from finews.cli import main; started = time.perf_counter()\n"
            "sys.argv = ['finews', 'stories', '--recompute', '--database', sys.argv[1]]\n"
            "try:\n    main()\n"
            "except SystemExit:\n    pass\n"
            "peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
            "print(f'{time.perf_counter() - started:.1f} s, peak memory {peak / 1024:.0f} MB', "
            "file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, str(db)], check=True, capture_output=True, text=True)
    return done.stderr.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
