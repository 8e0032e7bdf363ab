"""Queries over the archive as the CLI and the JSON API ask them: filters in, plain dicts out.

One place turns user input (an outlet name or slug, dates, a cursor) into store calls and
articles into JSON, so that `finews search --json` and `/api/search` agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from finews.config import Settings
from finews.errors import BadRequest, FinewsError
from finews.follow import IMPORTANT
from finews.fulltext import Query
from finews.keys import ALL_KEYS, key_range
from finews.model import Article
from finews.revisions import body_text, edits
from finews.site.pages import article_path
from finews.store import Store
from finews.store.base import SearchHit, SourceHealth

MAX_LIMIT = 500



@dataclass
class Filters:
    """What to select: all optional, combined with AND."""

    outlet: str | None = None
    tag: str | None = None
    since: str | None = None
    until: str | None = None
    q: str | None = None
    limit: int = 50
    cursor: str | None = None
    ranked: bool = False
    stock: str | None = None
    group: str | None = None
    """``story``: one item per story, its newest match, with the other ``copies``."""
    important: bool = False
    """Only important articles (marked red by their source, or by an [[important]] rule)."""


def parse_time(value: str, field: str, tz: ZoneInfo, *, end: bool) -> datetime:
    """A date (the whole day in the site's time zone) or an ISO 8601 time."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(), tz)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(field, f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _secid(store: Store, stock: str) -> str:
    """A security given by its secid (1.600519), its code (600519) or a name it had."""
    found = store.securities(stock, limit=2)
    exact = [s for s in found if stock in (s["secid"], s["code"]) or s["name"] == stock]
    if len(exact) == 1 or len(found) == 1:
        return (exact or found)[0]["secid"]
    if not found:
        raise BadRequest("stock", f"no security {stock!r} in the archive")
    raise BadRequest("stock", f"{stock!r} names several securities; give its secid, e.g. 1.600519")


def _category(store: Store, outlet: str) -> str:
    """An outlet given by its slug or by its name."""
    counts = store.category_counts()
    for c in counts:
        if outlet in (c.slug, c.outlet):
            return c.slug
    raise BadRequest("outlet", f"no outlet {outlet!r} in the archive")


class Archive:
    """The archive as the API sees it."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._renderer = None

    def _keys(self, f: Filters) -> tuple[int, int] | None:
        tz = self.settings.tz
        low, high = ALL_KEYS
        if f.since:
            low = key_range(parse_time(f.since, "since", tz, end=False), datetime.now(tz))[0]
        if f.until:
            high = key_range(datetime.now(tz), parse_time(f.until, "until", tz, end=True))[1]
        if f.cursor:
            if not f.cursor.isdigit() or len(f.cursor) > 19:
                raise BadRequest("cursor", "not a cursor this API returned")
            high = min(high, int(f.cursor) - 1)
        if low > high:
            return (1, 0)
        return None if (low, high) == ALL_KEYS else (low, high)

    def _check_limit(self, limit: int) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest("limit", f"must be between 1 and {MAX_LIMIT}, not {limit}")

    def _check_group(self, f: Filters) -> None:
        if f.group not in (None, "story"):
            raise BadRequest("group", "must be 'story' (one item per story) or left out")

    def articles(self, f: Filters) -> dict:
        """Newest first, with a cursor for the next page; with ``q``, only matches."""
        self._check_limit(f.limit)
        self._check_group(f)
        if f.q:
            return self.search(f)
        category = _category(self.store, f.outlet) if f.outlet else None
        stock = _secid(self.store, f.stock) if f.stock else None
        keys = self._keys(f)

        def page(low_high: tuple[int, int] | None, n: int) -> list[Article]:
            return self.store.summaries(category=category, tag=f.tag or None, keys=low_high,
                                        limit=n, stock=stock, with_stocks=f.group is not None,
                                        important=f.important)
        if f.group:
            rows, more, copies = self._one_per_story(page, keys, f.limit, category, f.tag, stock,
                                                     f.important)
        else:
            rows = page(keys, f.limit + 1)
            more, copies = len(rows) > f.limit, None
            rows = rows[: f.limit]
        stocks = self.store.stocks_of([a.key for a in rows])
        self._mark(rows)
        return {
            "articles": [self._with_copies(self.summary(a, stocks[a.key]), copies, a) for a in rows],
            "next_cursor": str(rows[-1].key) if more else None,
        }

    def _one_per_story(self, page, keys: tuple[int, int] | None, limit: int, category: str | None,
                       tag: str | None, stock: str | None, important: bool = False,
                       ) -> tuple[list[Article], bool, dict]:
        """The newest ``limit`` matches that are their story's newest match: an older copy
        whose story has a newer match (on this page or an earlier one) is left out, so
        paging on with the cursor never shows a story twice."""
        low, high = keys or ALL_KEYS
        top = high
        shown: list[Article] = []
        found: dict[int, int] = {}
        members: dict[int, list[Article]] = {}
        while len(shown) <= limit and low <= high:
            batch = page((low, high), 4 * limit)
            if not batch:
                break
            stories = self.store.story_ids([a.key for a in batch])
            wanted = sorted({s for s in stories.values() if s not in members})
            members.update(self.store.story_articles(wanted) if wanted else {})
            red = self.store.importance_of([m.key for ms in members.values() for m in ms]) \
                if important else {}
            for a in batch:
                story = stories.get(a.key)
                newer = [m for m in members.get(story, []) if a.key < m.key <= top
                         and (category is None or m.category == category)
                         and (tag is None or tag in m.tags) and (stock is None or stock in m.stocks)
                         and (not important or m.key in red)]
                if not newer:
                    shown.append(a)
                    found[a.key] = story if story is not None else a.key
            high = batch[-1].key - 1
            if len(batch) < 4 * limit:
                break
        copies = {a.key: (found[a.key], [m for m in members.get(found[a.key], []) if m.key != a.key])
                  for a in shown}
        return shown[:limit], len(shown) > limit, copies

    def _with_copies(self, data: dict, copies: dict[int, tuple[int, list[Article]]] | None,
                     a: Article) -> dict:
        """``copies``: key -> (its story, the story's other articles), when grouped."""
        if copies is not None:
            story, others = copies.get(a.key, (a.key, []))
            data["story"] = story
            data["copies"] = [self._copy(m) for m in reversed(others)]
        return data

    def _copy(self, a: Article) -> dict:
        return {"id": a.id, "title": a.title, "outlet": a.outlet, "category": a.category,
                "published": a.published.astimezone(self.settings.tz).isoformat(),
                "page": article_path(a.category, a.published, a.code, self.settings.tz)}

    def story(self, story: int) -> dict | None:
        """A story: its lead, the outlets that ran it and every copy, oldest first."""
        members = self.store.story_articles([story]).get(story)
        if not members:
            return None
        return {"id": story, "lead": members[0].id,
                "outlets": list(dict.fromkeys(a.outlet for a in members)),
                "articles": [self._copy(a) for a in members]}

    def search(self, f: Filters) -> dict:
        self._check_limit(f.limit)
        self._check_group(f)
        if not f.q:
            raise BadRequest("q", "give something to search for")
        try:
            query = Query.parse(f.q)
        except FinewsError as exc:
            raise BadRequest("q", str(exc)) from None
        category = _category(self.store, f.outlet) if f.outlet else None
        wanted = 4 * (f.limit + 1) if f.group else f.limit + 1
        while True:
            hits = self.store.search(
                query, category=category, tag=f.tag or None, keys=self._keys(f),
                limit=wanted, ranked=f.ranked, snippets=not f.group,
                stock=_secid(self.store, f.stock) if f.stock else None, important=f.important,
            )
            if not f.group or len(hits) < wanted or len(
                    set(self.store.story_ids([h.article.key for h in hits]).values())) > f.limit:
                break
            wanted *= 4  # so many copies that the stories do not fill the page yet
        copies = None
        if f.group:
            hits, copies = self._hits_per_story(hits, query, f.limit + 1)
        more = len(hits) > f.limit and not f.ranked
        hits = hits[: f.limit]
        stocks = self.store.stocks_of([h.article.key for h in hits])
        self._mark([h.article for h in hits])
        return {
            "query": list(query.terms),
            "articles": [self._with_copies(self.hit(h, stocks[h.article.key]), copies, h.article)
                         for h in hits],
            "next_cursor": str(hits[-1].article.key) if more else None,
        }

    def _hits_per_story(self, hits: list[SearchHit], query: Query, limit: int,
                        ) -> tuple[list[SearchHit], dict]:
        """Every match grouped by story, in the order found (newest or best first): each
        story once, at its first match, with the other copies; snippets of those shown."""
        from finews.fulltext import snippet

        stories = self.store.story_ids([h.article.key for h in hits])
        first: dict[int, SearchHit] = {}
        for h in hits:
            first.setdefault(stories.get(h.article.key, h.article.key), h)
        shown = list(first.values())[:limit]
        members = self.store.story_articles(sorted({stories[h.article.key] for h in shown
                                                     if h.article.key in stories}))
        copies = {}
        for h in shown:
            story = stories.get(h.article.key, h.article.key)
            copies[h.article.key] = (story, [m for m in members.get(story, []) if m.key != h.article.key])
            full = self.store.get(h.article.id)
            if full is not None:
                h.snippet = snippet(full.html, query)
        return shown, copies

    def article(self, article_id: str) -> dict | None:
        article = self.store.get(article_id)
        if article is None:
            return None
        self._mark([article])
        data = self.summary(article, self.store.stocks_of([article.key])[article.key])
        data["html"] = article.html
        data["aliases"] = [
            article_path(category, article.published, code, self.settings.tz)
            for category, code in article.aliases
        ]
        story = self.store.story_ids([article.key]).get(article.key, article.key)
        members = self.store.story_articles([story]).get(story) or [article]
        data["story"] = {"id": story, "articles": [self._copy(a) for a in members]}
        return data

    def revisions(self, article_id: str) -> dict | None:
        """Every version of an article, oldest first, and each change as character diffs
        (runs of [-1 deleted, 0 kept, 1 inserted, text]) of its title and its text."""
        versions = self.store.versions(article_id)
        if not versions:
            return None
        tz = self.settings.tz
        return {
            "id": article_id,
            "changes": len(versions) - 1,
            "versions": [{
                "number": v.number, "title": v.title,
                "text": body_text(v.body) if v.body is not None else None,
                "since": v.since.astimezone(tz).isoformat(),
                "replaced": v.replaced.astimezone(tz).isoformat() if v.replaced else None,
            } for v in versions],
            "edits": [{
                "number": e.number, "at": e.at.astimezone(tz).isoformat(),
                "title": [list(run) for run in e.title],
                "body": [list(run) for run in e.body] if e.body is not None else None,
            } for e in edits(versions)],
        }

    def summary(self, a: Article, stocks: list[dict]) -> dict:
        return {
            "id": a.id,
            "code": a.code,
            "title": a.title,
            "published": a.published.astimezone(self.settings.tz).isoformat(),
            "outlet": a.outlet,
            "category": a.category,
            "tags": a.tags,
            "digest": a.digest,
            "url": a.url,
            "page": article_path(a.category, a.published, a.code, self.settings.tz),
            "source": a.source,
            "stocks": stocks,
            "important": a.importance >= IMPORTANT,
        }

    def export_filters(self, f: Filters) -> tuple[tuple[int, int], str | None, str | None]:
        """(key range, outlet slug, secid) of an export's --since/--until/--outlet/--stock,
        read as the search reads them; a BadRequest becomes a one-line error."""
        try:
            keys = self._keys(f) or ALL_KEYS
            category = _category(self.store, f.outlet) if f.outlet else None
            stock = _secid(self.store, f.stock) if f.stock else None
        except BadRequest as exc:
            raise FinewsError(f"--{exc.field}: {exc.message}") from None
        return keys, category, stock

    def live_items(self, limit: int, after: int | None = None) -> list[dict]:
        """The 7×24 stream's items as the page shows them: the newest ``limit``, newest
        first, or those stored after key ``after``, oldest first."""
        from finews.site.pages import Renderer

        if self._renderer is None:
            self._renderer = Renderer(self.settings)
        if after is None:
            rows = self.store.summaries(limit=limit, with_stocks=True)
        else:
            rows = self.store.summaries(keys=(after + 1, ALL_KEYS[1]), newest_first=False,
                                        limit=limit, with_stocks=True)
        if any(a.stocks for a in rows):
            self._renderer.know_securities(
                {secid: names[0] for secid, names in self.store.all_security_names().items()})
        important = self.store.importance_of([a.key for a in rows])
        return [self._renderer.live_item(a, a.key in important) for a in rows]

    def _mark(self, articles: list[Article]) -> None:
        """Give the articles their importance, which the archive keeps apart."""
        levels = self.store.importance_of([a.key for a in articles])
        for a in articles:
            a.importance = levels.get(a.key, 0)

    def watch(self, name: str, f: Filters) -> dict:
        """A watch's matches in the archive, newest first, with a cursor."""
        self._check_limit(f.limit)
        watch = self.settings.follow.watch(name)
        before = self._keys(f)
        keys = self.store.followed_keys(watch.criterion, f.limit + 1,
                                        before=before[1] + 1 if before else None)
        more, keys = len(keys) > f.limit, keys[: f.limit]
        found = self.store.by_keys(keys)
        rows = [found[key] for key in keys]
        stocks = self.store.stocks_of(keys)
        self._mark(rows)
        return {"watch": name, "query": watch.query_text, "stocks": list(watch.criterion.stocks),
                "articles": [self.summary(a, stocks[a.key]) for a in rows],
                "next_cursor": str(rows[-1].key) if more else None}

    def watch_feed(self, name: str, f: Filters) -> bytes:
        data = self.watch(name, f)
        return self._feed(f"关注：{name}", f"/api/watch/{name}.atom", f"/watch/{name}.html",
                          [a["id"] for a in data["articles"]])

    def search_feed(self, f: Filters) -> bytes:
        """A search as an Atom feed, newest first whatever the order asked."""
        f.ranked = False
        data = self.search(f)
        return self._feed(f"搜索：{f.q}", "/api/search.atom", "/search.html",
                          [a["id"] for a in data["articles"]])

    def _feed(self, title: str, self_path: str, alternate: str, ids: list[str]) -> bytes:
        from finews.site.pages import Renderer

        entries = [a for a in (self.store.get(i) for i in ids) if a is not None]
        return Renderer(self.settings).feed(f"{title} - {self.settings.site.title}", self_path,
                                            alternate, entries)

    def hit(self, h: SearchHit, stocks: list[dict]) -> dict:
        data = self.summary(h.article, stocks)
        data["snippet"] = h.snippet
        data["score"] = round(h.score, 6)
        return data

    def stocks(self, q: str = "", limit: int = 100) -> dict:
        """Securities with news, most mentioned first; ``q`` finds one by code or name."""
        self._check_limit(limit)
        return {"stocks": self.store.securities(q, limit=limit)}

    def stock(self, given: str, days: int = 90) -> dict | None:
        """One security: its names, its latest articles and its news per day over the
        last ``days`` days (Beijing days, oldest first, days without news included)."""
        try:
            secid = _secid(self.store, given)
        except BadRequest:
            return None
        security = next(s for s in self.store.securities(secid, limit=10) if s["secid"] == secid)
        latest = self.store.summaries(stock=secid, limit=20)
        stocks = self.store.stocks_of([a.key for a in latest])
        tz = self.settings.tz
        today = datetime.now(tz).date()
        first = today - timedelta(days=days - 1)
        window = key_range(datetime.combine(first, time(), tz),
                           datetime.combine(today + timedelta(days=1), time(), tz))
        per_day = dict.fromkeys((first + timedelta(days=n) for n in range(days)), 0)
        for article in self.store.summaries(stock=secid, keys=window):
            per_day[article.published.astimezone(tz).date()] += 1
        return {
            **security,
            "names": [{"name": name, "last_seen": _iso(seen, tz)}
                      for name, seen in self.store.security_names(secid)],
            "articles": [self.summary(a, stocks[a.key]) for a in latest],
            "daily": [{"date": day.isoformat(), "articles": n} for day, n in per_day.items()],
        }

    def sources(self) -> list[dict]:
        health = {h.name: h for h in self.store.source_health()}
        rows = []
        for source in self.settings.sources:
            h = health.get(source.name, SourceHealth(source.name))
            rows.append({
                "name": source.name, "kind": source.kind, "enabled": source.enabled,
                "interval": source.interval,
                "last_run": _iso(h.last_run, self.settings.tz),
                "last_success": _iso(h.last_success, self.settings.tz),
                "last_error": h.last_error if h.consecutive_failures else "",
                "consecutive_failures": h.consecutive_failures,
                "items_last_run": h.items_last_run,
                "next_due": _iso(h.next_due, self.settings.tz),
                "healthy": h.consecutive_failures == 0 and h.last_success > 0,
                "gap": h.gap,
            })
        return rows + self.notification_targets()

    def notification_targets(self) -> list[dict]:
        """Each watch's notification targets, as rows like a source's: a target that keeps
        failing shows its failures and last error (its URL only up to the host: the rest
        may hold a token)."""
        health = {(h.watch, h.target): h for h in self.store.outbox_health()}
        rows = []
        for watch in self.settings.follow.watches:
            for target, url in watch.targets().items():
                h = health.get((watch.name, target))
                failing = h.failing if h else 0
                rows.append({
                    "name": f"notify:{watch.name}:{target[:8]}", "kind": "notify",
                    "enabled": True, "interval": "", "target": _redacted(url),
                    "pending": h.pending if h else 0, "consecutive_failures": failing,
                    "last_error": h.last_error if h and failing else "",
                    "healthy": failing == 0, "gap": "",
                })
        return rows


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…"


def _iso(ts: int, tz: ZoneInfo) -> str | None:
    return datetime.fromtimestamp(ts, tz).isoformat() if ts else None
