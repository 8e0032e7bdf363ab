"""An article's earlier versions: kept compactly, shown as character-level diffs.

When a stored article changes, the version it replaces is kept with the change: its title
as text, its body compressed by zlib with the body that replaced it as a preset
dictionary. An edit of a few characters then costs a few dozen bytes instead of the whole
body, and every version comes back exactly, newest first, each from the one after it.

Diffs compare what a reader sees (the text of the body, not its HTML), with
diff-match-patch and its semantic cleanup, which turns a scatter of one-character matches
into whole changed phrases.
"""

from __future__ import annotations

import html
import zlib
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from diff_match_patch import diff_match_patch

from finews.clean import paragraph_text

WINDOW = 32768
"""zlib looks back at most 32 KB: the preset dictionary is the newer body's last 32 KB."""

DELETE, EQUAL, INSERT = -1, 0, 1


def pack(body: str, newer: str) -> bytes:
    """``body`` compressed against the body that replaced it."""
    packer = zlib.compressobj(9, zdict=_window(newer))
    return packer.compress(body.encode("utf-8", "surrogatepass")) + packer.flush()


def unpack(packed: bytes, newer: str) -> str:
    unpacker = zlib.decompressobj(zdict=_window(newer))
    return (unpacker.decompress(bytes(packed)) + unpacker.flush()).decode("utf-8", "surrogatepass")


def _window(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")[-WINDOW:]


@dataclass
class Version:
    """One version of an article: number 1 is the first stored. ``body`` is None for a
    version replaced before finews kept versions (only the fact of the change is known);
    ``replaced`` is None for the current version."""

    number: int
    title: str
    body: str | None
    since: datetime
    replaced: datetime | None


Diff = list[tuple[int, str]]
"""(DELETE, EQUAL or INSERT, text) runs that turn the older text into the newer."""


def diff(older: str, newer: str) -> Diff:
    engine = diff_match_patch()
    engine.Diff_Timeout = 2.0
    runs = engine.diff_main(older, newer)
    engine.diff_cleanupSemantic(runs)
    return [(op, text) for op, text in runs]


def body_text(body: str) -> str:
    """A body as a reader sees it, a line per paragraph: what a diff compares."""
    return paragraph_text(body)


@dataclass
class Edit:
    """What one change did: from version ``number - 1`` to ``number``."""

    number: int
    at: datetime
    title: Diff
    body: Diff | None
    """None when the older body was not kept."""

    @property
    def inserted(self) -> int:
        return sum(len(t) for op, t in (*self.title, *(self.body or ())) if op == INSERT)

    @property
    def deleted(self) -> int:
        return sum(len(t) for op, t in (*self.title, *(self.body or ())) if op == DELETE)


def edits(versions: list[Version]) -> list[Edit]:
    """The changes between consecutive versions (given oldest first), newest first."""
    found = []
    for older, newer in pairwise(versions):
        assert older.replaced is not None
        body = None
        if older.body is not None and newer.body is not None:
            body = diff(body_text(older.body), body_text(newer.body))
        found.append(Edit(newer.number, older.replaced, diff(older.title, newer.title), body))
    return found[::-1]


def diff_html(runs: Diff) -> str:
    """Escaped HTML: deletions in <del>, insertions in <ins>."""
    tags = {DELETE: "del", INSERT: "ins"}
    return "".join(
        html.escape(text) if op == EQUAL else f"<{tags[op]}>{html.escape(text)}</{tags[op]}>"
        for op, text in runs)


def diff_markup(runs: Diff) -> str:
    """Plain text with git's word-diff markers, for terminals without colour and for pipes:
    [-deleted-] and {+inserted+}."""
    marks = {DELETE: ("[-", "-]"), INSERT: ("{+", "+}"), EQUAL: ("", "")}
    return "".join(marks[op][0] + text + marks[op][1] for op, text in runs)
