"""Stories on the site: each list shows a story once, at its newest article in that list.

An older copy stays in its list's numbered page, where it held its position, but is not
shown there; so pages keep their stable numbering and an article joining a story rewrites
only the pages from its story's oldest member on. A full build reads the articles of every
story of more than one article at once (a few hundred bytes each); a rebuild reads only
those of the articles it renders, batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import tzinfo

from finews.model import Article
from finews.store import Store

STORY_DIRECTORY = "/story/"


def story_path(story: int) -> str:
    return f"{STORY_DIRECTORY}{story}.html"


class StoryIndex:
    """key -> story and each story's articles oldest first, read as a build needs them."""

    def __init__(self, store: Store | None, stories: dict[int, list[Article]] | None = None):
        self.store = store
        self.members: dict[int, list[Article]] = {}
        self._story_of: dict[int, int | None] = {}
        self.complete = stories is not None
        if stories is not None:
            self._add(stories)

    @classmethod
    def load(cls, store: Store) -> StoryIndex:
        """Every story of more than one article: what a full build shows."""
        return cls(store, store.story_articles())

    def _add(self, stories: dict[int, list[Article]]) -> None:
        for story, articles in stories.items():
            if len(articles) > 1:
                self.members[story] = articles
                self._story_of.update((a.key, story) for a in articles)

    def prefetch(self, keys: Iterable[int]) -> None:
        """Read the stories of these articles, in two queries (none for a full index)."""
        if self.complete or self.store is None:
            return
        wanted = [key for key in keys if key not in self._story_of]
        if not wanted:
            return
        stories = self.store.shared_story_ids(wanted)
        self._story_of.update((key, None) for key in wanted)
        missing = sorted({story for story in stories.values() if story not in self.members})
        if missing:
            self._add(self.store.story_articles(missing))

    def story_of(self, key: int) -> int | None:
        """The story of an article with copies, else None."""
        if key not in self._story_of:
            self.prefetch([key])
        return self._story_of.get(key)

    def copies(self, article: Article) -> list[Article]:
        """The story's other articles, oldest first (none for an article alone)."""
        story = self.story_of(article.key)
        return [a for a in self.members[story] if a.key != article.key] if story is not None else []

    def outlets(self, story: int) -> list[str]:
        """The outlets that ran the story, in the order they ran it."""
        return list(dict.fromkeys(a.outlet or a.category for a in self.members[story]))

    def badge(self, article: Article) -> tuple[str, str] | None:
        """(story page, label) of an article that has copies."""
        story = self.story_of(article.key)
        if story is None:
            return None
        outlets = len(self.outlets(story))
        label = f"{outlets}家媒体报道" if outlets > 1 else f"{len(self.members[story])}篇报道"
        return story_path(story), label

    def hides(self, belongs: Callable[[Article], bool]) -> Callable[[Article], bool]:
        """For a list of the articles ``belongs`` accepts: whether an article is hidden
        there, a newer copy of its story being in the same list."""
        def hidden(article: Article) -> bool:
            story = self.story_of(article.key)
            if story is None:
                return False
            return any(a.key > article.key and belongs(a) for a in self.members[story])
        return hidden

    def shown(self, articles: list[Article], belongs: Callable[[Article], bool] = lambda a: True,
              ) -> list[Article]:
        self.prefetch(a.key for a in articles)
        hidden = self.hides(belongs)
        return [a for a in articles if not hidden(a)]


def same_day(article: Article, tz: tzinfo) -> Callable[[Article], bool]:
    day = article.published.astimezone(tz).date()
    return lambda other: other.published.astimezone(tz).date() == day
