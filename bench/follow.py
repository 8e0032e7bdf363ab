"""Following news: what 50 watches cost a stored article, and how soon a match reaches
its receiver.

1. Matching: an archive of ``--articles`` generated articles (bench/corpus.py) is copied,
   then ``--new`` more are stored into the copy one batch of 50 at a time, as the collector
   stores them, with no watch and with 50 (two-word phrases joined by OR, exclusions,
   securities, importance); alternating rounds, best of each. Prints ms per article.
2. Latency: a receiver on 127.0.0.1 (Apprise json://) and the notifier's thread, as `finews
   run` has them; batches of fresh articles stored every half second; prints the time from
   each batch's commit to each message's arrival (p50, p95, max).

    python bench/follow.py --articles 20000
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import WORDS
from bench.corpus import articles as generated
from bench.machine import cpu_check
from finews.config import parse_settings
from finews.follow import IMPORTANT, FollowRules
from finews.model import BEIJING, Article
from finews.notify import Notifier
from finews.store import open_store
from tests.follow.receiver import Receiver

ROUNDS = 2


def watch_tables(n: int, url: str, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    tables = []
    for i in range(n):
        kind = i % 10
        table: dict = {"name": f"w{i}", "notify": [url]}
        if kind == 8:
            table["stocks"] = ["1.600519", "0.000001"]
        elif kind == 9:
            table["important"] = True
        else:
            first, second = (rng.choice(WORDS) + rng.choice(WORDS) for _ in range(2))
            table["query"] = f"{first} OR {second}" + (f" -{rng.choice(WORDS)}" if kind < 3 else "")
        tables.append(table)
    return tables


def copies(articles: list[Article]) -> list[Article]:
    return [Article(**{k: v for k, v in vars(a).items() if k in Article.__dataclass_fields__})
            for a in articles]


def store_rate(base: Path, work: Path, new: list[Article], rules: FollowRules) -> float:
    """Seconds per article to store ``new`` into a copy of the archive at ``base``."""
    shutil.copy(base, work)
    store = open_store(str(work), follow=rules)
    started = time.perf_counter()
    for start in range(0, len(new), 50):
        store.upsert(copies(new[start:start + 50]), notify=True)
    seconds = time.perf_counter() - started
    queued = store._x("SELECT COUNT(*) FROM outbox").fetchone()[0]
    store.close()
    work.unlink()
    return seconds / len(new), queued


def matching_phase(folder: Path, n: int, new_count: int) -> None:
    start = datetime.now(BEIJING) - timedelta(days=729)
    every = list(generated(n + new_count, seed=8, start=start))
    for i, a in enumerate(every):
        a.importance = IMPORTANT if i % 10 == 3 else 0
    base = folder / "base.db"
    store = open_store(str(base))
    for at in range(0, n, 1000):
        store.upsert(every[at:at + 1000])
    store.close()
    new = every[n:]
    settings = parse_settings({"follow": {"max_age": "1000d"},
                               "watch": watch_tables(50, "json://127.0.0.1:9/hook")}, folder)
    results: dict[str, list[float]] = {"none": [], "50 watches": []}
    queued = 0
    for _ in range(ROUNDS):
        for label, rules in (("none", FollowRules()), ("50 watches", settings.follow)):
            seconds, count = store_rate(base, folder / "work.db", new, rules)
            results[label].append(seconds)
            queued = max(queued, count)
    none, watched = min(results["none"]), min(results["50 watches"])
    print(f"store {new_count:,} articles into an archive of {n:,}, batches of 50 (best of {ROUNDS})")
    print(f"  no watches  : {1000 * none:.3f} ms per article")
    print(f"  50 watches  : {1000 * watched:.3f} ms per article ({queued:,} messages queued)")
    print(f"  added cost  : {1000 * (watched - none):.3f} ms per article (target: at most 2)")


def latency_phase(folder: Path, batches: int) -> None:
    receiver = Receiver().start()
    settings = parse_settings({"follow": {"max_age": "1d", "per_minute": 100000},
                               "watch": [{"name": "all", "notify": [receiver.url]}]}, folder)
    db = folder / "latency.db"
    store = open_store(str(db), follow=settings.follow)
    stopping = threading.Event()
    sender_store = open_store(str(db))
    sender = threading.Thread(target=Notifier(sender_store, settings).run, args=(stopping,))
    sender.start()
    stored_at: dict[str, float] = {}
    try:
        base = datetime.now(BEIJING) - timedelta(hours=1)
        fresh = list(generated(batches * 10, seed=12, start=base))
        for b in range(batches):
            batch = fresh[b * 10:(b + 1) * 10]
            for a in batch:
                a.published = base + timedelta(seconds=len(stored_at))
                stored_at[f"all:{a.id}"] = 0.0
            store.upsert(batch, notify=True)
            committed = time.time()
            for a in batch:
                stored_at[f"all:{a.id}"] = committed
            time.sleep(0.5)
        deadline = time.time() + 30
        while len(set(receiver.ids())) < len(stored_at) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        stopping.set()
        sender.join()
        sender_store.close()
        store.close()
        receiver.stop()
    delays = sorted(arrived - stored_at[mid] for mid, arrived in zip(receiver.ids(), receiver.arrived,
                                                                      strict=True))
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(f"store -> receiver, {len(delays)} messages in {batches} batches of 10, one every 0.5 s")
    print(f"  p50 {statistics.median(delays):.3f} s   p95 {p95:.3f} s   max {delays[-1]:.3f} s"
          f"   (target: p95 at most 1.5 s; the notifier looks every 0.2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--new", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    print(cpu_check())
    folder = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        matching_phase(folder, args.articles, args.new)
        latency_phase(folder, args.batches)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
