"""Sitemaps: an index, one sitemap per month of articles (split at 50,000 URLs), one of
the fixed pages, and robots.txt pointing at the index."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from finews.keys import key_range
from finews.site.output import Output
from finews.site.pages import Renderer, article_path, category_path, last_change
from finews.store import Store

SITEMAP_LIMIT = 50_000


class Sitemaps:
    def __init__(self, store: Store, renderer: Renderer, tz: ZoneInfo,
                 write: Callable[[Output, str, bytes], None]):
        self.store, self.renderer, self.tz, self.write = store, renderer, tz, write

    def month_keys(self, month: str) -> tuple[int, int]:
        year, number = map(int, month.split("-"))
        start = datetime(year, number, 1, tzinfo=self.tz)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=self.tz)
        return key_range(start, end)

    def month(self, out: Output, month: str, window: tuple[int, int]) -> None:
        low, high = self.month_keys(month)
        rows = self.store.page_dates((max(low, window[0]), high))
        self.write_month(out, month, [
            self.entry(category, code, published, last_change(published, seen, changed))
            for category, code, published, seen, changed in rows
        ])

    def entry(self, category: str, code: str, published: datetime,
                       changed: datetime) -> tuple[str, str]:
        """(URL, last change): article paths are URL-safe (see Renderer.view), so they need
        no quoting, which was a third of rewriting a month's sitemap."""
        return (self.renderer.base + article_path(category, published, code, self.tz),
                f"{changed.year:04d}-{changed.month:02d}-{changed.day:02d}")

    def write_month(self, out: Output, month: str, urls: list[tuple[str, str]]) -> None:
        parts = [urls[i:i + SITEMAP_LIMIT] for i in range(0, len(urls), SITEMAP_LIMIT)] or [[]]
        for number, part in enumerate(parts, start=1):
            name = f"/sitemaps/{month}.xml" if number == 1 else f"/sitemaps/{month}-{number}.xml"
            self.write(out, name, self.renderer.sitemap(part))

    def index(self, out: Output, categories: list[str]) -> None:
        sitemaps = [self.renderer.absolute("/sitemaps/pages.xml")]
        names = set(out.paths_with_prefix("/sitemaps/")) | {
            p for p in out.produced if p.startswith("/sitemaps/")}
        for path in sorted(names - {"/sitemaps/pages.xml"}):
            sitemaps.append(self.renderer.absolute(path))
        pages = [(self.renderer.absolute("/"), "")]
        pages += [(self.renderer.absolute(category_path(slug)), "") for slug in categories]
        pages.append((self.renderer.absolute("/stock/"), ""))
        self.write(out, "/sitemaps/pages.xml", self.renderer.sitemap(pages))
        self.write(out, "/sitemap.xml", self.renderer.sitemap_index(sitemaps))
        sitemap = self.renderer.absolute("/sitemap.xml") if self.renderer.base else None
        self.write(out, "/robots.txt", self.renderer.simple("robots.txt", sitemap=sitemap))
