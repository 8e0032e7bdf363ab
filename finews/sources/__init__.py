"""Source kinds, one module each, all producing the same Article.

``KINDS`` is the one registry of kinds: the config names them, and a kind's module is
imported only when a source of that kind is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from finews.errors import ConfigError

if TYPE_CHECKING:
    from finews.config import SourceSettings
    from finews.sources.base import Source

KINDS = {
    "eastmoney-fastnews": "eastmoney:FastNews",
    "eastmoney-columns": "eastmoney:Columns",
    "eastmoney-search": "eastmoney:Search",
    "eastmoney-kuaixun": "eastmoney:Kuaixun",
    "legacy-102": "eastmoney:Legacy102",
    "legacy-45": "eastmoney:Legacy45",
    "legacy-newmarket": "eastmoney:LegacyNewMarket",
    "feed": "feed:Feed",
    "pages": "pages:Pages",
}


def check_kinds(sources: list[SourceSettings]) -> None:
    """A clear config error for a source of a kind finews does not have."""
    for source in sources:
        if source.kind not in KINDS:
            raise ConfigError(f"sources.{source.name}.kind: unknown kind {source.kind!r} "
                              f"(expected one of {', '.join(KINDS)})")


def build_source(settings: SourceSettings) -> Source:
    """The Source object for a configured source."""
    check_kinds([settings])
    module, name = KINDS[settings.kind].split(":")
    return getattr(importlib.import_module(f"finews.sources.{module}"), name)(settings)
