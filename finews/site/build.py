"""The static site: a full build, or an incremental one replaying the archive's change log.

Every output file is written atomically (temporary name, then rename) and recorded in a
manifest with the hash of its bytes; an unchanged file is not rewritten. The manifest keeps
the last change-log position the site reflects, so a rebuild renders only what the changes
since then touch: the changed articles and their neighbours, the pages of their outlets,
tags and days from the first changed position on, the home page, feeds, sitemaps and the
search index's parts that hold them (finews/site/search.py). A build that is killed
leaves a working site and redoes its work next time.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path

from markupsafe import Markup

from finews.config import Settings
from finews.follow import Criterion
from finews.keys import ALL_KEYS, key_range, key_time
from finews.model import Article, CategoryCount
from finews.parallel import map_chunks
from finews.site.chart import DAYS, mention_chart
from finews.site.listing import Listing
from finews.site.output import Output
from finews.site.pages import (
    LATEST_PATH,
    STOCK_DIRECTORY,
    Renderer,
    article_path,
    category_feed_path,
    category_path,
    day_path,
    latest_json,
    month_of,
    safe_file_name,
    static_files,
    stock_feed_path,
    stock_path,
    tag_path,
    updated_at,
)
from finews.site.search import ROOT as SEARCH_ROOT
from finews.site.search import SearchReport, update_index
from finews.site.sitemaps import Sitemaps
from finews.site.stories import STORY_DIRECTORY, StoryIndex, same_day, story_path
from finews.stocks import Security, parse_secid
from finews.store import Store, open_store
from finews.store.base import LogEntry

FEED_SIZE = 50
LIVE_SIZE = 200
MENU_OUTLETS = 12
SIDE_IMPORTANT = 10
"""Important items in the home page's side column (beside the news on a desktop)."""
"""Outlets the home page's menu names, by volume; the rest are below the latest news."""
HOME_LATEST = 100
HOME_SECTION = 5
TEMPLATE_CACHE = ".finews/templates"


@dataclass
class BuildOptions:
    out: Path
    full: bool = False
    search: bool = True
    keep_days: int = 0
    keep_articles: int = 0
    refresh_minutes: int = 0
    theme: Path | None = None
    per_page: int = 100
    workers: int | None = None


@dataclass
class BuildReport:
    full: bool
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    pages: int = 0
    seconds: float = 0.0
    search_seconds: float = 0.0
    search: SearchReport | None = None

    def summary(self) -> str:
        kind = "full build" if self.full else "incremental build"
        found = self.search
        search = (f", search index: {found.rebuilt} of {found.parts} parts rebuilt in "
                  f"{self.search_seconds:.2f}s" if found and found.rebuilt else "")
        return (f"{kind}: {self.pages} pages rendered, {self.written} written, "
                f"{self.unchanged} unchanged, {self.removed} removed in {self.seconds:.2f}s{search}")


@dataclass
class _Affected:
    articles: set[int] = field(default_factory=set)
    dropped: list[str] = field(default_factory=list)
    gaps: set[tuple[int, str]] = field(default_factory=set)
    categories: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    days: set[date] = field(default_factory=set)
    months: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)
    stocks: dict[str, int] = field(default_factory=dict)

    def touch(self, key: int, category: str, tags: list[str], published: datetime, tz,
              stocks: list[str]) -> None:
        self.categories[category] = min(key, self.categories.get(category, key))
        for tag in tags:
            self.tags[tag] = min(key, self.tags.get(tag, key))
        for secid in stocks:
            self.stocks[secid] = min(key, self.stocks.get(secid, key))
        self.days.add(published.astimezone(tz).date())
        self.months.add(month_of(published, tz))


