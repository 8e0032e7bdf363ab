"""Chinese full-text search for the static site: Pagefind, one index shard per month.

A full re-index after every fetch would be too slow for 100,000 articles, so each month is
its own Pagefind index; a rebuild re-indexes only the months whose articles changed, and the
search page merges the shards in the browser (Pagefind's multi-index search).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from finews.clean import html_to_text
from finews.model import Article
from finews.site.output import Output
from finews.site.pages import Renderer
from finews.store import Store
from finews.store.base import key_range

if TYPE_CHECKING:
    from pagefind.index import PagefindIndex


def _month_window(month: str, renderer: Renderer, window: tuple[int, int]) -> tuple[int, int]:
    from datetime import datetime

    year, number = map(int, month.split("-"))
    start = datetime(year, number, 1, tzinfo=renderer.tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=renderer.tz)
    low, high = key_range(start, end)
    return max(low, window[0]), high


async def _add(index: PagefindIndex, renderer: Renderer, a: Article) -> None:
    view = renderer.view(a)
    await index.add_custom_record(
        url=view.href, content=f"{a.title}\n{a.digest}\n{html_to_text(a.html)}", language="zh",
        meta={"title": a.title or "（无标题）", "outlet": view.outlet,
              "date": view.local.strftime("%Y-%m-%d %H:%M")},
    )


async def _index_months(store: Store, renderer: Renderer, root: Path, months: list[str],
                        window: tuple[int, int]) -> list[str]:
    from pagefind.index import PagefindService

    built = []
    service = await PagefindService().launch()
    try:
        for month in months:
            articles = store.summaries(keys=_month_window(month, renderer, window),
                                       newest_first=False, with_body=True)
            target = root / "pagefind" / month
            if not articles:
                shutil.rmtree(target, ignore_errors=True)
                continue
            index = await service.create_index({"force_language": "zh"})
            for start in range(0, len(articles), 200):
                # Records go over one pipe to the Pagefind service: send them in flights.
                await asyncio.gather(*(_add(index, renderer, a)
                                       for a in articles[start:start + 200]))
            staging = root / "pagefind" / f".{month}.new"
            shutil.rmtree(staging, ignore_errors=True)
            await index.write_files(output_path=str(staging))
            await index.delete_index()
            old = root / "pagefind" / f".{month}.old"
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
            built.append(month)
    finally:
        await service.close()
    return built


def build_shards(store: Store, renderer: Renderer, out: Output, months: list[str],
                 window: tuple[int, int], *, all_months: list[str]) -> list[str]:
    """Re-index the given months; list every month's shard (newest first) in shards.json."""
    root = out.root
    (root / "pagefind").mkdir(parents=True, exist_ok=True)
    built: list[str] = []
    if months:
        # A thread of its own, so that callers already inside an event loop can build too.
        with ThreadPoolExecutor(1) as runner:
            built = runner.submit(
                asyncio.run, _index_months(store, renderer, root, months, window)).result()
    present = [m for m in sorted(all_months, reverse=True) if (root / "pagefind" / m).is_dir()]
    for stale in (root / "pagefind").iterdir():
        if stale.is_dir() and not stale.name.startswith(".") and stale.name not in all_months:
            shutil.rmtree(stale)
    out.write("/pagefind/shards.json", json.dumps(present).encode())
    return built
