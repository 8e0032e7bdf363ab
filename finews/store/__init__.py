"""The archive: every article once, behind one small interface."""

from __future__ import annotations

import sqlite3
import sys

from finews.follow import FollowRules
from finews.store.sql import Store
from finews.store.url import ArchiveURL
from finews.stories import StoryRules


def open_store(archive: ArchiveURL | str, category_overrides: dict[str, str] | None = None,
               stories: StoryRules | None = None, follow: FollowRules | None = None) -> Store:
    """Open the archive; a plain string is parsed as ``ArchiveURL.parse`` does. ``stories``:
    how new articles are grouped (the defaults without it); ``follow``: the watches and
    importance rules new articles are matched against (none without it)."""
    if not isinstance(archive, ArchiveURL):
        archive = ArchiveURL.parse(archive)
    if archive.is_sqlite:
        from finews.store.sqlite import SQLiteStore

        store: Store = SQLiteStore(archive, category_overrides)
    else:
        from finews.store.postgres import PostgresStore

        store = PostgresStore(archive, category_overrides)
    if stories is not None:
        store.story_rules = stories
    if follow is not None:
        store.follow_rules = follow
    return store


def driver_error_message(exc: BaseException) -> str | None:
    """One line for a database driver's own error (raised by the archive mid-command),
    or None when ``exc`` is no such error."""
    if isinstance(exc, sqlite3.DatabaseError):
        return (f"archive error: {exc}. Check the archive with "
                "'sqlite3 FILE \"PRAGMA integrity_check\"'")
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"PostgreSQL archive error: {first}. Is the server running and the URL right?"
    return None


__all__ = ["ArchiveURL", "Store", "driver_error_message", "open_store"]
