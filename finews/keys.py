"""Sort keys: the only code that knows how an article's key is laid out.

A key is the article's publication time in Unix seconds, shifted left by ``KEY_BITS``, with
a hash of its id in the low bits: a unique integer that orders articles by time. It is the
row key of the archive and of its search index, so "newest first" is a walk backwards over
the key, and a time window is a key range.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

KEY_BITS = 20
ALL_KEYS = (-(1 << 62), 1 << 62)
"""A range that holds every key, articles before 1970 included."""


def sort_key(published: datetime, article_id: str, attempt: int = 0) -> int:
    """The key of an article; ``attempt`` moves it when another article holds it."""
    low = (zlib.crc32(article_id.encode()) + attempt) & ((1 << KEY_BITS) - 1)
    return (int(published.timestamp()) << KEY_BITS) | low


def key_range(start: datetime, end: datetime) -> tuple[int, int]:
    """The keys of articles published in [start, end)."""
    return int(start.timestamp()) << KEY_BITS, (int(end.timestamp()) << KEY_BITS) - 1


def key_seconds(key: int) -> int:
    """The publication time of the article with this key, in Unix seconds."""
    return key >> KEY_BITS


def key_time(key: int) -> datetime:
    return datetime.fromtimestamp(key_seconds(key), UTC)
