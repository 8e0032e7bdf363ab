"""The data finews passes between its stages: plain dataclasses and the rules for ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from finews.errors import InvalidArticle
from finews.fulltext import Grams, Tokens, searchable_text, text_grams, text_tokens

BEIJING = ZoneInfo("Asia/Shanghai")

_EASTMONEY_CODE = re.compile(r"[A-Za-z]{0,4}(\d{16,24})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def is_safe_code(code: str) -> bool:
    """A code is safe when it can be used as a file name and a URL segment as it is."""
    return bool(_SAFE_CODE.fullmatch(code))


def stable_id(code: str) -> str:
    """The id under which an article is stored once.

    Eastmoney publishes one story under several codes (``NW202204212352230938`` on the
    outlet page, ``202204212352230938`` in rolling news): the digits identify it.
    """
    code = code.strip()
    match = _EASTMONEY_CODE.fullmatch(code)
    if match:
        return match.group(1)
    if is_safe_code(code):
        return code
    raise InvalidArticle(f"unsafe article id {code!r}: only letters, digits, '-' and '_' are allowed")


def content_hash(title: str, body: str, digest: str, url: str) -> str:
    """A fingerprint of what a reader sees, so that a changed article is noticed."""
    h = hashlib.sha256()
    for part in (title, body, digest, url):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


@dataclass
class Article:
    """One news article, as received from its source.

    ``code`` is the id the source used (it names the file and the page); ``id`` is the
    stable id derived from it. ``body`` is kept exactly as received; ``html`` is the
    sanitised HTML that is published, derived from it (by the store when it is empty).
    """

    code: str
    title: str
    published: datetime
    outlet: str
    category: str = ""
    tags: list[str] = field(default_factory=list)
    body: str = ""
    digest: str = ""
    url: str = ""
    source: str = ""
    id: str = ""
    first_seen: datetime | None = None
    last_changed: datetime | None = None
    aliases: list[tuple[str, str]] = field(default_factory=list)
    stocks: list[str] = field(default_factory=list)
    """Securities the source lists with the article (``1.600519``); the store adds those
    its text names (finews.stocks)."""
    key: int = 0
    html: str = ""
    importance: int = 0
    """0, or finews.follow.IMPORTANT when the source marked it (Eastmoney's red headlines)."""

    def __post_init__(self) -> None:
        if not is_safe_code(self.code):
            raise InvalidArticle(
                f"unsafe article id {self.code!r}: only letters, digits, '-' and '_' are allowed"
            )
        if not self.id:
            self.id = stable_id(self.code)
        if self.published.tzinfo is None:
            self.published = self.published.replace(tzinfo=BEIJING)
        self.tags = [t for t in (_CONTROL.sub("", str(tag)).strip() for tag in self.tags) if t]
        for name in ("title", "outlet", "body", "digest", "url"):
            value = getattr(self, name)
            if "\x00" in value:  # no news has one; PostgreSQL, XML and feeds cannot hold it
                setattr(self, name, value.replace("\x00", ""))

    @classmethod
    def trusted(cls, **fields: object) -> Article:
        """An Article from data finews validated before (the archive's own rows)."""
        article = cls.__new__(cls)
        article.__dict__.update(fields)
        return article

    @cached_property
    def content_hash(self) -> str:
        """Computed once (in the worker that read the article, during imports)."""
        return content_hash(self.title, self.body, self.digest, self.url)

    @cached_property
    def search_tokens(self) -> Tokens:
        """The tokens the search index holds for this article, computed once from its
        publishable HTML (in the worker that read it, during imports), like the content hash."""
        return text_tokens(self.title, self.html or self.body)

    @cached_property
    def search_grams(self) -> Grams:
        """The PostgreSQL index's form of the same tokens, computed once like them."""
        return text_grams(self.title, self.html or self.body)

    @property
    def search_text(self) -> str:
        """The article's text as search normalises it: what a brute-force scan compares."""
        return searchable_text(self.title, self.html or self.body)


@dataclass
class UpsertResult:
    """What one batch did to the archive."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.merged += other.merged
        return self


@dataclass
class CategoryCount:
    slug: str
    outlet: str
    count: int
