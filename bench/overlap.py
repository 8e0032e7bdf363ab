"""Nothing lost when sources overlap: the figures of issue "Nothing lost", from one run.

    python bench/overlap.py [--seeds 5]

Against the overlapping mock world (finews/mocknews.py, ``overlap=True``: a share of stories
in the flash list and a column, the rolling and the outlet lists, the feed), with lists of
50 items and sources polled in several orders, it prints for each scenario the articles
missed, duplicated and under the wrong outlet, and the body requests per new article:

- cold: a first pass over 300 published articles;
- burst: 300 new articles between two passes;
- failed then recovered: the flash list answers an HTML error page (status 200) on one
  pass, during a burst of 300, and the next pass must recover.

Every source fetches full text, so one body request per new article is the ideal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import cpu_check
from finews.collect import Collector
from finews.config import parse_settings
from finews.mocknews import ROLLING_OUTLET, MockNews, MockNewsServer, overlap_sources_toml
from finews.store import open_store

COLUMNS = 3
ORDERS = ("together", "columns first", "rolling first")


def _settings(url: str, root: Path, order: str):
    import tomllib

    text = "[fetch]\nmin_interval = 0\nretries = 1\nbackoff = 0.01\n"
    text += f"sources_at_once = {16 if order == 'together' else 1}\n"
    text += overlap_sources_toml(url, COLUMNS, page_size=50, max_pages=20,
                                 flash_full_text="always", legacy_count=1000)
    settings = parse_settings(tomllib.loads(text), root)
    if order == "rolling first":
        settings.sources.sort(key=lambda s: s.name not in ("flash", "rolling"))
    return settings


def _pass(settings, db: Path) -> None:
    with open_store(str(db)) as store:
        asyncio.run(Collector(store, settings).run(settings.sources))


def _figures(world: MockNews, db: Path, new: int) -> tuple[int, int, int, float]:
    with open_store(str(db)) as store:
        articles = list(store.iter_articles())
    stored = {a.id: a for a in articles}
    missed = sum(a.code not in stored for a in world.articles)
    misfiled = sum(stored[a.code].outlet != (a.outlet if a.names_outlet else ROLLING_OUTLET)
                   for a in world.articles if a.code in stored)
    return missed, len(articles) - len(stored), misfiled, sum(world.bodies.values()) / new


def scenario(name: str, order: str, seed: int) -> tuple[int, int, int, float]:
    world = MockNews(columns=COLUMNS, seed=seed, overlap=True)
    server = MockNewsServer(world).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "a.db"
            settings = _settings(server.url, Path(tmp), order)
            world.publish(300 if name == "cold" else 60)
            if name != "cold":
                _pass(settings, db)
                world.bodies.clear()
                world.publish(300)
            if name == "failed then recovered":
                world.break_list("flash", times=1, from_page=1)
                _pass(settings, db)
            _pass(settings, db)
            return _figures(world, db, 300)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="worlds per scenario and order")
    args = parser.parse_args()
    print(cpu_check())
    print(f"{'scenario':24} {'order':14} {'missed':>7} {'duplicated':>10} {'wrong outlet':>12} "
          f"{'bodies/new':>10}")
    for name in ("cold", "burst", "failed then recovered"):
        for order in ORDERS:
            runs = [scenario(name, order, seed) for seed in range(1, args.seeds + 1)]
            missed, duplicated, misfiled = (sum(r[i] for r in runs) for i in range(3))
            bodies = sum(r[3] for r in runs) / len(runs)
            print(f"{name:24} {order:14} {missed:>7} {duplicated:>10} {misfiled:>12} {bodies:>10.2f}")
    print(f"(sums over {args.seeds} worlds of 300 new articles each; bodies/new is their mean)")


if __name__ == "__main__":
    main()
