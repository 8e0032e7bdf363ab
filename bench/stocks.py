"""Stocks benchmark: what finding the securities of each article costs.

    python bench/stocks.py [N]

Generates N articles (default 100,000) with bodies of 1,500-4,000 characters, a third of
them naming one or two companies (a stock link, 名称(600519), 名称（600519.SH）) or a learned
name, and prints:

- extraction throughput: finews.stocks.article_mentions over every article, with a matcher
  of 5,000 learned names;
- the added cost to an import: the same articles upserted in batches of 1,000 into a fresh
  SQLite archive with and without the stocks step, in the same run, alternating;
- the cost added to the site build: a full build (pages, feeds, the stock pages, chips and
  links, the directory) and the median rebuild after 10 new articles naming companies, with
  the site reading securities and with it reading none (``Store.stock_ids`` and
  ``Store.security_counts`` made empty, which is the site before stock pages), alternating
  in the same run, each build in a fresh process. The archive holds 3,000 securities, named
  Zipf-like (a few often, most rarely), as a real one does.

    python bench/stocks.py 100000 --build-only   # skip extraction and import
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build import add_ten, make_archive, phase
from bench.corpus import articles
from bench.machine import cpu_check
from finews.mocknews import COMPANIES
from finews.stocks import NameMatcher, article_mentions, parse_secid
from finews.store import open_store
from finews.store.sql import Store


def _learned(rng: random.Random) -> list[tuple[str, str]]:
    """5,000 made-up names beside the mock's companies, as a grown archive would have."""
    letters = "华夏东海南岭北辰西江中原天衡远山星河瑞丰金石银河长城泰山黄河云海"
    names = {"".join(rng.sample(letters, 4)) for _ in range(6000)}
    return [(name, f"1.60{i % 10000:04d}") for i, name in enumerate(sorted(names)[:5000])] + COMPANIES


def _with_mentions(n: int, rng: random.Random) -> list:
    batch = list(articles(n, seed=9))
    for article in batch:
        roll = rng.random()
        if roll < 0.33:
            name, secid = rng.choice(COMPANIES)
            code = secid.split(".")[1]
            article.body += (f'<p><span data-secid="{secid}">{name}</span>({code})发布公告，'
                             f"{rng.choice(COMPANIES)[0]}（600519.SH）跟涨。</p>")
        elif roll < 0.4:
            article.body += f"<p>{rng.choice(COMPANIES)[0]}今日召开股东大会。</p>"
        article.html = ""
    return batch


def _import(batch: list, root: Path, with_stocks: bool) -> float:
    path = root / f"{'with' if with_stocks else 'without'}-{time.monotonic_ns()}.db"
    original = Store._write_mentions
    if not with_stocks:
        Store._write_mentions = lambda self, rows: None
    try:
        with open_store(str(path)) as store:
            started = time.perf_counter()
            for start in range(0, len(batch), 1000):
                store.upsert([_fresh(a) for a in batch[start:start + 1000]])
            return len(batch) / (time.perf_counter() - started)
    finally:
        Store._write_mentions = original
        path.unlink()


def _fresh(article):
    """A copy the store has not seen (an upsert sets fields such as the category)."""
    copy = type(article)(code=article.code, title=article.title, published=article.published,
                         outlet=article.outlet, tags=list(article.tags), body=article.body,
                         url=article.url, source="bench")
    return copy


SECURITIES = 3000


def _named(batch: list, rng: random.Random) -> list:
    """Half the articles name one to three of 3,000 securities, linked or as 名称(代码)."""
    weights = [1 / (rank + 1) for rank in range(SECURITIES)]
    for article in batch:
        if rng.random() < 0.5:
            for i in set(rng.choices(range(SECURITIES), weights, k=rng.choice((1, 1, 2, 3)))):
                name = f"公司{i:04d}号"
                code = f"60{i:04d}"
                article.body += (f'<p><span data-secid="1.{code}">{name}</span>发布公告。</p>'
                                 if i % 2 else f"<p>{name}({code})发布公告。</p>")
        article.html = ""
    return batch


