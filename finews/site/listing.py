"""An outlet's, a tag's or a security's listing, written in one pass over its articles,
oldest first."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from datetime import tzinfo

from finews.model import Article
from finews.site.output import Output
from finews.site.pages import Renderer


def _span(items: list[Article], tz: tzinfo) -> str:
    """A page's days, oldest to newest: what names it for good, where a number counted
    from the newest would change with every page of news."""
    if not items:
        return "空"
    first, last = (a.published.astimezone(tz).date().isoformat() for a in (items[0], items[-1]))
    return first if first == last else f"{first} 至 {last}"


class Listing:
    """One listing (an outlet's, a tag's) written from its articles oldest first: a front
    page of the newest and numbered pages counted from the oldest, so that news arriving at
    the top leaves the older pages as they were. A numbered page is written as soon as the
    article after it arrives; the last holds the newest few.

    ``position`` is the index (oldest first) of the next article to arrive, ``skip`` the
    first index whose page is rewritten: a rebuild reads from just far enough back to fill
    the front page and rewrites only the pages its changes touch."""

    def __init__(self, out: Output, renderer: Renderer, write: Callable[[str, bytes], None],
                 per_page: int, *, heading: str, page_path: Callable[[int | None], str],
                 feed: str | None = None, show_outlet: bool = True,
                 subheading: Callable[[int], str] = "共 {} 篇".format,
                 intro: Callable[[Listing], str] | None = None, keep: int = 0,
                 hides: Callable[[Article], bool] | None = None, stream: bool = False):
        """``subheading`` is given the count; ``intro`` the closed listing, for what its
        front page shows above the items; ``keep``: how many of the newest articles
        ``newest`` holds at least (a feed written from the listing); ``hides``: whether
        an article keeps its position but is not shown (an older copy of a story);
        ``stream``: items in the 7×24 layout, time and text inline (a flash outlet)."""
        self.out, self.renderer, self.write = out, renderer, write
        self.heading, self.page_path, self.feed = heading, page_path, feed
        self.show_outlet = show_outlet
        self.subheading, self.intro = subheading, intro
        self.per_page = per_page
        self.hides = hides
        self.stream = stream
        self.position = 0
        self.skip = 0
        self.page: list[Article] = []
        self.newest: deque[Article] = deque(maxlen=max(per_page, keep))

    def add(self, article: Article) -> None:
        shown = self.hides is None or not self.hides(article)
        if shown:
            self.newest.append(article)
        if self.position >= self.skip:
            if self.position > self.skip and self.position % self.per_page == 0:
                self._numbered(self.position // self.per_page, self.page, last=False)
                self.page = []
            if shown:
                self.page.append(article)
        self.position += 1

    def close(self) -> None:
        total, per_page, renderer = self.position, self.per_page, self.renderer
        blocks = math.ceil(total / per_page)
        if self.position > self.skip and blocks > 1:  # one block: the front page shows it all, and links none
            self._numbered(blocks, self.page, last=True)
        older = (total - per_page - 1) // per_page + 1 if total > per_page else None
        self.write(self.page_path(None), renderer.listing(
            self.heading, list(reversed(self.newest))[:per_page], subheading=self.subheading(total),
            intro=self.intro(self) if self.intro else None,
            feed=renderer.href(self.feed) if self.feed else None,
            older=renderer.href(self.page_path(older)) if older else None,
            blocks=self._reader_pages(older) if older else None, show_outlet=self.show_outlet,
            stream=self.stream,
        ))
        prefix = self.page_path(1).rsplit("/", 1)[0] + "/"
        for path in self.out.paths_with_prefix(prefix):
            number = path[len(prefix):-5]
            if number.isdigit() and (int(number) > blocks or blocks == 1):
                self.out.remove(path)

    def _reader_pages(self, older: int) -> list[dict]:
        """The page links as a reader counts them, newest first: the front page is 1, the
        page just older than it 2, and so on (a file keeps its number from the oldest, so
        that arriving news leaves it as it was); the blocks whose articles are all on the
        front page are left out."""
        front = {"href": self.renderer.href(self.page_path(None)), "label": "1", "current": True}
        return [front, *({"href": self.renderer.href(self.page_path(k)), "label": str(older - k + 2),
                          "current": False} for k in range(older, 0, -1))]

    def _numbered(self, k: int, items: list[Article], last: bool) -> None:
        renderer = self.renderer
        newer = self.page_path(None) if last else self.page_path(k + 1)
        self.write(self.page_path(k), renderer.listing(
            f"{self.heading}（{_span(items, renderer.tz)}）", items[::-1], newer=renderer.href(newer),
            older=renderer.href(self.page_path(k - 1)) if k > 1 else None,
            show_outlet=self.show_outlet, stream=self.stream,
        ))
