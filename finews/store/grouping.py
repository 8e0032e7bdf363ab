"""Stories in the archive: which stored articles are one story (finews.stories decides).

Each article's LSH bands are kept in ``story_bands`` and its story in ``article_stories``
(the key of the story's first article, its lead). A new article is compared with the
articles of the window around it that share a band, in the transaction that stores it;
when it matches articles of several stories, they become one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
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
STORY_BANDS_MIGRATION = """
    DROP TABLE story_bands;
    CREATE TABLE story_bands (
        week INTEGER NOT NULL, band INTEGER NOT NULL, key BIGINT NOT NULL,
        PRIMARY KEY (week, band, key)
    );
    DELETE FROM article_stories
"""
"""Bands filed by week: a band value is random, so with the band first every new article
wrote 24 random places of an index as large as the archive, and grouping cost 1.5 ms an
article at 100,000 instead of 0.8 at 3,000. By week, new articles write where the last
days are. The stories are computed again (`finews stories --recompute`)."""
WEEK = 7 * 86400
RECENT_TEXTS = 4096


def _week(key: int) -> int:
    return int(key_time(key).timestamp()) // WEEK


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
    _texts: OrderedDict[int, StoryText] | None = None
    _x: Callable[..., Any]
    _xm: Callable[..., Any]
    _log_keys: Callable[..., Any]

    def _story_texts(self, keys: list[int]) -> dict[int, StoryText]:
        """The comparable texts of stored articles, with the securities each names: from
        the texts of the articles this store grouped last (a collector's new articles are
        mostly copies of recent ones), else read and normalised again."""
        recent = self._recent_texts()
        texts = {key: recent[key] for key in keys if key in recent}
        keys = [key for key in keys if key not in texts]
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
        fresh = dict(texts)
        bands = {key: texts[key].bands() for key in keys}
        pairs = self._candidate_pairs(bands)
        stored = sorted({other for _, other in pairs} - set(keys))
        stories = self._stories_of(stored)
        texts.update(self._story_texts(stored))
        matched = self._matches(pairs, texts, stories)
        roots = _Roots()
        for key in keys:
            roots.find(key)
        for key, other in matched:
            roots.join(key, stories.get(other, other))
        weeks = {key: _week(key) for key in keys}
        self._file_bands([(weeks[key], band, key) for key in keys for band in bands[key]])
        self._xm("INSERT INTO article_stories VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                 "SET story = excluded.story", [(key, roots.find(key)) for key in keys])
        renamed = {story: roots.find(story) for story in set(stories.values())}
        self._xm("UPDATE article_stories SET story = ? WHERE story = ?",
                 [(root, story) for story, root in renamed.items() if root != story])
        self._remember_texts(fresh)
        if log:
            grown = sorted({roots.find(other) for _, other in matched if other not in bands})
            self._log_members(grown, set(keys))

    def _matches(self, pairs: list[tuple[int, int]], texts: dict[int, StoryText],
                 stories: dict[int, int]) -> list[tuple[int, int]]:
        """The candidate pairs that are copies of one report. Once a new article matches
        an article of a stored story, the story's other articles need no comparing: it
        joins the story either way."""
        threshold = self.story_rules.threshold
        joined: set[tuple[int, int]] = set()
        matched = []
        for key, other in pairs:
            story = stories.get(other)
            if story is not None and (key, story) in joined:
                continue
            if same_story(texts[key], texts[other], threshold):
                matched.append((key, other))
                if story is not None:
                    joined.add((key, story))
        return matched

    def _recent_texts(self) -> OrderedDict[int, StoryText]:
        if self._texts is None:
            self._texts = OrderedDict()
        return self._texts

    def _remember_texts(self, texts: dict[int, StoryText]) -> None:
        """Keep the texts of the last RECENT_TEXTS articles grouped (a few MB); a
        transaction rolled back leaves texts of keys that are not stored, which no
        candidate can name."""
        recent = self._recent_texts()
        recent.update(texts)
        while len(recent) > RECENT_TEXTS:
            recent.popitem(last=False)

    def _candidate_pairs(self, bands: dict[int, list[int]]) -> list[tuple[int, int]]:
        """(new key, other key) of the articles within the window that share a band with a
        new one: stored ones, and the others of the batch. One query per week the batch
        falls in (a query per article cost 12 ms on PostgreSQL)."""
        window = timedelta(days=self.story_rules.window_days)
        pairs: set[tuple[int, int]] = set()
        by_week: dict[int, list[int]] = {}
        for key, values in bands.items():
            if values:
                by_week.setdefault(_week(key), []).append(key)
        for keys in by_week.values():
            times = {key: key_time(key) for key in keys}
            low, high = key_range(min(times.values()) - window, max(times.values()) + window)
            weeks = list(range(_week(low), _week(high) + 1))
            holders: dict[int, list[int]] = {}
            for key in keys:
                for value in bands[key]:
                    holders.setdefault(value, []).append(key)
            for band, other in self._band_holders(weeks, sorted(holders)):
                when = key_time(other)
                pairs.update((key, other) for key in holders[band]
                             if abs(times[key] - when) <= window)
        batch: dict[int, list[int]] = {}
        for key, values in bands.items():
            when = key_time(key)
            for value in values:
                for other in batch.get(value, ()):
                    if abs(key_time(other) - when) <= window:
                        pairs.add((key, other))
                batch.setdefault(value, []).append(key)
        return sorted((key, other) for key, other in pairs if key != other)

    def _band_holders(self, weeks: list[int], bands: list[int]) -> Iterator[tuple[int, int]]:
        """(band, key) of the stored articles of these weeks that have one of the bands."""
        for chunk in chunks(bands, 400):
            yield from self._x(
                f"SELECT band, key FROM story_bands WHERE week IN ({','.join('?' * len(weeks))}) "
                f"AND band IN ({','.join('?' * len(chunk))})", (*weeks, *chunk))

    def _stories_of(self, keys: Iterable[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        key_list = list(keys)
        for chunk in chunks(key_list, 500):
            found.update(self._x(
                f"SELECT key, story FROM article_stories WHERE key IN ({','.join('?' * len(chunk))})",
                chunk))
        return found

    def _log_members(self, stories: list[int], skip: set[int]) -> None:
        """Log one ``story`` entry per story (its lead, unless in ``skip``): a build
        rewrites the pages of every article of a logged story, which all show it."""
        self._log_keys("story", sorted(set(stories) - skip))

    def _ungroup(self, key: int) -> None:
        """Take an article out of its story (it is rewritten or deleted): a story that
        loses its lead is named by its next article; the others are logged."""
        self._recent_texts().pop(key, None)
        row = self._x("SELECT story FROM article_stories WHERE key = ?", (key,)).fetchone()
        self._x("DELETE FROM story_bands WHERE week = ? AND key = ?", (_week(key), key))
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
            week = _week(a.key)
            rows += [(week, band, a.key) for band in text.bands()]
        self._file_bands(rows)

    def _file_bands(self, rows: list[tuple[int, int, int]]) -> None:
        """(week, band, key) rows, about 24 an article."""
        self._xm("INSERT INTO story_bands VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows)

    # -- the whole archive ---------------------------------------------------------------

    def regroup_stories(self, articles: Iterable[list[Article]],
                        on_batch: Callable[[int], None] = lambda n: None) -> int:
        """Group every article again (new settings, or an archive of an older finews), in
        key order and one transaction per batch, so memory stays that of one batch; the
        next build is a full one. Returns how many stories have more than one article."""
        self._texts = None
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

    def shared_story_ids(self, keys: list[int]) -> dict[int, int]:
        """The story of each article (by key) that has copies."""
        found: dict[int, int] = {}
        for chunk in chunks(keys, 500):
            found.update(self._x(
                f"SELECT s.key, s.story FROM article_stories s WHERE s.key IN ({','.join('?' * len(chunk))}) "
                "AND EXISTS (SELECT 1 FROM article_stories t WHERE t.story = s.story AND t.key <> s.key)",
                chunk))
        return found
