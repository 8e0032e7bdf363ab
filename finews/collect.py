"""Collecting: one pass over the sources, politely, completely, and with nothing half-stored.

For each source a pass pages back through its list until it reaches an article that is
already archived (the oldest item of a page), the list's end or ``max_pages``. Only then are
the new items' bodies fetched and stored, oldest page first, one transaction per page: a
pass that fails while paging stores nothing (it is retried whole), and one that fails later
has stored a gap-free run of the oldest items, so the next pass continues from there.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from finews.config import Settings, SourceSettings, parse_duration
from finews.fetch import Fetcher, FetchError, ParseError
from finews.model import Article, FinewsError, InvalidArticle
from finews.sources import build_source
from finews.sources.base import Item, Page, Source, summary_body
from finews.store import Store
from finews.store.base import SourceHealth, new_holder


@dataclass
class SourceReport:
    name: str
    listed: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    seconds: float = 0.0
    error: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


def _needs_storing(item: Item, stored: tuple[str, str, str] | None, source: str) -> bool:
    """New items are stored; a known one only when its own source changed its title."""
    if stored is None:
        return True
    code, title, owner = stored
    return code == item.code and owner == source and title != item.title


class Collector:
    """Runs sources against one archive with one polite HTTP client."""

    def __init__(self, store: Store, settings: Settings, *, stop: Callable[[], bool] = bool):
        self.store = store
        self.settings = settings
        self.rolling = set(settings.jekyll.rolling_categories)
        self.should_stop = stop
        self.holder = new_holder()
        self.skipped: list[str] = []

    def due(self, sources: list[SourceSettings], now: float | None = None) -> list[SourceSettings]:
        now = time.time() if now is None else now
        health = {h.name: h for h in self.store.source_health()}
        return [s for s in sources if s.enabled and health.get(s.name, SourceHealth(s.name)).next_due <= now]

    def _lease(self, source: SourceSettings, only_due: bool) -> bool:
        """Whether this collector may poll the source now: another collector on the same
        archive may hold it (or, with ``only_due``, have just polled it)."""
        seconds = parse_duration(self.settings.fetch.lease)
        if not self.store.lease_sources([source.name], self.holder, seconds):
            return False
        if only_due and not self.due([source]):
            self.store.release_source(source.name, self.holder)
            return False
        return True

    async def _keep_lease(self, name: str) -> None:
        """Renew the lease while a long pass runs, so it only expires if this process dies."""
        seconds = parse_duration(self.settings.fetch.lease)
        while True:
            await asyncio.sleep(seconds / 3)
            self.store.lease_sources([name], self.holder, seconds)

    async def run(
        self,
        sources: list[SourceSettings],
        on_done: Callable[[SourceReport], None] | None = None,
        *,
        only_due: bool = False,
    ) -> list[SourceReport]:
        """Poll the sources, ``fetch.sources_at_once`` at a time, each under a lease, so
        that several collectors on one archive share the work and never poll one source
        together. Sources held elsewhere are listed in ``self.skipped``."""
        waiting = list(sources)
        reports: dict[str, SourceReport] = {}
        self.skipped = []
        async with Fetcher(
            self.settings.fetch,
            validators=self.store.validators,
            save_validators=self.store.save_validators,
        ) as fetcher:
            self.fetcher = fetcher

            async def worker() -> None:
                while waiting:
                    source_settings = waiting.pop(0)
                    if not self._lease(source_settings, only_due):
                        self.skipped.append(source_settings.name)
                        continue
                    renewing = asyncio.create_task(self._keep_lease(source_settings.name))
                    try:
                        report = await self.collect(build_source(source_settings), fetcher)
                    finally:
                        renewing.cancel()
                        self.store.release_source(source_settings.name, self.holder)
                    reports[source_settings.name] = report
                    if on_done:
                        on_done(report)

            slots = max(1, min(len(waiting), self.settings.fetch.sources_at_once))
            await asyncio.gather(*(worker() for _ in range(slots)))
        return [reports[s.name] for s in sources if s.name in reports]

    async def collect(self, source: Source, fetcher: Fetcher) -> SourceReport:
        """One pass over one source; every failure ends up in the report, never raised."""
        report = SourceReport(source.name)
        started = time.monotonic()
        try:
            pages = await self._list(source, fetcher, report)
            for page in reversed(pages):
                if self.should_stop():
                    raise FinewsError("stopped before finishing")
                await self._store_page(source, fetcher, page, report)
        except (FetchError, ParseError, FinewsError) as exc:
            report.error = str(exc)
        except Exception as exc:  # a bug in one source must not stop the others
            report.error = f"unexpected {type(exc).__name__}: {exc}"
        report.seconds = time.monotonic() - started
        self._record_health(source.settings, report)
        return report

    async def _list(self, source: Source, fetcher: Fetcher, report: SourceReport) -> list[Page]:
        pages: list[Page] = []
        seen: set[str] = set()
        cursor = source.first_cursor()
        for _ in range(max(1, source.settings.max_pages)):
            page = await source.list_page(fetcher, cursor)
            report.problems += page.problems + page.notes
            report.failed += len(page.problems)
            fresh = []
            for item in page.items:
                if item.id not in seen:
                    seen.add(item.id)
                    fresh.append(item)
            page.items = fresh
            pages.append(page)
            if not page.items or page.next_cursor is None:
                break
            if self.store.known([page.items[-1].id]):
                break
            cursor = page.next_cursor
        report.listed = len(seen)
        return pages

    async def _store_page(
        self, source: Source, fetcher: Fetcher, page: Page, report: SourceReport
    ) -> None:
        known = self.store.known(item.id for item in page.items)
        todo: list[Item] = []
        for item in page.items:
            if _needs_storing(item, known.get(item.id), source.name):
                todo.append(item)
            else:
                report.unchanged += 1
        bodies = await asyncio.gather(*(self._body(source, fetcher, item, report) for item in todo))
        articles: list[Article] = []
        for item, body in zip(todo, bodies, strict=True):
            try:
                articles.append(source.article(item, body))
            except InvalidArticle as exc:
                report.failed += 1
                report.problems.append(f"{item.code}: {exc}")
        if articles:
            result = self.store.upsert(articles, rolling=self.rolling)
            report.new += result.new
            report.updated += result.updated
            report.unchanged += result.unchanged + result.merged

    async def _body(
        self, source: Source, fetcher: Fetcher, item: Item, report: SourceReport
    ) -> str:
        """The item's body: full text when the source wants it, else the list's summary
        (which may be empty: a headline alone is still news)."""
        fallback = summary_body(item)
        wanted = source.wants_full_text and item.full_text_url
        if wanted and hasattr(source, "needs_full_text"):
            wanted = source.needs_full_text(item)
        if not wanted:
            return fallback
        try:
            body = await source.full_text(fetcher, item)
        except (FetchError, ParseError, FinewsError) as exc:
            report.problems.append(f"{item.code}: no full text, kept the summary ({exc})")
            body = ""
        return body or fallback

    def _record_health(self, source: SourceSettings, report: SourceReport) -> None:
        now = int(time.time())
        previous = self.store.source_health(source.name)
        health = previous[0] if previous else SourceHealth(source.name)
        health.last_run = now
        health.items_last_run = report.listed
        interval = source.interval_seconds
        if report.ok:
            health.last_success = now
            health.consecutive_failures = 0
            health.next_due = now + int(interval)
        else:
            health.last_error_at = now
            health.last_error = report.error
            health.consecutive_failures += 1
            cap = parse_duration(self.settings.fetch.max_backoff)
            backoff = min(cap, interval * 2 ** min(health.consecutive_failures, 20))
            health.next_due = now + int(backoff * (0.9 + 0.2 * random.random()))
        self.store.save_source_health(health)