class SiteBuilder:
    """Plans what a build must write (everything, or what the archive's log touched since
    the last build) and writes it, outlets in worker processes."""

    def __init__(self, store: Store, settings: Settings, options: BuildOptions):
        self.store = store
        self.settings = settings
        self.options = options
        self.renderer = Renderer(settings, options.theme, options.out / TEMPLATE_CACHE, options.search)
        self.tz = settings.tz
        self.pages = 0
        self._outlet_names: dict[str, str] | None = None
        self._counts: list[CategoryCount] | None = None
        self._names: dict[str, list[str]] | None = None
        self._stories: StoryIndex | None = None
        self.sitemaps = Sitemaps(store, self.renderer, self.tz, self._write)

    def _neighbour(self, key: int, *, before: bool, category: str | None = None) -> int | None:
        """The key of the article just before (or after) ``key``, of one outlet or any."""
        low, high = ALL_KEYS
        keys = (low, key - 1) if before else (key + 1, high)
        rows = self.store.summaries(category=category, keys=keys, newest_first=before, limit=1)
        return rows[0].key if rows else None

    # -- entry point --------------------------------------------------------------------

    def build(self) -> BuildReport:
        started = time.perf_counter()
        self._counts = self._outlet_names = self._names = self._stories = None  # read afresh
        out = Output(self.options.out)
        try:
            fingerprint = self._fingerprint()
            position = self.store.log_position()
            window = self._window()
            last = out.state("seq")
            full = (self.options.full or last is None or out.state("fingerprint") != fingerprint
                    or not (self.options.out / "index.html").exists())
            report = BuildReport(full=full)
            self._logged: list[LogEntry] = []
            self._follow_state = out.state("follow") or ""
            if full:
                self._full(out, window)
                changed = None
            else:
                previous_low = int(out.state("window") or ALL_KEYS[0])
                self._incremental(out, int(last), previous_low, window)
                changed = {entry.key for entry in self._logged if entry.action != "alias"}
            if self.options.search:
                search_started = time.perf_counter()
                outlets = [(c.slug, c.outlet or c.slug) for c in self._category_counts()]
                report.search = update_index(self.store, out, self.tz, window, None if full else changed,
                                             outlets=outlets, workers=self.options.workers)
                report.search_seconds = time.perf_counter() - search_started
            out.commit({"seq": str(position), "fingerprint": fingerprint, "window": str(window[0]),
                        "follow": self._follow_state})
            report.written, report.unchanged, report.removed = out.written, out.unchanged, out.removed
            report.pages = self.pages
            report.seconds = time.perf_counter() - started
            return report
        finally:
            out.close()

    def _fingerprint(self) -> str:
        o = self.options
        return (f"{self.renderer.fingerprint()}:{o.keep_days}:{o.keep_articles}:{o.per_page}:"
                f"{o.refresh_minutes}:{o.search}:{sorted(self.settings.jekyll.category_links.items())}:"
                f"{self.store.stories_generation()}:{_watches_state(self.settings.follow.watches)}")

    def _window(self) -> tuple[int, int]:
        """The keys of the articles on the site; the archive itself keeps everything."""
        low = ALL_KEYS[0]
        if self.options.keep_days:
            since = datetime.now(UTC) - timedelta(days=self.options.keep_days)
            low = max(low, key_range(since, since)[0])
        if self.options.keep_articles:
            newest = self.store.summaries(limit=1, offset=self.options.keep_articles - 1)
            if newest:
                low = max(low, newest[0].key)
        return low, ALL_KEYS[1]

    # -- full build ---------------------------------------------------------------------

    def _full(self, out: Output, window: tuple[int, int]) -> None:
        """Workers render each outlet's articles, pages and feed while this process renders
        the tag and day pages, the home page and the rest."""
        from concurrent.futures import ThreadPoolExecutor

        out.preload()
        self._static(out)
        self._know_securities()
        self._know_stories(whole=True)
        counts = {c.slug: c.count for c in self._category_counts()}
        with ThreadPoolExecutor(1) as background:
            outlets = background.submit(self._outlet_groups, out, counts, window)
            self._story_pages(out, None, window)
            self._days_sitemaps_and_tags(out, window)
            self._home_and_feeds(out, [], window)
            self._redirects(out, None)
            self._fixed_pages(out)
            self._followed_pages(out, True, window)
            outlets.result()
        self.sitemaps.index(out, [c.slug for c in self._category_counts()])
        for path in out.all_paths() - set(out.produced):
            if not path.startswith(SEARCH_ROOT):
                out.remove(path)

    def _outlet_groups(self, out: Output, sizes: dict[str, int], window: tuple[int, int]) -> None:
        total = sum(sizes.values())
        parallel = total > 2000
        jobs = _balance(list(sizes), sizes, parts=8 if parallel else 1)
        matched = self._watch_matches(window)
        job_args = [(self.store.archive, self.settings, self.options, group, window, matched)
                    for group in jobs]
        for produced, written, unchanged, pages in map_chunks(
            _render_outlets, job_args, chunk_size=1, workers=self.options.workers,
            inline_below=2 if parallel else 10**9,
        ):
            out.record(produced, written, unchanged)
            self.pages += pages

    def outlet_pages(self, out: Output, category: str, window: tuple[int, int]) -> None:
        """Every article page of one outlet (oldest first, with neighbours), its listing and
        feed, from one pass over its articles."""
        self._know_securities()
        self._know_stories()
        listing = self._category_listing(out, category)
        latest: deque[tuple[Article, bytes]] = deque(maxlen=FEED_SIZE)
        previous: Article | None = None
        current: tuple[Article, bytes] | None = None
        for article, html in _category_stream(self.store, category, window, self._know_stories()):
            if current is not None:
                self._write_article(out, current[0], article, previous, current[1])
                previous = current[0]
            current = (article, html)
            listing.add(article)
            latest.append(current)
        if current is not None:
            self._write_article(out, current[0], None, previous, current[1])
        listing.close()
        for article, html in latest:
            article.html = html.decode()
        self._write_category_feed(out, category, [a for a, _ in reversed(latest)])

    def _days_sitemaps_and_tags(self, out: Output, window: tuple[int, int]) -> None:
        """Day pages (with links to the days around them), one sitemap per month and the
        tag listings, from one pass over the articles."""
        previous_day: tuple[date, list[Article]] | None = None
        before: date | None = None
        month_urls: list[tuple[str, str]] = []
        current_month = None
        tags: dict[str, Listing] = {}
        stocks: dict[str, Listing] = {}
        for article in self._stream(window):
            day = article.published.astimezone(self.tz).date()
            month = f"{day:%Y-%m}"
            if month != current_month:
                if current_month:
                    self.sitemaps.write_month(out, current_month, month_urls)
                current_month, month_urls = month, []
            month_urls.append(self.sitemaps.entry(
                article.category, article.code, article.published, updated_at(article)))
            if previous_day and previous_day[0] != day:
                self._day(out, previous_day[0], previous_day[1], before, day)
                before = previous_day[0]
                previous_day = None
            if previous_day is None:
                previous_day = (day, [])
            previous_day[1].append(article)
            for tag in article.tags:
                listing = tags.get(tag)
                if listing is None:
                    listing = tags[tag] = self._tag_listing(out, tag)
                listing.add(article)
            for secid in article.stocks:
                listing = stocks.get(secid)
                if listing is None:
                    listing = stocks[secid] = self._stock_listing(out, secid, window)
                listing.add(article)
        if previous_day:
            self._day(out, previous_day[0], previous_day[1], before, None)
        if current_month:
            self.sitemaps.write_month(out, current_month, month_urls)
        for tag in self.store.tag_counts():  # tags with no article on the site: an empty page
            if tag not in tags:
                tags[tag] = self._tag_listing(out, tag)
        for listing in tags.values():
            listing.close()
        for secid, listing in stocks.items():
            listing.close()
            self._stock_feed(out, secid, listing)
        self._stock_directory(out, window)

    def _stream(self, window: tuple[int, int], batch: int = 5000, **filters: str) -> Iterator[Article]:
        """Articles oldest first, read in batches that continue from the last key."""
        low, high = window
        while True:
            rows = self.store.summaries(keys=(low, high), newest_first=False, limit=batch,
                                        with_stocks=True, **filters)
            self._know_stories().prefetch(a.key for a in rows)
            yield from rows
            if len(rows) < batch:
                return
            low = rows[-1].key + 1

    # -- incremental build --------------------------------------------------------------

    def _incremental(
        self, out: Output, last: int, previous_low: int, window: tuple[int, int]
    ) -> None:
        affected = _Affected()
        tz = self.tz
        log = self.store.log_since(last)
        self._logged = log
        for entry in log:
            if entry.action == "alias":
                affected.aliases.add(entry.id)
                continue
            affected.touch(entry.key, entry.category, entry.tags, entry.published, tz, entry.stocks)
            if entry.action == "drop":
                affected.dropped.append(article_path(entry.category, entry.published, entry.code, tz))
                affected.articles.discard(entry.key)
                affected.gaps.add((entry.key, entry.category))
            elif window[0] <= entry.key:
                affected.articles.add(entry.key)
        if window[0] > previous_low:
            for gone in self.store.summaries(keys=(previous_low, window[0] - 1), newest_first=False,
                                             with_stocks=True):
                affected.touch(gone.key, gone.category, gone.tags, gone.published, tz, gone.stocks)
                affected.dropped.append(self.renderer.article_site_path(gone))
                affected.gaps.add((gone.key, gone.category))
        self._followed_pages(out, False, window)
        if not (affected.categories or affected.aliases):
            return
        self._know_securities()
        self._touch_stories(affected, window)
        self._story_pages(out, affected.articles | {key for key, _ in affected.gaps}, window)
        self._changed_articles(out, affected.articles, affected.gaps, window)
        for slug, first in affected.categories.items():
            self._category(out, slug, first, window)
        for tag, first in affected.tags.items():
            self._tag(out, tag, first, window)
        for secid, first in affected.stocks.items():
            self._stock(out, secid, first, window)
        if affected.stocks:
            self._stock_directory(out, window)
        self._changed_days(out, affected.days, window)
        for month in affected.months:
            self.sitemaps.month(out, month, window)
        self._home_and_feeds(out, list(affected.categories), window)
        self._redirects(out, affected.aliases)
        self.sitemaps.index(out, [c.slug for c in self._category_counts()])
        for path in affected.dropped:
            out.remove(path)

    def _touch_stories(self, affected: _Affected, window: tuple[int, int]) -> None:
        """Every article of a changed article's story shows the story (its badge, its box,
        whether it is the newest copy in a list): their pages are rewritten too."""
        stories = self._know_stories()
        stories.prefetch(affected.articles)
        for story in {stories.story_of(key) for key in affected.articles} - {None}:
            for member in stories.members[story]:
                if member.key >= window[0]:
                    affected.touch(member.key, member.category, member.tags, member.published,
                                   self.tz, member.stocks)
                    affected.articles.add(member.key)

    def _changed_articles(self, out: Output, keys: set[int], gaps: set[tuple[int, str]],
                          window: tuple[int, int]) -> None:
        """Changed articles and their neighbours, including those around a removed one."""
        todo: set[int] = set()
        for key, category in gaps:
            for before in (True, False):
                neighbour = self._neighbour(key, before=before, category=category)
                if neighbour is not None and neighbour >= window[0]:
                    todo.add(neighbour)
        for key in keys:
            rows = self.store.summaries(keys=(key, key))
            if not rows:
                continue
            todo.add(key)
            for before in (True, False):
                neighbour = self._neighbour(key, before=before, category=rows[0].category)
                if neighbour is not None and neighbour >= window[0]:
                    todo.add(neighbour)
        self.renderer.know_watches(self._watch_matches(window, sorted(todo)))
        for key in sorted(todo):
            (article,) = self.store.summaries(keys=(key, key), with_body=True, with_stocks=True)
            newer = self._one(self._neighbour(key, before=False, category=article.category))
            older_key = self._neighbour(key, before=True, category=article.category)
            older = self._one(older_key) if older_key is not None and older_key >= window[0] else None
            self._write_article(out, article, newer, older)

    def _write_article(self, out: Output, article: Article, newer: Article | None,
                       older: Article | None, html: bytes | None = None) -> None:
        """An article's page, and its revisions page when it has changed."""
        self._write(out, self.renderer.article_site_path(article),
                    self.renderer.article(article, newer, older, html))
        if article.key in self.renderer.revisions:
            self._write(out, self.renderer.revisions_site_path(article),
                        self.renderer.revisions_page(article, self.store.versions(article.id)))

    def _one(self, key: int | None) -> Article | None:
        if key is None:
            return None
        rows = self.store.summaries(keys=(key, key))
        return rows[0] if rows else None

    def _changed_days(self, out: Output, days: set[date], window: tuple[int, int]) -> None:
        todo = set(days)
        for day in days:
            low, high = self._day_keys(day)
            for key, before in ((low, True), (high, False)):
                neighbour = self._neighbour(key, before=before)
                if neighbour is not None and neighbour >= window[0]:
                    todo.add(_key_day(neighbour, self.tz))
        for day in sorted(todo):
            low, high = self._day_keys(day)
            items = self.store.summaries(keys=(max(low, window[0]), high), newest_first=False,
                                         with_stocks=True)
            if not items:
                out.remove(day_path(day))
                continue
            before_key = self._neighbour(low, before=True)
            after_key = self._neighbour(high, before=False)
            before = _key_day(before_key, self.tz) if before_key and before_key >= window[0] else None
            after = _key_day(after_key, self.tz) if after_key is not None else None
            self._day(out, day, items, before, after)

    # -- pages --------------------------------------------------------------------------

    def _write(self, out: Output, path: str, data: bytes) -> None:
        out.write(path, data)
        self.pages += 1

    def _static(self, out: Output) -> None:
        for path in static_files():
            out.write(f"/static/{path.name}", path.read_bytes())

    def _listing(self, out: Output, window: tuple[int, int], first_key: int | None,
                 listing: Listing, **filters: str) -> None:
        """Rewrite a listing from the numbered page holding ``first_key`` on (all of it if
        None), reading from far enough back to fill the front page."""
        low, offset = window[0], 0
        if first_key is not None:
            per_page = self.options.per_page
            before = self.store.count(keys=(window[0], first_key - 1), **filters)
            total = self.store.count(keys=window, **filters)
            listing.skip = before // per_page * per_page
            if before and before % per_page == 0:
                listing.skip -= per_page  # the page before may have been the last: its link changes
            offset = max(0, min(listing.skip, total - max(per_page, listing.newest.maxlen or 0)))
            if offset:
                start = self.store.nth_key(offset, keys=window, **filters)
                low = window[1] + 1 if start is None else start
        listing.position = offset
        for article in self._stream((low, window[1]), **filters):
            listing.add(article)
        listing.close()

    def _know_stories(self, *, whole: bool = False) -> StoryIndex:
        """The stories, for one build: all of them at once for the pages a full build
        writes in this process, else read as the articles rendered need them."""
        if self._stories is None:
            self._stories = StoryIndex.load(self.store) if whole else StoryIndex(self.store)
            self.renderer.know_stories(self._stories)
        return self._stories

    def _story_pages(self, out: Output, keys: set[int] | None, window: tuple[int, int]) -> None:
        """/story/<id>.html of every story (or of those of ``keys``): each copy with its
        outlet and time, newest first. Pages of stories that merged or shrank to one
        article go: a story is named by one of its articles, so such a page is named by
        one of ``keys`` (or of the articles a full build knows)."""
        stories = self._know_stories()
        if keys is not None:
            stories.prefetch(keys)
        todo = stories.members if keys is None else {
            story: stories.members[story] for story in {stories.story_of(k) for k in keys}
            if story is not None}
        for story, members in todo.items():
            shown = [a for a in members if a.key >= window[0]]
            if len(shown) < 2:
                continue
            outlets = stories.outlets(story)
            self._write(out, story_path(story), self.renderer.listing(
                members[0].title or "（无标题）", shown[::-1], badges=False,
                subheading=f"{len(outlets)}家媒体报道 · 共 {len(shown)} 篇：{'、'.join(outlets)}"))
        stale = out.paths_with_prefix(STORY_DIRECTORY) if keys is None else [
            story_path(key) for key in keys if stories.story_of(key) != key]
        for path in stale:
            number = path[len(STORY_DIRECTORY):-5]
            if not number.isdigit() or int(number) not in todo:
                out.remove(path)

    def _outlets_named(self, entries: list[Article]) -> dict[int, str]:
        """What a feed entry of a story says above its text: the outlets that ran it."""
        stories = self._know_stories()
        stories.prefetch(entry.key for entry in entries)
        notes = {}
        for entry in entries:
            story = stories.story_of(entry.key)
            outlets = stories.outlets(story) if story is not None else []
            if len(outlets) > 1:
                notes[entry.key] = f"<p>{len(outlets)}家媒体报道：{escape('、'.join(outlets))}</p>"
        return notes

    def _new_listing(self, out: Output, heading: str, page_path, **options) -> Listing:
        return Listing(out, self.renderer, lambda path, data: self._write(out, path, data),
                       self.options.per_page, heading=heading, page_path=page_path, **options)

    def _category_listing(self, out: Output, slug: str) -> Listing:
        return self._new_listing(out, self._outlets().get(slug) or slug,
                                 lambda k: category_path(slug, k),
                                 feed=category_feed_path(slug), show_outlet=False,
                                 stream=slug in self.settings.jekyll.rolling_categories)

    def _tag_listing(self, out: Output, tag: str) -> Listing:
        return self._new_listing(out, f"标签：{tag}", lambda k: tag_path(tag, k),
                                 hides=self._know_stories().hides(lambda a: tag in a.tags))

    def _category(self, out: Output, slug: str, first_key: int | None,
                  window: tuple[int, int]) -> None:
        self._listing(out, window, first_key, self._category_listing(out, slug), category=slug)

    def _know_securities(self) -> None:
        """Every security's names, read once per build: its chips, links and heading; and
        which articles are important, marked red in lists."""
        if self._names is None:
            self._names = self.store.all_security_names()
            self.renderer.know_securities({secid: names[0] for secid, names in self._names.items()})
            self.renderer.know_important(self.store.important_keys())
            self.renderer.know_revisions(self.store.revision_counts())

    def _stock_listing(self, out: Output, secid: str, window: tuple[int, int]) -> Listing:
        security = parse_secid(secid) or Security(0, secid)
        label = _market_label(security)
        return self._new_listing(
            out, self.renderer.stock_link(secid)["name"],
            lambda k: stock_path(secid, k), feed=stock_feed_path(secid),
            subheading=lambda n: f"{security.code} · {label} · 共 {n} 篇",
            intro=lambda listing: self._stock_intro(secid, listing, window), keep=FEED_SIZE,
            hides=self._know_stories().hides(lambda a: secid in a.stocks),
        )

    def _stock_intro(self, secid: str, listing: Listing, window: tuple[int, int]) -> Markup:
        """Earlier names, and the news per day over the 90 days up to the newest."""
        assert self._names is not None
        parts = []
        earlier = self._names.get(secid, [])[1:]
        if earlier:
            parts.append(Markup('<p class="sub">曾用名：{}</p>').format("、".join(earlier)))
        if listing.newest:
            end = listing.newest[-1].published.astimezone(self.tz).date()
            low, high = key_range(*self._day_bounds(end - timedelta(days=DAYS - 1), end))
            keys = self.store.mention_keys(secid, (max(low, window[0]), high))
            parts.append(mention_chart([_key_day(k, self.tz) for k in keys], end))
        return Markup("").join(parts)

    def _stock(self, out: Output, secid: str, first_key: int, window: tuple[int, int]) -> None:
        """Rewrite a security's listing from ``first_key`` on, and its feed; a security
        left with no article on the site loses its pages."""
        if not self.store.count(stock=secid, keys=window):
            front = stock_path(secid)
            for path in [front, stock_feed_path(secid),
                         *out.paths_with_prefix(front[:-5] + "/")]:
                out.remove(path)
            return
        listing = self._stock_listing(out, secid, window)
        self._listing(out, window, first_key, listing, stock=secid)
        self._stock_feed(out, secid, listing)

    def _stock_feed(self, out: Output, secid: str, listing: Listing) -> None:
        entries = list(reversed(listing.newest))[:FEED_SIZE]
        self._write(out, stock_feed_path(secid), self.renderer.feed(
            f"{listing.heading} - {self.settings.site.title}", stock_feed_path(secid),
            stock_path(secid), entries, summaries=True, notes=self._outlets_named(entries)))

    def _stock_directory(self, out: Output, window: tuple[int, int]) -> None:
        """/stock/: every security with news on the site, by market, most news first."""
        assert self._names is not None
        groups: dict[str, list[dict]] = {label: [] for label in _MARKET_ORDER}
        counts = self.store.security_counts(None if window == ALL_KEYS else window)
        for secid, count in counts.items():
            security = parse_secid(secid)
            if security is None:
                continue
            groups[_market_label(security)].append({
                "secid": secid, "code": security.code, "name": self.renderer.stock_link(secid)["name"],
                "names": " ".join(self._names.get(secid, [])[1:]), "count": count})
        listed = [(label, sorted(entries, key=lambda e: (-e["count"], e["secid"])))
                  for label, entries in groups.items() if entries]
        self._write(out, STOCK_DIRECTORY, self.renderer.stock_directory(listed))

    def _outlets(self) -> dict[str, str]:
        if self._outlet_names is None:
            self._outlet_names = {c.slug: c.outlet for c in self._category_counts()}
        return self._outlet_names

    def _category_counts(self) -> list[CategoryCount]:
        """Counted once per build: a count per outlet groups the whole archive (17 ms at
        100,000 articles), and a rebuild asked for it three times."""
        if self._counts is None:
            self._counts = self.store.category_counts()
        return self._counts

    def _tag(self, out: Output, tag: str, first_key: int | None, window: tuple[int, int]) -> None:
        self._listing(out, window, first_key, self._tag_listing(out, tag), tag=tag)

    def _day(self, out: Output, day: date, items: list[Article], before: date | None,
             after: date | None) -> None:
        shown = self._know_stories().shown(items, same_day(items[0], self.tz)) if items else items
        self._write(out, day_path(day), self.renderer.listing(
            f"{day:%Y年%m月%d日}", shown[::-1], subheading=f"共 {len(items)} 篇",
            newer=self.renderer.href(day_path(after)) if after else None,
            older=self.renderer.href(day_path(before)) if before else None,
            label_newer="后一天", label_older="前一天", time_format="%H:%M",
        ))

    def _day_keys(self, day: date) -> tuple[int, int]:
        return key_range(*self._day_bounds(day, day))

    def _day_bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        """From the start of ``first`` to the start of the day after ``last``, local time."""
        start = datetime(first.year, first.month, first.day, tzinfo=self.tz)
        end = datetime(last.year, last.month, last.day, tzinfo=self.tz) + timedelta(days=1)
        return start, end

    def _home_and_feeds(self, out: Output, categories: list[str], window: tuple[int, int]) -> None:
        counts = self._category_counts()
        stories = self._know_stories()
        latest = stories.shown(self.store.summaries(keys=window, limit=HOME_LATEST * 2,
                                                    with_stocks=True))[:HOME_LATEST]
        sections = []
        for c in counts:
            items = self.store.summaries(keys=window, category=c.slug, limit=HOME_SECTION,
                                         with_stocks=True)
            if items:
                sections.append((c.slug, c.outlet or c.slug, items))
        newest_day = day_path(latest[0].published.astimezone(self.tz).date()) if latest else None
        self._write(out, "/index.html", self.renderer.home(
            latest, sections, self.renderer.href(newest_day) if newest_day else None,
            self.options.refresh_minutes * 60,
            menu=[(c.outlet or c.slug, self.renderer.href(category_path(c.slug)))
                  for c in counts[:MENU_OUTLETS]],
            important=self.store.summaries(keys=window, important=True, limit=SIDE_IMPORTANT),
            outlets=[(c.outlet or c.slug, self.renderer.href(category_path(c.slug)), c.count)
                     for c in counts],
        ))
        self._live(out, stories.shown(self.store.summaries(keys=window, limit=LIVE_SIZE * 2,
                                                           with_stocks=True))[:LIVE_SIZE])
        site = self.settings.site
        entries = stories.shown(
            self.store.summaries(keys=window, limit=FEED_SIZE * 3, with_body=True))[:FEED_SIZE]
        self._write(out, "/feed.xml", self.renderer.feed(site.title, "/feed.xml", "/", entries,
                                                         notes=self._outlets_named(entries)))
        for slug in categories:
            self._category_feed(out, slug, window)

    def _live(self, out: Output, newest: list[Article]) -> None:
        """/live.html, the 7×24 stream, and /latest.json, what its script polls on a
        static host: the newest few items, in under LATEST_BYTES."""
        self._know_securities()
        important = self.renderer.important
        items = [self.renderer.live_item(a, a.key in important) for a in newest]
        self._write(out, "/live.html", self.renderer.live(items))
        self._write(out, LATEST_PATH, latest_json(items))

    def _category_feed(self, out: Output, slug: str, window: tuple[int, int]) -> None:
        self._write_category_feed(out, slug, self.store.summaries(
            keys=window, category=slug, limit=FEED_SIZE, with_body=True))

    def _write_category_feed(self, out: Output, slug: str, entries: list[Article]) -> None:
        if entries:
            self._write(out, category_feed_path(slug), self.renderer.feed(
                f"{self._outlets().get(slug) or slug} - {self.settings.site.title}",
                category_feed_path(slug), category_path(slug), entries))
        else:
            out.remove(category_feed_path(slug))

    def _redirects(self, out: Output, article_ids: set[str] | None) -> None:
        """Every URL the original site had keeps working: aliases become redirect pages."""
        if article_ids is not None and not article_ids:
            return
        for category, code, article in self.store.all_aliases():
            if article_ids is not None and article.id not in article_ids:
                continue
            if category != safe_file_name(category) or code != safe_file_name(code):
                continue
            old = article_path(category, article.published, code, self.tz)
            if old != self.renderer.article_site_path(article):
                self._write(out, old, self.renderer.redirect(self.renderer.article_site_path(article)))
        if article_ids is not None:
            return
        for alias, slug in self.store.category_aliases().items():
            name = safe_file_name(alias)
            if name == alias:
                self._write(out, f"/category/{name}.html", self.renderer.redirect(category_path(slug)))
        for slug, link in self.settings.jekyll.category_links.items():
            path = link if link.endswith(".html") else link.rstrip("/") + "/index.html"
            if ".." not in path and path.startswith("/"):
                self._write(out, path, self.renderer.redirect(category_path(slug)))

    # -- followed news: the important page and the watches' pages --------------------

    def _followed_pages(self, out: Output, full: bool, window: tuple[int, int]) -> None:
        """Write the pages and feeds of /important and of each watch whose matches the
        changes since the last build touched (all of them after a full build or a change
        of the [[watch]] tables; those of removed watches go). What the watch tables were
        is kept in the build's state."""
        watches = self.settings.follow.watches
        state = _watches_state(watches)
        previous, self._follow_state = self._follow_state, state
        put = {e.id: e.key for e in self._logged if e.action == "put"}
        gone = {e.id for e in self._logged if e.action == "drop"} - set(put)
        everything = full or previous != state or bool(gone)
        if not everything and not put:
            return
        articles = self.store.by_keys(sorted(set(put.values())))
        important = self.store.importance_of(list(articles))
        pages = [(Criterion(important=True), "重要消息", "/important")]
        pages += [(w.criterion, f"关注：{w.name}", f"/watch/{w.name}") for w in watches]
        for criterion, heading, base in pages:
            if everything or self.store.picks_any(criterion, sorted(articles.items()), important):
                self._followed_page(out, criterion, heading, base, window)
        if everything:
            kept = {f"/watch/{w.name}.{ext}" for w in watches for ext in ("html", "xml")}
            for path in out.paths_with_prefix("/watch/"):
                if path not in kept:
                    out.remove(path)

    def _watch_matches(self, window: tuple[int, int], keys: list[int] | None = None,
                       ) -> dict[int, list[str]]:
        """The watches each article on the site matches (of ``keys`` only, if given), by
        the archive's search: what an article's page links to."""
        watches = self.settings.follow.watches
        if not watches or keys == []:
            return {}
        matched: dict[int, list[str]] = {}
        if keys is None:
            for watch in watches:
                for key in self.store.followed_keys(watch.criterion, 1 << 30, lowest=window[0]):
                    matched.setdefault(key, []).append(watch.name)
            return matched
        rows = sorted(self.store.by_keys(keys).items())
        for watch in watches:
            for key in self.store.picked(watch.criterion, rows):
                matched.setdefault(key, []).append(watch.name)
        return matched

    def _followed_page(self, out: Output, criterion: Criterion, heading: str, base: str,
                       window: tuple[int, int]) -> None:
        self._know_securities()
        self._know_stories()
        keys = self.store.followed_keys(criterion, self.options.per_page, lowest=window[0])
        found = self.store.by_keys(keys)
        named = self.store.stock_ids(keys)
        entries = [found[key] for key in keys]
        for article in entries:
            article.stocks = named[article.key]
        feed = f"{base}.xml"
        self._write(out, f"{base}.html", self.renderer.listing(
            heading, entries, subheading=f"最新 {len(entries)} 篇", feed=self.renderer.href(feed)))
        self._write(out, feed, self.renderer.feed(
            f"{heading} - {self.settings.site.title}", feed, f"{base}.html", entries[:FEED_SIZE],
            summaries=True, notes=self._outlets_named(entries[:FEED_SIZE])))

    def _fixed_pages(self, out: Output) -> None:
        self._write(out, "/404.html", self.renderer.simple("404.html"))
        if self.options.search:
            self._write(out, "/search.html", self.renderer.simple("search.html", search_enabled=True))
        else:
            out.remove("/search.html")


