"""Collecting: one pass over the sources, politely, completely, and with nothing half-stored.

Sources overlap (one story is in the 7×24 list, a column and the rolling list), so what
another source stored says nothing about how far this source has read. Each source keeps
its own checkpoint in the archive: the newest item of its last fully stored pass. A pass
pages back until a page reaches the checkpoint (the checkpoint's item, or one older than
it), the list's end or ``max_pages``; stopping short of the checkpoint is reported as a gap.
Pages are then stored oldest first, one transaction each, and the checkpoint moves up after
each page has landed, so a failed or killed pass leaves it where everything below it is
stored and the next pass reads the whole gap again.

An item some source already stored costs no body request, unless its outlet's copy takes
over a rolling copy that has only a summary; bodies in flight are shared between sources.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from finews.config import Settings, SourceSettings, parse_duration
from finews.errors import FetchError, FinewsError, InvalidArticle, ParseError
from finews.fetch import Fetcher
from finews.model import BEIJING, Article, UpsertResult
from finews.sources import build_source
from finews.sources.base import Item, Page, Source, summary_body
from finews.store import Store
from finews.store.base import SourceHealth, Stored, new_holder, prefer_incoming


@dataclass
class SourceReport(UpsertResult):
    """One source's pass: what its pages did to the archive, and what went wrong."""

    name: str = ""
    listed: int = 0
    failed: int = 0
    seconds: float = 0.0
    error: str = ""
    gap: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Checkpoint:
    """How far back a source's list was read completely: its newest item then."""

    time: int
    id: str

    def reached_by(self, page: Page) -> bool:
        return any(item.id == self.id or _timestamp(item) < self.time for item in page.items)


def _timestamp(item: Item) -> int:
    return int(item.published.timestamp())


def _newest(items: list[Item]) -> Item:
    return max(items, key=lambda item: (_timestamp(item), item.id))


def _revised(item: Item, stored: Stored, source: str) -> bool:
    """A known item is stored again (its text fetched again) when its own source changed
    its title or its summary: an edit the list shows. One it does not show goes unseen
    until the article is fetched for another reason."""
    if stored.code != item.code or stored.source != source:
        return False
    return stored.title != item.title or stored.digest != item.digest.replace("\x00", "")


async def _ready(body: str) -> str:
    return body


def _beijing(ts: int) -> str:
    return f"{datetime.fromtimestamp(ts, BEIJING):%Y-%m-%d %H:%M}"


def _gap(pages: list[Page], checkpoint: Checkpoint, max_pages: int) -> str:
    """The gap between the checkpoint and the oldest item read, for the person running it."""
    items = [item for page in pages for item in page.items]
    if not items:
        return ""
    newest, oldest = _timestamp(_newest(items)), min(_timestamp(item) for item in items)
    span = f"news from {_beijing(checkpoint.time)} to {_beijing(oldest)} may be missing"
    if len(pages) >= max_pages and pages[-1].next_cursor is not None:
        read = max(1, newest - oldest)
        about = max(len(pages) + 1, round(len(pages) * (newest - checkpoint.time) / read))
        return (f"gap: stopped at page {len(pages)} (max_pages) of about {about}; {span}; "
                "raise max_pages or poll more often")
    return f"gap: the list ends before the last pass's newest item; {span}; poll more often"


