"""A security's news per day as a small inline SVG, drawn at build time: no script, no
library, no request, and it reads the same in a feed reader's web view as in a browser."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

from markupsafe import Markup

DAYS = 90
_BAR = 4
_HEIGHT = 48


def mention_chart(days: Iterable[date], end: date, span: int = DAYS) -> Markup:
    """Bars for the ``span`` days up to ``end`` (the day of the security's newest news, so
    that a page nobody rewrites never shows an empty recent stretch it did not measure);
    ``days`` holds one date per article."""
    start = end - timedelta(days=span - 1)
    counts = Counter(day for day in days if start <= day <= end)
    peak = max(counts.values(), default=0)
    total = sum(counts.values())
    bars = []
    for offset in range(span):
        day = start + timedelta(days=offset)
        n = counts.get(day, 0)
        if not n:
            continue
        height = max(2, round(n / peak * (_HEIGHT - 2)))
        bars.append(f'<rect x="{offset * _BAR}" y="{_HEIGHT - height}" width="{_BAR - 1}" '
                    f'height="{height}"><title>{day:%Y-%m-%d}：{n} 篇</title></rect>')
    label = f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d} 每日新闻数：共 {total} 篇，单日最多 {peak} 篇"
    return Markup(
        f'<figure class="chart"><svg viewBox="0 0 {span * _BAR} {_HEIGHT}" width="{span * _BAR}" '
        f'height="{_HEIGHT}" role="img" aria-label="{label}">'
        f'<line x1="0" y1="{_HEIGHT - 0.5}" x2="{span * _BAR}" y2="{_HEIGHT - 0.5}"/>'
        + "".join(bars) +
        f'</svg><figcaption>{label}</figcaption></figure>'
    )