_MARKET_ORDER = ("沪市", "深市·北交所", "港股", "美股", "指数", "板块", "其他")


def _watches_state(watches: tuple) -> str:
    """What the [[watch]] tables are: a change rewrites the watch pages and, since article
    pages link to the watches they match, makes the next build a full one."""
    return hashlib.sha256(repr(watches).encode()).hexdigest()[:16]


def _market_label(security: Security) -> str:
    kind = security.kind
    if kind == "a-share":
        return "沪市" if security.market == 1 else "深市·北交所" if security.market == 0 else "其他"
    return {"hk": "港股", "us": "美股", "index": "指数", "board": "板块"}.get(kind, "其他")


def _key_day(key: int, tz) -> date:
    return key_time(key).astimezone(tz).date()


def _balance(items: list[str], sizes: dict[str, int], parts: int) -> list[list[str]]:
    """Split categories into groups of about equal article counts."""
    groups: list[list[str]] = [[] for _ in range(max(1, parts))]
    totals = [0] * len(groups)
    for item in sorted(items, key=lambda i: -sizes.get(i, 0)):
        smallest = totals.index(min(totals))
        groups[smallest].append(item)
        totals[smallest] += sizes.get(item, 0)
    return [g for g in groups if g]


def _render_outlets(jobs: list[tuple]) -> list[tuple[dict[str, str], int, int, int]]:
    """Worker process: render the outlets of one group (see SiteBuilder.outlet_pages)."""
    results = []
    for url, settings, options, categories, window, matched in jobs:
        store = open_store(url)
        out = Output(options.out)
        try:
            out.preload(*(p for c in categories for p in (f"/{c}/", f"/category/{c}")))
            builder = SiteBuilder(store, settings, options)
            builder.renderer.know_watches(matched)
            for category in categories:
                builder.outlet_pages(out, category, window)
            results.append((out.produced, out.written, out.unchanged, builder.pages))
        finally:
            out.close()
            store.close()
    return results


def _category_stream(store: Store, category: str, window: tuple[int, int], stories: StoryIndex,
                     batch: int = 500) -> Iterator[tuple[Article, bytes]]:
    low, high = window
    while True:
        rows = store.page_bodies(category=category, keys=(low, high), limit=batch)
        stories.prefetch(a.key for a, _ in rows)
        yield from rows
        if len(rows) < batch:
            return
        low = rows[-1][0].key + 1
