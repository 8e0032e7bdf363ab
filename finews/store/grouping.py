"""Stories in the archive: which stored articles are one story (finews.stories decides).

Each article's LSH bands are kept in ``story_bands`` and its story in ``article_stories``
(the key of the story's first article, its lead). A new article is compared with the
articles of the window around it that share a band, in the transaction that stores it;
when it matches articles of several stories, they become one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from finews.clean import html_to_text
from finews.keys import key_range, key_time
from finews.model import Article
from finews.parallel import chunks
from finews.stories import StoryRules, StoryText, same_story

STORY_MIGRATION = """
    CREATE TABLE story_bands (band INTEGER NOT NULL, key BIGINT NOT NULL, PRIMARY KEY (band, key));
    CREATE TABLE article_stories (key BIGINT PRIMARY KEY, story BIGINT NOT NULL);
    CREATE INDEX article_stories_story ON article_stories (story, key)
"""
"""Stories (issue 16): an archive of an older finews has none until `finews stories
--recompute` groups it, in one pass."""


class _Roots:
    """Union-find over story ids; a story is named by its smallest key, the lead."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, node: int) -> int:
        parent = self.parent.setdefault(node, node)
        while parent != node:
            grand = self.parent[parent]
            self.parent[node] = grand
            node, parent = parent, grand
        return node

    def join(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


class StoryGrouping:
    """The store's story tables; mixed into finews.store.sql.Store, whose engine hooks
    (``_x``, ``_xm``, ``_log``) it uses."""

    story_rules: StoryRules = StoryRules()
    _x: Callable[..., Any]
    _xm: Callable[..., Any]
    _log: Callable[..., Any]

    def _story_texts(self, keys: list[int]) -> dict[int, StoryText]:
        """The comparable texts of stored articles, with the securities each names."""
        texts: dict[int, StoryText] = {}
        secids = self._grouping_secids(keys)
        for chunk in chunks(keys, 500):
            for key, title, body, html, outlet in self._x(
                f"SELECT key, title, body, html, outlet FROM articles WHERE key IN "
                f"({','.join('?' * len(chunk))})", chunk,
            ):
                texts[key] = StoryText.of(title, html_to_text(html or body), outlet, secids.get(key, []))
        return texts

    def _grouping_secids(self, keys: list[int]) -> dict[int, list[str]]:
        """The securities an article names by itself (a list, a link, a code in its text):
        not those found by a learned name, which depend on what was stored before it."""
        found: dict[int, list[str]] = {}
        for chunk in chunks(keys, 500):
            for key, secid in self._x(
                f"SELECT key, secid FROM article_securities WHERE origin <> 'name' AND key IN "
                f"({','.join('?' * len(chunk))})", chunk,
            ):
                found.setdefault(key, []).append(secid)
        return found

    def _group(self, rows: list[tuple[int, Article]], *, log: bool = True) -> None:
        """Give newly written articles their stories, in the current transaction; the
        articles already stored whose story gained members are logged, so that the next
        build rewrites their pages."""
        if not self.story_rules.enabled or not rows:
            return
        keys = [key for key, _ in rows]
        secids = self._grouping_secids(keys)
        texts = {key: StoryText.of(a.title, html_to_text(a.html or a.body), a.outlet, secids.get(key, []))
                 for key, a in rows}
        bands = {key: texts[key].bands() for key in keys}
        pairs = self._candidate_pairs(bands)
        stored = sorted({other for _, other in pairs} - set(keys))
        texts.update(self._story_texts(stored))
        threshold = self.story_rules.threshold
        matched = [(key, other) for key, other in pairs if same_story(texts[key], texts[other], threshold)]
        stories = self._stories_of(stored)
        roots = _Roots()
        for key in keys:
            roots.find(key)
        for key, other in matched:
            roots.join(key, stories.get(other, other))
        self._xm("INSERT INTO story_bands VALUES (?, ?) ON CONFLICT DO NOTHING",
                 [(band, key) for key in keys for band in bands[key]])
        self._xm("INSERT INTO article_stories VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                 "SET story = excluded.story", [(key, roots.find(key)) for key in keys])
        renamed = {story: roots.find(story) for story in set(stories.values())}
        self._xm("UPDATE article_stories SET story = ? WHERE story = ?",
                 [(root, story) for story, root in renamed.items() if root != story])
        if log:
            grown = sorted({roots.find(other) for _, other in matched if other not in bands})
            self._log_members(grown, set(keys))

    def _candidate_pairs(self, bands: dict[int, list[int]]) -> list[tuple[int, int]]:
        """(new key, other key) of the articles within the window that share a band with a
        new one: stored ones, and the others of the batch."""
        window = timedelta(days=self.story_rules.window_days)
        pairs: set[tuple[int, int]] = set()
        batch: dict[int, list[int]] = {}
        for key, values in bands.items():
            if not values:
                continue
            when = key_time(key)
            low, high = key_range(when - window, when + window)
            for (other,) in self._x(
                f"SELECT DISTINCT key FROM story_bands WHERE band IN ({','.join('?' * len(values))}) "
                "AND key BETWEEN ? AND ?", (*values, low, high),
            ):
                pairs.add((key, other))
            for value in values:
                for other in batch.get(value, ()):
                    if abs(key_time(other) - when) <= window:
                        pairs.add((key, other))
                batch.setdefault(value, []).append(key)
        return sorted((key, other) for key, other in pairs if key != other)

    def _stories_of(self, keys: Iterable[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        key_list = list(keys)
        for chunk in chunks(key_list, 500):
            found.update(self._x(
                f"SELECT key, story FROM article_stories WHERE key IN ({','.join('?' * len(chunk))})",
                chunk))
        return found

    def _log_members(self, stories: list[int], skip: set[int]) -> None:
        for chunk in chunks(stories, 500):
            for (key,) in self._x(
                f"SELECT key FROM article_stories WHERE story IN ({','.join('?' * len(chunk))}) "
                "ORDER BY key", chunk,
            ).fetchall():
                if key not in skip:
                    self._log("story", key)

    def _ungroup(self, key: int) -> None:
        """Take an article out of its story (it is rewritten or deleted): a story that
        loses its lead is named by its next article; the others are logged."""
        row = self._x("SELECT story FROM article_stories WHERE key = ?", (key,)).fetchone()
        self._x("DELETE FROM story_bands WHERE key = ?", (key,))
        self._x("DELETE FROM article_stories WHERE key = ?", (key,))
        if row is None:
            return
        story = row[0]
        if story == key:
            lead = self._x("SELECT MIN(key) FROM article_stories WHERE story = ?", (key,)).fetchone()[0]
            if lead is None:
                return
            self._x("UPDATE article_stories SET story = ? WHERE story = ?", (lead, key))
            story = lead
        self._log_members([story], {key})

    def _restore_bands(self, articles: list[Article]) -> None:
        """Bands of copied articles (their stories come with the archive's state)."""
        if not self.story_rules.enabled or not articles:
            return
        rows = []
        for a in articles:
            text = StoryText.of(a.title, html_to_text(a.html or a.body), a.outlet)
            rows += [(band, a.key) for band in text.bands()]
        self._xm("INSERT INTO story_bands VALUES (?, ?) ON CONFLICT DO NOTHING", rows)

    # -- the whole archive ---------------------------------------------------------------

    def regroup_stories(self, articles: Iterable[list[Article]],
                        on_batch: Callable[[int], None] = lambda n: None) -> int:
        """Group every article again (new settings, or an archive of an older finews), in
        key order and one transaction per batch, so memory stays that of one batch; the
        next build is a full one. Returns how many stories have more than one article."""
        with self.transaction():
            self._x("DELETE FROM story_bands")
            self._x("DELETE FROM article_stories")
        for batch in articles:
            with self.transaction():
                self._group([(a.key, a) for a in batch], log=False)
            on_batch(len(batch))
        with self.transaction():
            self._x("INSERT INTO meta VALUES ('stories_generation', ?) ON CONFLICT (key) DO UPDATE "
                    "SET value = excluded.value", (str(time.time_ns()),))
        return self.story_count()

    def stories_generation(self) -> str:
        """Changes when the stories were recomputed: the site is then rebuilt whole."""
        row = self._x("SELECT value FROM meta WHERE key = 'stories_generation'").fetchone()
        return row[0] if row else ""

    def story_count(self) -> int:
        """Stories of more than one article."""
        return self._x("SELECT COUNT(*) FROM (SELECT story FROM article_stories GROUP BY story "
                       "HAVING COUNT(*) > 1) s").fetchone()[0]

    def ungrouped_count(self) -> int:
        """Articles stored before the archive had stories, until a recompute."""
        return self._x("SELECT (SELECT COUNT(*) FROM articles) - "
                       "(SELECT COUNT(*) FROM article_stories)").fetchone()[0]

    # -- reading -------------------------------------------------------------------------

    def story_ids(self, keys: list[int]) -> dict[int, int]:
        """The story of each article (by key) that has one."""
        return self._stories_of(keys)

    def story_keys(self, stories: list[int]) -> dict[int, list[int]]:
        """The keys of each story's articles, oldest (the lead) first."""
        found: dict[int, list[int]] = {story: [] for story in stories}
        for chunk in chunks(stories, 500):
            for story, key in self._x(
                f"SELECT story, key FROM article_stories WHERE story IN ({','.join('?' * len(chunk))}) "
                "ORDER BY story, key", chunk,
            ):
                found[story].append(key)
        return found

    def shared_stories(self) -> dict[int, int]:
        """key -> story of every article in a story of more than one article: what a
        site build needs to show each story once (a few bytes per copy)."""
        return dict(self._x(
            "SELECT s.key, s.story FROM article_stories s JOIN (SELECT story FROM article_stories "
            "GROUP BY story HAVING COUNT(*) > 1) m ON m.story = s.story"))
