"""Where each page lives and how it is rendered (Jinja2; a theme folder overrides templates)."""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from markupsafe import Markup

from finews import __version__
from finews.config import Settings
from finews.model import Article
from finews.revisions import Version, diff_html, edits
from finews.site.stories import StoryIndex

if TYPE_CHECKING:
    import jinja2

CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' https: http: data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-src 'none'"
)
CHIPS = 3
"""How many securities a list shows beside each item."""
LIVE_TEXT = 160
"""How much of an item's text the 7×24 stream shows."""
_UNSAFE_FILE = re.compile(r'[\x00-\x1f\x7f/\\?#%<>:"|*]')


def safe_file_name(name: str) -> str:
    """A tag or alias as one path segment: no separators, no traversal, no control chars."""
    cleaned = _UNSAFE_FILE.sub("_", name).strip().lstrip(".")
    return cleaned[:120] or "_"


IMPORTANT_ITEM = ' class="important"'
IMPORTANT_MARK = '<span class="red-mark">重要</span> '
"""How lists mark an important article: a red headline and, after it, a red label that is
read out too (the headline stays the item's first link)."""


LATEST_PATH = "/latest.json"
LATEST_BYTES = 10_000
LATEST_ITEMS = 30


def names_outlet(tag: str, outlet: str) -> bool:
    """A tag that only repeats the outlet (``澎湃新闻新闻``, as the original site tagged every
    post): its page is kept for old links, but an article does not offer it as a tag."""
    return tag in (outlet, f"{outlet}新闻")


def _repeats(digest: str, body: str | bytes) -> bool:
    """Whether the body begins with what the digest says (a 7×24 item's digest is its
    text): then the page does not quote it above the body. A test on the body's first
    bytes, not its text, since every article page asks."""
    lead = digest.strip()[:24]
    head = body[:4 * len(lead.encode()) + 400]
    return bool(lead) and (lead.encode() in head if isinstance(head, bytes) else lead in head)


def latest_json(items: list[dict], live: str | None = None) -> bytes:
    """What the 7×24 page's script reads: the newest items that fit in LATEST_BYTES, and
    under `finews serve` the event stream that pushes the next ones."""
    head = {"live": live} if live else {}
    for count in range(min(len(items), LATEST_ITEMS), -1, -1):
        data = json.dumps({**head, "items": items[:count]}, ensure_ascii=False,
                          separators=(",", ":")).encode()
        if len(data) <= LATEST_BYTES:
            return data
    raise AssertionError("an empty latest.json is small")


def article_path(category: str, published: datetime, code: str, tz: ZoneInfo) -> str:
    """Formatted field by field: strftime was the slowest part of listing every article."""
    d = published.astimezone(tz)
    return f"/{category}/{d.year:04d}/{d.month:02d}/{d.day:02d}/{code}.html"


def category_path(slug: str, block: int | None = None) -> str:
    return f"/category/{slug}.html" if block is None else f"/category/{slug}/{block}.html"


def category_feed_path(slug: str) -> str:
    return f"/category/{slug}.xml"


def tag_path(tag: str, block: int | None = None) -> str:
    name = safe_file_name(tag)
    return f"/tag/{name}.html" if block is None else f"/tag/{name}/{block}.html"


STOCK_DIRECTORY = "/stock/index.html"


def stock_path(secid: str, block: int | None = None) -> str:
    """A security's listing: ``/stock/1.600519.html``; a board's is ``/board/BK1033.html``."""
    market, _, code = secid.partition(".")
    base = f"/board/{code}" if market == "90" else f"/stock/{secid}"
    return f"{base}.html" if block is None else f"{base}/{block}.html"


def stock_feed_path(secid: str) -> str:
    return stock_path(secid)[:-5] + ".xml"


def day_path(day: date) -> str:
    return f"/archive/{day:%Y/%m/%d}.html"


def month_of(published: datetime, tz: ZoneInfo) -> str:
    return f"{published.astimezone(tz):%Y-%m}"


@dataclass
class View:
    """An article as templates see it."""

    title: str
    outlet: str
    href: str
    category_href: str
    local: datetime
    iso: str
    digest: str
    key: int


