"""Category slugs: the URL-safe names of outlets, as the original site made them."""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile(r"[^a-z0-9]+")


def safe_slug(text: str) -> str:
    """Lower-case letters and digits only, so the slug is safe in any URL and file name."""
    return _UNSAFE.sub("", unicodedata.normalize("NFKC", text).lower())


def pinyin_slug(outlet: str) -> str:
    """The pinyin of an outlet name: 南方都市报 -> nanfangdushibao."""
    from pypinyin import Style, lazy_pinyin

    slug = safe_slug("".join(lazy_pinyin(outlet, style=Style.NORMAL, errors="default")))
    return slug or "news"


def is_safe_slug(slug: str) -> bool:
    return bool(slug) and safe_slug(slug) == slug