def _build(db: Path, out: Path, full: bool, with_stocks: bool, queue) -> None:
    from finews.config import Settings
    from finews.site.build import BuildOptions, SiteBuilder

    if not with_stocks:
        Store.stock_ids = lambda self, keys: {key: [] for key in keys}
        Store.security_counts = lambda self, keys: {}
    settings = Settings()
    settings.site.base_url = "https://news.example.com"
    with open_store(str(db)) as store:
        started = time.perf_counter()
        report = SiteBuilder(store, settings, BuildOptions(out=out, search=False, full=full)).build()
        queue.put((time.perf_counter() - started, report.pages))


def _build_cost(n: int) -> None:
    import os
    import shutil
    import statistics

    import bench.corpus

    work = Path(tempfile.mkdtemp(prefix="finews-stocks-build-", dir="/dev/shm"
                                 if Path("/dev/shm").is_dir() else None))
    try:
        db = work / "archive.db"
        plain = bench.corpus.articles
        rng = random.Random(7)
        bench.corpus.articles = lambda count, **kw: iter(_named(list(plain(count, **kw)), rng))
        import bench.build

        bench.build.articles = bench.corpus.articles
        make_archive(db, n)
        with open_store(str(db)) as store:
            named = len(store.security_counts((0, 2**63 - 1)))
            mentioned = store.count(keys=(0, 2**63 - 1))
        print(f"build archive: {mentioned:,} articles, {named:,} securities with news")
        os.sync()
        fulls: dict[bool, list[tuple[float, int]]] = {True: [], False: []}
        rebuilds: dict[bool, list[float]] = {True: [], False: []}
        for round_, with_stocks in enumerate((False, True, False, True)):
            out = work / f"site-{round_}"
            fulls[with_stocks].append(phase(db, out, True, with_stocks, target=_build))
            for i in range(3):
                add_ten(db, round_ * 3 + i)
                rebuilds[with_stocks].append(phase(db, out, False, with_stocks, target=_build)[0])
            shutil.rmtree(out)
        for with_stocks in (False, True):
            seconds = min(s for s, _ in fulls[with_stocks])
            pages = fulls[with_stocks][0][1]
            print(f"full build {'with' if with_stocks else 'without'} stock pages: {seconds:.2f} s "
                  f"(best of 2), {pages:,} pages; rebuild after +10: "
                  f"{statistics.median(rebuilds[with_stocks]):.3f} s (median of 6)")
        before, after = (min(s for s, _ in fulls[w]) for w in (False, True))
        print(f"full build cost of stocks: {(after / before - 1) * 100:+.1f}%")
    finally:
        bench.corpus.articles = plain
        shutil.rmtree(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--build-only", action="store_true", help="only the build cost")
    args = parser.parse_args()
    print(cpu_check())
    if args.build_only:
        _build_cost(args.n)
        return
    rng = random.Random(5)
    batch = _with_mentions(args.n, rng)
    names = NameMatcher((name, parse_secid(secid)) for name, secid in _learned(rng))
    started = time.perf_counter()
    found = sum(len(article_mentions(a.title, a.body, a.stocks, names)) for a in batch)
    seconds = time.perf_counter() - started
    print(f"extraction: {args.n:,} articles in {seconds:.1f} s, {args.n / seconds:,.0f} articles/s, "
          f"{seconds / args.n * 1e6:.0f} µs each; {found:,} mentions")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {True: [], False: []}
        for with_stocks in (False, True, False, True):
            runs[with_stocks].append(_import(batch, Path(tmp), with_stocks))
    without, with_ = max(runs[False]), max(runs[True])
    print(f"import without the stocks step: {without:,.0f} articles/s (best of 2)")
    print(f"import with it:                 {with_:,.0f} articles/s (best of 2): "
          f"{(1 / with_ - 1 / without) * 1e6:+.0f} µs per article")
    _build_cost(args.n)


if __name__ == "__main__":
    main()
