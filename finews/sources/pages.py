"""The ``pages`` source kind: article links on an index page, for sites without a feed."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.html

from finews.clean import absolute_url, clean_title
from finews.extract import extract, stable_hash
from finews.fetch import Fetcher
from finews.model import BEIJING
from finews.sources.base import Item, Page, Source

_EASTMONEY_CODE = re.compile(r"(\d{18,24})")


class Pages(Source):
    """Article pages linked from an index page: for sites without a feed.

    ``url`` is the index page; ``params.pattern`` a regular expression that article links
    match (default: any link on the same site). Each new article's page is fetched once.
    """

    kind = "pages"
    default_full_text = True

    async def list_page(self, fetcher: Fetcher, cursor: Any) -> Page:
        s = self.settings
        response = await fetcher.get(s.url, conditional=True)
        if response.not_modified:
            return Page([], [], None)
        pattern = re.compile(s.params.get("pattern") or re.escape(urlsplit(response.url).netloc))
        doc = lxml.html.fromstring(response.text or "<html></html>")
        items: list[Item] = []
        problems: list[str] = []
        seen: set[str] = set()
        for link in doc.xpath("//a[@href]"):
            url = absolute_url(link.get("href") or "", response.url)
            if not url or url in seen or not pattern.search(url) or url == response.url:
                continue
            seen.add(url)
            title = clean_title(link.text_content())
            if not title:
                continue
            match = _EASTMONEY_CODE.search(urlsplit(url).path)
            code = match.group(1) if match else "p" + stable_hash(url)
            items.append(Item(code=code, title=title, published=datetime.now(BEIJING),
                              outlet="", url=url, full_text_url=url))
            if len(items) >= s.page_size * s.max_pages:
                break
        return Page(items, problems, None)

    async def full_text(self, fetcher: Fetcher, item: Item) -> str:
        response = await fetcher.get(item.full_text_url, kind="body")
        content = extract(response.text, response.url)
        if content.published:
            item.published = content.published
        if content.title:
            item.title = content.title
        if content.outlet and not item.outlet:
            item.outlet = content.outlet
        return content.body
