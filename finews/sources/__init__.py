"""Source kinds, one module each, all producing the same Article."""

from __future__ import annotations

from finews.config import SourceSettings


def source_kinds() -> dict[str, type]:
    from finews.sources import eastmoney, feed, page

    kinds = [
        eastmoney.FastNews, eastmoney.Columns, eastmoney.Search, eastmoney.Kuaixun,
        eastmoney.Legacy102, eastmoney.Legacy45, eastmoney.LegacyNewMarket, feed.Feed,
        page.Pages,
    ]
    return {kind.kind: kind for kind in kinds}


def build_source(settings: SourceSettings):
    """The Source object for a configured source."""
    return source_kinds()[settings.kind](settings)
