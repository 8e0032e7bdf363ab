"""Pairwise precision and recall of a grouping against labels, for the stories tests and
bench/stories.py: every pair of articles is either in one story or not."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import combinations
from pathlib import Path

from finews.model import Article

LABELLED = Path(__file__).parent / "data" / "stories" / "labelled.json"


def labelled_articles() -> tuple[list[Article], dict[str, str]]:
    """The labelled set as articles, and each code's story label."""
    rows = json.loads(LABELLED.read_text(encoding="utf-8"))
    articles = [Article(code=r["code"], title=r["title"], published=datetime.fromisoformat(r["published"]),
                        outlet=r["outlet"], category="", body=r["body"]) for r in rows]
    return articles, {r["code"]: r["group"] for r in rows}


def pairwise(truth: dict[str, str], found: dict[str, object]) -> tuple[float, float, list, list]:
    """(precision, recall, wrongly joined pairs, wrongly separated pairs) over all pairs."""
    joined_right = joined_wrong = missed = 0
    wrong, separated = [], []
    for a, b in combinations(sorted(truth), 2):
        same, grouped = truth[a] == truth[b], found[a] == found[b]
        if same and grouped:
            joined_right += 1
        elif grouped:
            joined_wrong += 1
            wrong.append((a, b))
        elif same:
            missed += 1
            separated.append((a, b))
    precision = joined_right / (joined_right + joined_wrong) if joined_right + joined_wrong else 1.0
    recall = joined_right / (joined_right + missed) if joined_right + missed else 1.0
    return precision, recall, wrong, separated


def stories_by_code(store, *, by_id: bool = False) -> dict[str, int]:
    """code (or stable id) -> story of every article in an archive."""
    keys = {a.key: a.id if by_id else a.code for a in store.summaries()}
    stories = store.story_ids(list(keys))
    return {code: stories.get(key, key) for key, code in keys.items()}
