"""What every source kind shares: list items, pages of them, and full text from article pages."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from finews.clean import sanitize_html
from finews.config import SourceSettings
from finews.errors import InvalidArticle
from finews.extract import extract
from finews.fetch import Fetcher
from finews.model import BEIJING, Article, stable_id


@dataclass
class Item:
    """One entry of a source's list, before its full text is known."""

    code: str
    title: str
    published: datetime
    outlet: str
    url: str = ""
    body: str = ""
    digest: str = ""
    full_text_url: str = ""
    full_text_parser: str = "page"
    tags: list[str] = field(default_factory=list)
    stocks: list[str] = field(default_factory=list)
    category: str = ""
    id: str = ""
    importance: int = 0
    """finews.follow.IMPORTANT when the source marks the item (a red headline)."""

    def __post_init__(self) -> None:
        self.id = stable_id(self.code)


@dataclass
class Page:
    """Items newest first; ``problems`` are items that were skipped, ``notes`` warnings."""

    items: list[Item]
    problems: list[str] = field(default_factory=list)
    next_cursor: Any = None
    notes: list[str] = field(default_factory=list)


def parse_items(
    raw_items: list[Any], parse: Callable[[dict], Item | None], where: str
) -> tuple[list[Item], list[str]]:
    """Parse each raw item on its own: a bad one is reported, the others go on."""
    items: list[Item] = []
    problems: list[str] = []
    for index, raw in enumerate(raw_items):
        try:
            if not isinstance(raw, dict):
                raise InvalidArticle(f"expected an object, got {type(raw).__name__}")
            item = parse(raw)
        except (InvalidArticle, KeyError, TypeError, ValueError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            problems.append(f"{where} item {index + 1}: {reason}")
            continue
        if item is not None:
            items.append(item)
    return items, problems


def parse_time(text: Any, tz=BEIJING) -> datetime:
    """Eastmoney times: 'YYYY-MM-DD HH:MM:SS' in Beijing time, no offset."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArticle(f"no time ({text!r})")
    value = text.strip().replace("/", "-")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArticle(f"unreadable time {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


class Source(ABC):
    """A configured source: lists pages of items; may fetch an item's full text."""

    kind: ClassVar[str]
    default_full_text: ClassVar[bool] = False

    def __init__(self, settings: SourceSettings):
        self.settings = settings

    @property
    def name(self) -> str:
        return self.settings.name

    def first_cursor(self) -> Any:
        return None

    @abstractmethod
    async def list_page(self, fetcher: Fetcher, cursor: Any) -> Page:
        """One page of the list, newest first; ``next_cursor`` is None on the last page."""

    @property
    def wants_full_text(self) -> bool:
        mode = self.settings.full_text
        return self.default_full_text if mode == "auto" else mode == "always"

    async def full_text(self, fetcher: Fetcher, item: Item) -> str:
        """The clean body from the item's article page."""
        response = await fetcher.get(item.full_text_url, kind="body")
        return extract(response.text, response.url).body

    def article(self, item: Item, body: str) -> Article:
        s = self.settings
        outlet = s.outlet or item.outlet or s.name
        return Article(
            code=item.code,
            title=item.title,
            published=item.published,
            outlet=outlet,
            category=s.category or item.category,
            tags=list(s.tags) or item.tags or [f"{outlet}新闻"],
            body=body,
            digest=item.digest,
            url=item.url,
            source=s.name,
            stocks=list(item.stocks),
            importance=item.importance,
        )


def summary_body(item: Item) -> str:
    return sanitize_html(item.body, item.url) if item.body else ""
