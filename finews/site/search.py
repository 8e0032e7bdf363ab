"""Chinese full-text search for the static site: Pagefind, one index shard per month.

A full re-index after every fetch would be too slow for 100,000 articles, so each month is
its own Pagefind index, built from that month's article pages (marked with
``data-pagefind-body``); a rebuild re-indexes only the months whose articles changed, and the
search page merges the shards in the browser (Pagefind's multi-index search).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from finews.site.output import Output


async def _index_months(root: Path, months: list[str]) -> list[str]:
    """Pagefind reads the month's article pages from disk itself (one request per shard:
    its Python API answers at most ten messages a second, far too slow record by record)."""
    from pagefind.index import PagefindService

    built = []
    service = await PagefindService().launch()
    try:
        for month in months:
            year, number = month.split("-")
            target = root / "pagefind" / month
            index = await service.create_index({"force_language": "zh"})
            indexed = await index.add_directory(str(root), glob=f"*/{year}/{number}/*/*.html")
            if not indexed.get("page_count"):
                await index.delete_index()
                shutil.rmtree(target, ignore_errors=True)
                continue
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


def build_shards(out: Output, months: list[str], *, all_months: list[str]) -> list[str]:
    """Re-index the given months; list every month's shard (newest first) in shards.json."""
    root = out.root
    (root / "pagefind").mkdir(parents=True, exist_ok=True)
    built: list[str] = []
    if months:
        # A thread of its own, so that callers already inside an event loop can build too.
        with ThreadPoolExecutor(1) as runner:
            built = runner.submit(asyncio.run, _index_months(root, months)).result()
    present = [m for m in sorted(all_months, reverse=True) if (root / "pagefind" / m).is_dir()]
    for stale in (root / "pagefind").iterdir():
        if stale.is_dir() and not stale.name.startswith(".") and stale.name not in all_months:
            shutil.rmtree(stale)
    out.write("/pagefind/shards.json", json.dumps(present).encode())
    return built
