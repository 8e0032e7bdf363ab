"""Stories on the site: each list shows a story once, at its newest article in that list.

A build reads the articles of every story of more than one article once (a few hundred
bytes each). An older copy stays in its list's numbered page, where it held its position,
but is not shown there; so pages keep their stable numbering and an article joining a
story rewrites only the pages from its story's oldest member on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from finews.model import Article
from finews.store import Store

STORY_DIRECTORY = "/story/"


def story_path(story: int) -> str:
    return f"{STORY_DIRECTORY}{story}.html"


class StoryIndex:
    """key -> story, and each story's articles oldest first, for one build."""

    def __init__(self, stories: dict[int, list[Article]]):
        self.members = stories
        self.story_of = {a.key: story for story, members in stories.items() for a in members}

    @classmethod
    def load(cls, store: Store) -> StoryIndex:
        return cls(store.story_articles())

    def copies(self, article: Article) -> list[Article]:
        """The story's other articles, oldest first (none for an article alone)."""
        story = self.story_of.get(article.key)
        return [a for a in self.members[story] if a.key != article.key] if story is not None else []

    def outlets(self, story: int) -> list[str]:
        """The outlets that ran the story, in the order they ran it."""
        return list(dict.fromkeys(a.outlet or a.category for a in self.members[story]))

    def badge(self, article: Article) -> tuple[str, str] | None:
        """(story page, label) of an article that has copies."""
        story = self.story_of.get(article.key)
        if story is None:
            return None
        outlets = len(self.outlets(story))
        label = f"{outlets}家媒体报道" if outlets > 1 else f"{len(self.members[story])}篇报道"
        return story_path(story), label

    def hides(self, belongs: Callable[[Article], bool]) -> Callable[[Article], bool]:
        """For a list of the articles ``belongs`` accepts: whether an article is hidden
        there, a newer copy of its story being in the same list."""
        def hidden(article: Article) -> bool:
            story = self.story_of.get(article.key)
            if story is None:
                return False
            return any(a.key > article.key and belongs(a) for a in self.members[story])
        return hidden

    def shown(self, articles: list[Article], belongs: Callable[[Article], bool] = lambda a: True,
              ) -> list[Article]:
        hidden = self.hides(belongs)
        return [a for a in articles if not hidden(a)]


def same_day(article: Article, tz: tzinfo) -> Callable[[Article], bool]:
    day = article.published.astimezone(tz).date()
    return lambda other: other.published.astimezone(tz).date() == day