class Collector:
    """Runs sources against one archive with one polite HTTP client."""

    def __init__(self, store: Store, settings: Settings, *, stop: Callable[[], bool] = bool):
        self.store = store
        self.settings = settings
        self.rolling = set(settings.jekyll.rolling_categories)
        self.should_stop = stop
        self.holder = new_holder()
        self.skipped: list[str] = []
        self.summary_sources = {
            each.name for each in settings.sources if not build_source(each).wants_full_text
        }
        self._bodies: dict[str, asyncio.Future[str]] = {}

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
        self._bodies = {}
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
        report = SourceReport(name=source.name)
        started = time.monotonic()
        checkpoint = self._checkpoint(source.name)
        pages: list[Page] = []
        complete = False
        try:
            await self._list(source, fetcher, report, checkpoint, pages)
            complete = True
        except (FetchError, ParseError, FinewsError) as exc:
            report.error = str(exc)
        except Exception as exc:  # a bug in one source must not stop the others
            report.error = f"unexpected {type(exc).__name__}: {exc}"
        try:
            for page in reversed(pages):
                if self.should_stop():
                    raise FinewsError("stopped before finishing")
                await self._store_page(source, fetcher, page, report)
                if complete and page.items:
                    newest = _newest(page.items)
                    self.store.advance_checkpoint(source.name, _timestamp(newest), newest.id)
        except (FetchError, ParseError, FinewsError) as exc:
            report.error = report.error or str(exc)
        except Exception as exc:
            report.error = report.error or f"unexpected {type(exc).__name__}: {exc}"
        report.seconds = time.monotonic() - started
        self._record_health(source.settings, report)
        return report

    def _checkpoint(self, name: str) -> Checkpoint | None:
        health = self.store.source_health(name)
        if not health or not health[0].checkpoint_time:
            return None
        return Checkpoint(health[0].checkpoint_time, health[0].checkpoint_id)

    async def _list(
        self, source: Source, fetcher: Fetcher, report: SourceReport,
        checkpoint: Checkpoint | None, pages: list[Page],
    ) -> None:
        """Page back to the checkpoint into ``pages`` (kept when a later page fails, so
        that what was read is stored). Stopping short of it is reported as a gap."""
        seen: set[str] = set()
        cursor = source.first_cursor()
        max_pages = max(1, source.settings.max_pages)
        reached = False
        for _ in range(max_pages):
            page = await source.list_page(fetcher, cursor)
            report.problems += page.problems + page.notes
            report.failed += len(page.problems)
            page.items = [item for item in page.items if not (item.id in seen or seen.add(item.id))]
            pages.append(page)
            report.listed = len(seen)
            reached = checkpoint is not None and checkpoint.reached_by(page)
            if reached or page.next_cursor is None or not page.items:
                break
            cursor = page.next_cursor
        if checkpoint and not reached:
            report.gap = _gap(pages, checkpoint, max_pages)

    async def _store_page(
        self, source: Source, fetcher: Fetcher, page: Page, report: SourceReport
    ) -> None:
        known = self.store.known(item.id for item in page.items)
        todo: list[tuple[Item, str | None]] = []
        marked: list[str] = []
        for item in page.items:
            stored = known.get(item.id)
            takes_over = stored is not None and self._takes_over(source, item, stored)
            if stored is not None and not takes_over and not _revised(item, stored, source.name):
                report.unchanged += 1
                if item.importance:
                    marked.append(item.id)
                continue
            todo.append((item, self._kept_body(source, item, stored) if takes_over else None))
        bodies = await asyncio.gather(*(
            self._body(source, fetcher, item, report) if kept is None else _ready(kept)
            for item, kept in todo
        ))
        articles: list[Article] = []
        for (item, _), body in zip(todo, bodies, strict=True):
            try:
                articles.append(source.article(item, body))
            except InvalidArticle as exc:
                report.failed += 1
                report.problems.append(f"{item.code}: {exc}")
        if articles:
            report += self.store.upsert(articles, rolling=self.rolling, notify=True)
        if marked:
            self.store.mark_important(marked, notify=True)

    def _takes_over(self, source: Source, item: Item, stored: Stored) -> bool:
        """Whether this source's copy replaces the archived one (the outlet's copy of a
        story the rolling news stored first), by the store's own rule."""
        try:
            incoming = source.article(item, "")
        except InvalidArticle:
            return False
        return prefer_incoming(stored.category, incoming, self.rolling)

    def _kept_body(self, source: Source, item: Item, stored: Stored) -> str | None:
        """The archived body; None when the rolling copy came from a source that keeps
        only the list's summary and this source fetches full text."""
        if source.wants_full_text and item.full_text_url and stored.source in self.summary_sources:
            return None
        article = self.store.get(item.id)
        return article.body if article is not None else None

    async def _body(
        self, source: Source, fetcher: Fetcher, item: Item, report: SourceReport
    ) -> str:
        """The item's body: full text when the source wants it, else the list's summary
        (which may be empty: a headline alone is still news). A page's bodies are fetched
        together (the fetcher keeps to its per-host limits); a body another source is
        already fetching in this pass is awaited, not fetched again."""
        fallback = summary_body(item)
        wanted = source.wants_full_text and item.full_text_url
        if wanted and hasattr(source, "needs_full_text"):
            wanted = source.needs_full_text(item)
        if not wanted:
            return fallback
        fetching = self._bodies.get(item.id)
        if fetching is None:
            fetching = asyncio.ensure_future(source.full_text(fetcher, item))
            self._bodies[item.id] = fetching
        try:
            body = await asyncio.shield(fetching)
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
        health.gap = report.gap
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
