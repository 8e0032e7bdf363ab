"""Bulk export for analysts: the archive as JSON lines, CSV or Parquet, and back from JSON
lines.

Articles stream in key order, oldest first, a thousand at a time, so memory is that of one
batch whatever the archive's size (Parquet: a row group of 500, which keeps a process with
every field under 200 MB). A file is written under a temporary name and renamed when
complete. Times are ISO 8601 in the site's time
zone; lists (tags, stocks) are lists in JSON and Parquet and space-separated in CSV.
``body`` is the article as its source sent it, ``html`` what the site publishes, ``text``
its plain text; ``stocks`` every security the article names, ``listed`` those its source
listed with it. An import reads ``body`` and ``listed`` and finds the rest again as the
archive did, so what it learned from them (the names of linked securities) comes back too.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from finews.clean import plain_text
from finews.errors import FinewsError
from finews.model import Article
from finews.store import Store

FIELDS = ("id", "code", "published", "outlet", "category", "title", "digest", "url", "page", "tags",
          "stocks", "listed", "important", "story", "source", "body", "html", "text")
DEFAULT_FIELDS = ("id", "published", "outlet", "title", "digest", "url", "page", "stocks", "important")
LISTS = ("tags", "stocks", "listed")
FORMATS = ("jsonl", "csv", "parquet")
BATCH = 1000
ROW_GROUP = 500


def parse_fields(given: str | None) -> tuple[str, ...]:
    """``--fields``: a comma-separated list, ``all``, or the defaults."""
    if not given:
        return DEFAULT_FIELDS
    if given.strip() == "all":
        return FIELDS
    fields = tuple(dict.fromkeys(f.strip() for f in given.split(",") if f.strip()))
    unknown = [f for f in fields if f not in FIELDS]
    if unknown or not fields:
        raise FinewsError(f"unknown field {', '.join(unknown) or '(none given)'}: choose from "
                          f"{', '.join(FIELDS)}, or 'all'")
    return fields


def records(store: Store, tz: ZoneInfo, fields: tuple[str, ...], *, keys: tuple[int, int],
            page: Callable[[Article], str], category: str | None = None,
            stock: str | None = None) -> Iterator[dict]:
    """The chosen fields of every article in the key range (of an outlet, naming a
    security), oldest first, a batch at a time; ``page`` gives an article's address on
    the site (the site owns the layout)."""
    low, high = keys
    with_body = bool({"body", "html", "text"} & set(fields))
    while low <= high:
        batch = store.summaries(keys=(low, high), newest_first=False, limit=BATCH, category=category,
                                stock=stock, with_body=with_body, with_stocks=True)
        if not batch:
            return
        wanted = [a.key for a in batch]
        important = store.importance_of(wanted) if "important" in fields else {}
        listed = {key: [m["secid"] for m in found] for key, found in
                  store.stocks_of(wanted, origin="list").items()} if "listed" in fields else {}
        stories = store.story_ids(wanted) if "story" in fields else {}
        for a in batch:
            yield _record(a, fields, tz, a.key in important, stories.get(a.key, a.key), page,
                          listed.get(a.key, []))
        low = batch[-1].key + 1


def _record(a: Article, fields: tuple[str, ...], tz: ZoneInfo, important: bool, story: int,
            page: Callable[[Article], str], listed: list[str]) -> dict:
    every = {
        "id": lambda: a.id, "code": lambda: a.code,
        "published": lambda: a.published.astimezone(tz).isoformat(), "outlet": lambda: a.outlet,
        "category": lambda: a.category, "title": lambda: a.title, "digest": lambda: a.digest,
        "url": lambda: a.url, "page": lambda: page(a),
        "tags": lambda: list(a.tags), "stocks": lambda: list(a.stocks), "listed": lambda: listed,
        "important": lambda: important,
        "story": lambda: str(story), "source": lambda: a.source, "body": lambda: a.body,
        "html": lambda: a.html,
        "text": lambda: plain_text(a.html),
    }
    return {field: every[field]() for field in fields}


def write(rows: Iterable[dict], out: Path, kind: str, fields: tuple[str, ...], *, bom: bool = False,
          on_row: Callable[[], None] = lambda: None) -> int:
    """Write the rows to ``out`` in ``kind`` (jsonl, csv, parquet); how many."""
    temporary = out.with_name(f".{out.name}.tmp")
    try:
        if kind == "jsonl":
            count = _jsonl(rows, temporary, on_row)
        elif kind == "csv":
            count = _csv(rows, temporary, fields, bom, on_row)
        elif kind == "parquet":
            count = _parquet(rows, temporary, fields, on_row)
        else:
            raise FinewsError(f"unknown export format {kind!r}: choose from {', '.join(FORMATS)}")
        os.replace(temporary, out)
        return count
    finally:
        temporary.unlink(missing_ok=True)


def _jsonl(rows: Iterable[dict], path: Path, on_row: Callable[[], None]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
            on_row()
    return count


def _csv(rows: Iterable[dict], path: Path, fields: tuple[str, ...], bom: bool,
         on_row: Callable[[], None]) -> int:
    """UTF-8; with ``bom``, a byte-order mark first, by which Excel reads it as UTF-8."""
    count = 0
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: " ".join(v) if k in LISTS else v for k, v in row.items()})
            count += 1
            on_row()
    return count


def _parquet(rows: Iterable[dict], path: Path, fields: tuple[str, ...], on_row: Callable[[], None]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise FinewsError("Parquet export needs pyarrow: pip install 'finews[parquet]'") from None
    schema = pa.schema([(f, pa.list_(pa.string()) if f in LISTS else pa.bool_() if f == "important"
                         else pa.string()) for f in fields])
    count = 0
    with pq.ParquetWriter(path, schema, use_dictionary=["outlet", "category", "source"]) as writer:
        group: list[dict] = []
        for row in rows:
            group.append(row)
            count += 1
            on_row()
            if len(group) == ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(group, schema))
                group = []
        if group:
            writer.write_table(pa.Table.from_pylist(group, schema))
    return count


def read_jsonl(path: Path, on_problem: Callable[[str], None]) -> Iterator[Article]:
    """Articles from an export with at least code, title, published and outlet (``--fields
    all`` for everything); a bad line is reported by its number and skipped."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield Article(code=row["code"], title=row["title"],
                              published=datetime.fromisoformat(row["published"]),
                              outlet=row["outlet"], category=row.get("category", ""),
                              tags=row.get("tags", []), body=row.get("body", row.get("html", "")),
                              digest=row.get("digest", ""), url=row.get("url", ""),
                              source=row.get("source", ""), stocks=row.get("listed", []),
                              importance=1 if row.get("important") else 0)
            except KeyError as exc:
                on_problem(f"{path.name}:{number}: no field {exc} (export with --fields all)")
            except (ValueError, TypeError, FinewsError) as exc:
                on_problem(f"{path.name}:{number}: {exc}")
