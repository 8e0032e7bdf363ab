"""Stories: what grouping costs when articles are stored, and how much memory it needs.

Stores the same generated archive (bench/corpus.py, with a share of reprints: copies of
a recent article under another outlet, with a dateline, a source note or a trimmed
paragraph) twice in one run, with grouping off and on, alternating rounds, one batch of
50 at a time as the collector stores them; prints articles/s and the added cost per
article, the stories found, the rebuild after 10 new articles and peak memory.

    python bench/stories.py --articles 100000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import articles as generated
from finews.config import parse_settings
from finews.model import Article
from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store
from finews.stories import StoryRules


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


def store_all(path: Path, batch: list[Article], enabled: bool) -> float:
    store = open_store(str(path), stories=StoryRules(enabled=enabled))
    started = time.perf_counter()
    for start in range(0, len(batch), 50):
        store.upsert([Article(**{k: v for k, v in vars(a).items() if k in Article.__dataclass_fields__})
                      for a in batch[start:start + 50]])
    seconds = time.perf_counter() - started
    store.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--reprints", type=float, default=0.3)
    args = parser.parse_args()
    batch = with_reprints(args.articles, args.reprints)
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").exists() else None) as tmp:
        root = Path(tmp)
        times: dict[bool, list[float]] = {False: [], True: []}
        for round_ in range(2):
            for enabled in (False, True) if round_ == 0 else (True, False):
                path = root / f"{enabled}-{round_}.db"
                times[enabled].append(store_all(path, batch, enabled))
        off, on = min(times[False]), min(times[True])
        n = len(batch)
        print(f"store {n:,} articles, batches of 50 (best of 2, alternating)")
        print(f"  grouping off : {n / off:8,.0f} articles/s  ({off:.1f} s)")
        print(f"  grouping on  : {n / on:8,.0f} articles/s  ({on:.1f} s)")
        print(f"  added cost   : {(on - off) / n * 1000:.3f} ms per article")
        store = open_store(str(root / "True-0.db"))
        print(f"  stories of more than one article: {store.story_count():,} "
              f"(reprints made: {sum(a.code.startswith('R') for a in batch):,})")
        settings = parse_settings({}, root)
        builds = {}
        for enabled in (False, True):
            s = open_store(str(root / f"{enabled}-0.db"))
            out = root / f"site-{enabled}"
            started = time.perf_counter()
            SiteBuilder(s, settings, BuildOptions(out=out, search=False)).build()
            full = time.perf_counter() - started
            s.upsert(with_reprints(args.articles + 10, args.reprints)[-10:])
            started = time.perf_counter()
            SiteBuilder(s, settings, BuildOptions(out=out, search=False)).build()
            builds[enabled] = (full, time.perf_counter() - started)
            s.close()
        for enabled, (full, rebuild) in builds.items():
            print(f"  build, grouping {'on ' if enabled else 'off'}: full {full:.2f} s, "
                  f"after 10 new articles {rebuild:.3f} s")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak memory (this process): {peak:.0f} MB")
        store.close()


if __name__ == "__main__":
    main()
