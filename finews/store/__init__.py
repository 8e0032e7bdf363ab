"""The archive: every article once, behind one small interface."""

from __future__ import annotations

from finews.errors import FinewsError
from finews.store.base import Store


def open_store(url: str, category_overrides: dict[str, str] | None = None) -> Store:
    """Open the archive named by a path, ``sqlite:///path`` or ``postgresql://…``."""
    if url.startswith(("postgresql://", "postgres://")):
        from finews.store.postgres import PostgresStore

        return PostgresStore(url, category_overrides)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    elif "://" in url:
        raise FinewsError(
            f"unsupported database URL {url!r}: use a file path, sqlite:///path or postgresql://…"
        )
    from finews.store.sqlite import SQLiteStore

    return SQLiteStore(url, category_overrides)


__all__ = ["Store", "open_store"]