class Renderer:
    """Renders pages for one site; pure functions of their inputs."""

    def __init__(self, settings: Settings, theme: Path | None = None,
                 template_cache: Path | None = None, search: bool = True):
        """``template_cache``: a folder for compiled templates. Compiling them anew was a
        quarter of a rebuild after ten new articles, and every build is a new process.
        ``search``: whether the site has a search page, and so a search box on every page."""
        self.settings = settings
        self.search = search
        self.tz = settings.tz
        base = settings.site.base_url
        self.prefix = urlsplit(base).path.rstrip("/") if base else ""
        self.base = ("https:" + base if base.startswith("//") else base).rstrip("/")
        self.template_cache = template_cache
        self.theme = theme
        self._views: dict[int, View] = {}
        self._body_mark = f"<!--{secrets.token_hex(16)}-->"
        self._body_mark_bytes = self._body_mark.encode()
        self._splice_bodies = not (theme and (theme / "article.html").is_file())
        self.security_names: dict[str, str] = {}
        self._stock_links: dict[str, dict[str, str]] = {}
        self.stories = StoryIndex({})
        self.important: set[int] = set()
        self.watches: dict[int, list[str]] = {}
        self.revisions: dict[int, int] = {}

    @cached_property
    def env(self) -> jinja2.Environment:
        """Made when the first page is rendered: a build with nothing to do renders none,
        and loading Jinja was a tenth of such a build's time."""
        import jinja2

        loaders: list[jinja2.BaseLoader] = []
        if self.theme:
            loaders.append(jinja2.FileSystemLoader(str(self.theme)))
        loaders.append(jinja2.PackageLoader("finews.site", "templates"))
        cache = None
        if self.template_cache is not None:
            folder = self.template_cache / __version__
            folder.mkdir(parents=True, exist_ok=True)
            cache = jinja2.FileSystemBytecodeCache(str(folder))
        env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
            auto_reload=False,
            bytecode_cache=cache,
        )
        env.globals.update(site=self.settings.site, prefix=self.prefix, csp=CSP, search=self.search)
        # The parts every page shares are rendered once, not once per page.
        for part in ("head", "header", "footer"):
            env.globals[part] = Markup(env.get_template(f"_{part}.html").render())
        return env

    def fingerprint(self) -> str:
        """Changes whenever templates, static files, finews or the site settings change."""
        h = hashlib.sha256(__version__.encode())
        for path in sorted(self.template_files()) + sorted(static_files()):
            h.update(str(path.name).encode())
            h.update(path.read_bytes())
        s = self.settings.site
        h.update(repr((s.title, s.base_url, s.timezone)).encode())
        return h.hexdigest()[:24]

    def template_files(self) -> list[Path]:
        files = [Path(str(p)) for p in resources.files("finews.site").joinpath("templates").iterdir()]
        if self.theme and self.theme.is_dir():
            files += [p for p in self.theme.rglob("*") if p.is_file()]
        return files

    # -- urls ----------------------------------------------------------------------------

    def href(self, path: str) -> str:
        return self.prefix + quote(path)

    def absolute(self, path: str) -> str:
        return self.base + quote(path) if self.base else quote(path)

    def article_site_path(self, a: Article) -> str:
        return article_path(a.category, a.published, a.code, self.tz)

    def view(self, a: Article) -> View:
        """Category slugs and codes are URL-safe, so these links need no quoting."""
        cached = self._views.get(a.key) if a.key else None
        if cached is not None and cached.title == a.title:
            return cached
        local = a.published.astimezone(self.tz)
        view = View(
            title=a.title, outlet=a.outlet or a.category,
            href=f"{self.prefix}/{a.category}/{local:%Y/%m/%d}/{a.code}.html",
            category_href=f"{self.prefix}/category/{a.category}.html", local=local,
            iso=local.isoformat(), digest=a.digest, key=a.key,
        )
        if a.key:
            self._views[a.key] = view
        return view

    def know_stories(self, stories: StoryIndex) -> None:
        """The build's stories: an article's copies, and its list badge."""
        self.stories = stories

    def _story_badge(self, a: Article) -> str:
        badge = self.stories.badge(a)
        if badge is None:
            return ""
        return f' <a class="story" href="{self.href(badge[0])}">{badge[1]}</a>'

    def story_box(self, a: Article) -> dict | None:
        """The 同一新闻 box of an article page: the story's other copies, linked."""
        copies = self.stories.copies(a)
        if not copies:
            return None
        badge = self.stories.badge(a)
        assert badge is not None
        return {"href": self.href(badge[0]), "label": badge[1],
                "copies": [self.view(c) for c in reversed(copies)]}

    def know_watches(self, matched: dict[int, list[str]]) -> None:
        """The watches each article matches, by key: its page links to their pages."""
        self.watches = matched

    def know_revisions(self, counts: dict[int, int]) -> None:
        """How many times each changed article changed, by key: its page says so and
        links to its revisions page."""
        self.revisions = counts

    def revisions_site_path(self, a: Article) -> str:
        return self.article_site_path(a).removesuffix(".html") + ".revisions.html"

    def _revised(self, a: Article) -> dict | None:
        count = self.revisions.get(a.key)
        if not count or a.last_changed is None:
            return None
        local = a.last_changed.astimezone(self.tz)
        return {"count": count, "iso": local.isoformat(), "local": local,
                "href": self.href(self.revisions_site_path(a))}

    def revisions_page(self, a: Article, versions: list[Version]) -> bytes:
        """Every change of an article, newest first, as character diffs of the title and
        of the text a reader sees."""
        shown = [{"number": e.number, "at": e.at.astimezone(self.tz), "title": Markup(diff_html(e.title)),
                  "body": Markup(diff_html(e.body)) if e.body is not None else None,
                  "inserted": e.inserted, "deleted": e.deleted} for e in edits(versions)]
        first = versions[0].since.astimezone(self.tz)
        return self._render("revisions.html", a=self.view(a), edits=shown, first=first,
                            article_href=self.view(a).href,
                            canonical=self.absolute(self.revisions_site_path(a)))

    def know_important(self, keys: set[int]) -> None:
        """The important articles, which lists mark red."""
        self.important = keys

    def know_securities(self, names: dict[str, str]) -> None:
        """The newest name of each security, for its chips, links and pages."""
        self.security_names = names
        self._stock_links.clear()

    def stock_links(self, secids: list[str]) -> list[dict[str, str]]:
        return [self.stock_link(secid) for secid in secids]

    def stock_link(self, secid: str) -> dict[str, str]:
        """A security's code, display name (its newest, else its code), page and chip:
        made once per security and build, since lists show thousands of chips."""
        link = self._stock_links.get(secid)
        if link is None:
            code = secid.partition(".")[2]
            name = self.security_names.get(secid) or code
            href = self.href(stock_path(secid))
            link = self._stock_links[secid] = {
                "secid": secid, "code": code, "name": name, "href": href,
                "chip": f' <a class="chip" href="{href}">{_esc(name)}</a>'}
        return link

    def _chips(self, secids: list[str]) -> str:
        return "".join(self.stock_link(secid)["chip"] for secid in secids[:CHIPS])

    # -- pages ---------------------------------------------------------------------------

    def _render(self, template: str, **context: object) -> bytes:
        return self.env.get_template(template).render(**context).encode("utf-8")

    def article(self, a: Article, newer: Article | None, older: Article | None,
                html: bytes | None = None) -> bytes:
        """``html``: the body as UTF-8 bytes, spliced into the rendered page where the
        packaged template puts it (a theme's own template receives it as text)."""
        splice = html is not None and self._splice_bodies
        body = self._body_mark if splice else a.html if html is None else html.decode()
        original = a.url if a.url.startswith(("http://", "https://")) else ""
        page = self._render(
            "article.html", a=self.view(a), body=Markup(body),
            digest=a.digest if a.digest and not _repeats(a.digest, html or a.html) else "",
            canonical=self.absolute(self.article_site_path(a)), original=original,
            stocks=self.stock_links(a.stocks), story=self.story_box(a),
            tags=[{"name": tag, "href": self.href(tag_path(tag))} for tag in a.tags
                  if not names_outlet(tag, a.outlet)],
            watches=[{"name": name, "href": self.href(f"/watch/{name}.html")}
                     for name in self.watches.get(a.key, [])],
            newer=self.view(newer).href if newer else None,
            older=self.view(older).href if older else None,
            revised=self._revised(a),
        )
        return page.replace(self._body_mark_bytes, html, 1) if splice else page

    def items_html(self, items: list[Article], show_outlet: bool = True,
                   time_format: str = "%m-%d %H:%M", badges: bool = True) -> Markup:
        """The list of articles as HTML, built directly: pages list tens of thousands of
        items, and this is ten times faster than a template loop. Themes receive the views
        too (``items``) if they want their own markup. An item of an earlier year shows
        its year too."""
        parts = ['<ol class="items">']
        year = datetime.now(self.tz).year
        dated = "%Y-" + time_format if time_format.startswith("%m") else time_format
        for a in items:
            v = self.view(a)
            outlet = (f'<a href="{v.category_href}">{_esc(v.outlet)}</a> ' if show_outlet else "")
            red = a.key in self.important
            parts.append(
                f'<li{IMPORTANT_ITEM if red else ""}><a href="{v.href}">{_esc(v.title) or "（无标题）"}</a> '
                f'{IMPORTANT_MARK if red else ""}<span class="meta">'
                f'{outlet}<time datetime="{v.iso}">'
                f'{v.local.strftime(time_format if v.local.year == year else dated)}</time>'
                f'{self._chips(a.stocks) if a.stocks else ""}'
                f'{self._story_badge(a) if badges else ""}</span></li>'
            )
        parts.append("</ol>")
        return Markup("\n".join(parts))

    def listing(self, heading: str, items: list[Article], **context: object) -> bytes:
        show_outlet = bool(context.pop("show_outlet", True))
        time_format = str(context.pop("time_format", "%m-%d %H:%M"))
        badges = bool(context.pop("badges", True))
        stream = bool(context.pop("stream", False))
        context.setdefault("label_newer", "较新")
        context.setdefault("label_older", "更早")
        for key in ("subheading", "newer", "older", "blocks", "feed", "intro"):
            context.setdefault(key, None)
        return self._render(
            "list.html", heading=heading, items=[self.view(a) for a in items],
            items_html=(self.stream_html(items) if stream else
                        self.items_html(items, show_outlet, time_format, badges)) if items else None,
            **context,
        )

    def stream_html(self, items: list[Article]) -> Markup:
        """Items in the 7×24 layout, as /live.html shows them: time, headline, text."""
        year = datetime.now(self.tz).year
        parts = ['<ol class="live">']
        for a in items:
            v = self.view(a)
            red = a.key in self.important
            text = a.digest[:LIVE_TEXT] + ("…" if len(a.digest) > LIVE_TEXT else "")
            when = v.local.strftime("%m-%d %H:%M" if v.local.year == year else "%Y-%m-%d %H:%M")
            said = f'<span class="live-text">{_esc(text)}</span> ' if text and text != a.title else ""
            parts.append(
                f'<li data-key="{a.key}"{IMPORTANT_ITEM if red else ""}>'
                f'<time datetime="{v.iso}">{when}</time> '
                f'<div class="live-body"><a href="{v.href}">{_esc(v.title) or "（无标题）"}</a> '
                f'{IMPORTANT_MARK if red else ""}{said}'
                f'<span class="meta">{self._chips(a.stocks) if a.stocks else ""}'
                f'{self._story_badge(a)}</span></div></li>')
        parts.append("</ol>")
        return Markup("\n".join(parts))

    def home(self, latest: list[Article], sections: list[tuple[str, str, list[Article]]],
             days: str | None, refresh: int, menu: list[tuple[str, str]] | None = None,
             important: list[Article] | None = None,
             outlets: list[tuple[str, str, int]] | None = None) -> bytes:
        """``menu``: (outlet, href) of the busiest outlets, for the first screen on a phone;
        ``important`` and ``outlets`` (name, href, count): the side column on a desktop."""
        return self._render(
            "home.html", latest=self.items_html(latest), menu=menu or [],
            important=self.items_html(important, time_format="%m-%d %H:%M", badges=False)
            if important else None, outlets=outlets or [],
            sections=[{"outlet": outlet, "href": self.href(category_path(slug)),
                       "articles": self.items_html(items, show_outlet=False)}
                      for slug, outlet, items in sections],
            days=days, refresh=refresh,
        )

    def live_item(self, a: Article, important: bool) -> dict:
        """One item of the 7×24 stream, as the page, latest.json and the server's event
        stream all give it: plain text and URLs, which the page's script puts in place."""
        local = a.published.astimezone(self.tz)
        text = a.digest or ""
        return {
            "key": str(a.key), "day": local.date().isoformat(), "time": local.strftime("%H:%M"),
            "iso": local.isoformat(), "title": a.title or "（无标题）",
            "text": text[:LIVE_TEXT] + ("…" if len(text) > LIVE_TEXT else ""),
            "href": self.view(a).href, "outlet": a.outlet or a.category, "important": important,
            "stocks": [{"name": link["name"], "href": link["href"]}
                       for link in self.stock_links(a.stocks[:CHIPS])],
        }

    def live(self, items: list[dict]) -> bytes:
        """The 7×24 page: items newest first, by day (the script names today and
        yesterday in the reader's time, and adds what arrives)."""
        days: list[dict] = []
        for item in items:
            if not days or days[-1]["day"] != item["day"]:
                days.append({"day": item["day"], "items": []})
            days[-1]["items"].append(item)
        return self._render("live.html", days=days, newest=items[0]["key"] if items else "0")

    def stock_directory(self, groups: list[tuple[str, list[dict]]]) -> bytes:
        """Every security with news, by market: ``groups`` is (label, securities), each
        with secid, code, name, earlier names and count. Built directly, like item lists:
        thousands of entries, rewritten whenever any security has news."""
        sections = []
        for label, entries in groups:
            items = "\n".join(
                f'<li data-search="{_esc(s["name"])} {_esc(s["names"])} {s["code"]} {s["secid"]}">'
                f'<a href="{self.stock_link(s["secid"])["href"]}">{_esc(s["name"])}</a> '
                f'<span class="meta">{s["code"]} · {s["count"]} 篇</span></li>' for s in entries)
            sections.append(f'<section class="market">\n<h2>{label} <small class="meta">{len(entries)}'
                            f'</small></h2>\n<ul class="stocks">\n{items}\n</ul>\n</section>')
        return self._render("stocks.html", directory=Markup("\n".join(sections)),
                            total=sum(len(entries) for _, entries in groups))

    def redirect(self, target_path: str) -> bytes:
        return self._render("redirect.html", target=self.href(target_path))

    def simple(self, template: str, **context: object) -> bytes:
        return self._render(template, **context)

    def feed(self, title: str, self_path: str, alternate_path: str, entries: list[Article],
             summaries: bool = False, notes: dict[int, str] | None = None) -> bytes:
        """``summaries``: entries carry the digest, not the body (a security's feed is read
        from the listing it is written with, which holds no bodies); ``notes``: HTML put
        above an entry's text, by key (the outlets that ran a story)."""
        notes = notes or {}
        updated = max((updated_at(a) for a in entries), default=datetime(2000, 1, 1, tzinfo=UTC))
        return self._render(
            "feed.xml", title=title, feed_id=self.absolute(self_path) if self.base else
            f"tag:finews,2021:{self_path}", self_url=self.absolute(self_path),
            alternate=self.absolute(alternate_path), updated=_rfc3339(updated),
            entries=[{
                "id": self.absolute(self.article_site_path(a)) if self.base
                else f"tag:finews,2021:{a.id}",
                "title": a.title or "（无标题）", "url": self.absolute(self.article_site_path(a)),
                "published": _rfc3339(a.published), "updated": _rfc3339(updated_at(a)),
                "outlet": a.outlet or a.category, "category": a.category,
                "html": notes.get(a.key, "") + (_summary_html(a) if summaries else a.html),
            } for a in entries],
        )

    def sitemap(self, urls: list[tuple[str, str]]) -> bytes:
        """Built directly: a sitemap holds up to 50,000 URLs."""
        entries = "".join(
            f"\n<url><loc>{_esc(loc)}</loc>" + (f"<lastmod>{m}</lastmod>" if m else "") + "</url>"
            for loc, m in urls
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{entries}\n</urlset>\n"
        ).encode()

    def sitemap_index(self, sitemaps: list[str]) -> bytes:
        return self._render("sitemap_index.xml", sitemaps=sitemaps)


def updated_at(a: Article) -> datetime:
    """When an article last changed: its publication, unless it was corrected later."""
    return last_change(a.published, a.first_seen, a.last_changed)


def last_change(published: datetime, first_seen: datetime | None,
                last_changed: datetime | None) -> datetime:
    if last_changed and first_seen and last_changed > first_seen:
        return max(last_changed, published)
    return published


def _summary_html(a: Article) -> str:
    return f"<p>{_esc(a.digest or a.title)}</p>"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def static_files() -> list[Path]:
    return [Path(str(p)) for p in resources.files("finews.site").joinpath("static").iterdir()]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)
