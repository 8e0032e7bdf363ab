"""Any RSS or Atom feed (feedparser), with full text from the article page when the feed
carries only a summary: every RSSHub route and every outlet with a feed."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from finews.clean import (
    absolute_url,
    clean_text,
    clean_title,
    html_to_text,
    parse_date,
    sanitize_html,
    strip_highlights,
)
from finews.errors import InvalidArticle, ParseError
from finews.extract import stable_hash
from finews.fetch import Fetcher, decode
from finews.model import BEIJING
from finews.sources.base import Item, Page, Source, parse_items

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.S)
_EASTMONEY_PAGE = re.compile(r"/a/(\d{18,24})\.html$")
SHORT_SUMMARY = 200


def parse_feed(content: bytes, content_type: str, url: str) -> Any:
    """Decode first (expat refuses GBK), then let feedparser read UTF-8."""
    text = _XML_DECL.sub('<?xml version="1.0" encoding="utf-8"?>', decode(content, content_type))
    parsed = feedparser.parse(
        text.encode("utf-8"),
        response_headers={"content-type": "application/xml; charset=utf-8"},
    )
    if not parsed.entries and parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        raise ParseError(f"{url}: not a readable RSS or Atom feed ({problem})")
    if not parsed.get("version") and not parsed.entries:
        raise ParseError(f"{url}: not an RSS or Atom feed")
    return parsed


def _when(entry: Any) -> datetime | None:
    for key in ("published", "updated", "created"):
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        raw = entry.get(key)
        if raw:
            moment = parse_date(raw, BEIJING)
            if moment:
                return moment
    return None


def _entry_html(entry: Any) -> tuple[str, str]:
    """(inline HTML, URL of out-of-line content) of an entry."""
    for content in entry.get("content") or []:
        if content.get("value"):
            return content["value"], ""
        if content.get("src"):
            return "", content["src"]
    return entry.get("summary") or entry.get("description") or "", ""


class Feed(Source):
    kind = "feed"

    async def list_page(self, fetcher: Fetcher, cursor: Any) -> Page:
        s = self.settings
        response = await fetcher.get(s.url, params=s.params or None, conditional=True)
        if response.not_modified:
            return Page([], [], None)
        parsed = parse_feed(response.content, response.headers.get("content-type", ""), response.url)
        self._feed_title = clean_title(parsed.feed.get("title"))
        self._base = urljoin(response.url, parsed.feed.get("link") or "")
        entries = parsed.entries[: s.page_size * s.max_pages]
        items, problems = parse_items(entries, self._item, s.url)
        return Page(items, problems, None)

    def _item(self, entry: dict) -> Item | None:
        raw_link = (entry.get("link") or "").strip()
        link = absolute_url(raw_link, self._base) if raw_link else ""  # "" for javascript: and co
        guid = (entry.get("id") or "").strip() or raw_link
        if not guid:
            raise InvalidArticle("no link and no id")
        match = _EASTMONEY_PAGE.search(link) or _EASTMONEY_PAGE.search(guid)
        code = match.group(1) if match else "f" + stable_hash(guid)
        raw_html, content_src = _entry_html(entry)
        raw_html = strip_highlights(raw_html)
        title = clean_title(entry.get("title"))
        text = html_to_text(raw_html)
        if text.strip() == title:
            raw_html, text = "", ""
        if not title:
            title = clean_title(text[:60])
        if not title:
            raise InvalidArticle(f"{guid}: no title and no text")
        body = sanitize_html(raw_html, link or self._base)
        published = _when(entry) or datetime.now(UTC)
        full_text_url = absolute_url(content_src, self._base) if content_src else link
        author = clean_title(entry.get("author"))
        return Item(
            code=code, title=title, published=published,
            outlet=author or self._feed_title, url=link or full_text_url, body=body,
            digest=clean_text(text)[:300] if len(text) > SHORT_SUMMARY else "",
            full_text_url=full_text_url,
        )

    @property
    def wants_full_text(self) -> bool:
        return self.settings.full_text != "never"

    def needs_full_text(self, item: Item) -> bool:
        if self.settings.full_text == "always":
            return True
        return len(html_to_text(item.body)) < SHORT_SUMMARY
