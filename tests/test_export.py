"""Bulk export for analysts: JSON lines back into a fresh archive give the same API
answers; CSV read back by the csv module, Parquet by pyarrow; the filters; the news view
that datasette and sqlite3 open."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.model import BEIJING
from finews.serve.queries import Archive, Filters
from finews.store import open_store
from tests.conftest import make_article, settings_for
from tests.site.conftest import fill


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FINEWS_DATABASE_URL", raising=False)
    with open_store(str(tmp_path / "finews.db")) as store:
        fill(store)
        store.upsert([make_article(99, stocks=["1.600519"], title="只在列表里的股票")])  # listed, not in text
        store.mark_important([a.id for a in store.summaries(limit=4)])
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def _api(path) -> list[dict]:
    settings = settings_for("", path.parent)
    with open_store(str(path)) as store:
        return Archive(store, settings).articles(Filters(limit=500))["articles"]


def test_jsonl_round_trip_into_a_fresh_archive_gives_the_same_answers(archive, tmp_path):
    result = archive("export", "jsonl", "all.jsonl", "--fields", "all")
    assert result.exit_code == 0 and result.output.startswith("Exported 45 articles to all.jsonl")
    result = archive("--database", "copy.db", "import", "jsonl", "all.jsonl")
    assert "new 45, updated 0, unchanged 0, merged 0, skipped 0" in result.output
    assert _api(tmp_path / "copy.db") == _api(tmp_path / "finews.db")


def test_a_bad_line_is_skipped_and_reported_and_the_rest_land(archive, tmp_path):
    archive("export", "jsonl", "all.jsonl", "--fields", "all")
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    lines.insert(3, '{"code": "x", "title": 1}')
    (tmp_path / "broken.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = archive("--database", "copy.db", "import", "jsonl", "broken.jsonl")
    assert "new 45" in result.output and "skipped 1" in result.output
    assert "skipped broken.jsonl:4: no field 'published' (export with --fields all)" in result.output


def test_csv_opens_with_chinese_intact_and_lists_space_separated(archive, tmp_path):
    assert archive("export", "csv", "news.csv", "--bom").exit_code == 0
    raw = (tmp_path / "news.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())
    with open(tmp_path / "news.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = [json.loads(line) for line in _jsonl(archive, tmp_path)]
    assert [r["title"] for r in rows] == [e["title"] for e in expected]
    assert [r["stocks"] for r in rows] == [" ".join(e["stocks"]) for e in expected]
    assert any("潍柴动力" in r["title"] for r in rows) and any(r["stocks"] for r in rows)


def _jsonl(archive, tmp_path, *options: str) -> list[str]:
    assert archive("export", "jsonl", "check.jsonl", *options).exit_code == 0
    return (tmp_path / "check.jsonl").read_text(encoding="utf-8").splitlines()


def test_parquet_reads_back_as_the_same_rows(archive, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    assert archive("export", "parquet", "news.parquet", "--fields", "all").exit_code == 0
    table = pq.read_table(tmp_path / "news.parquet")
    assert table.to_pylist() == [json.loads(line) for line in _jsonl(archive, tmp_path, "--fields", "all")]


def test_filters_pick_what_the_archive_holds_there(archive, tmp_path):
    with open_store(str(tmp_path / "finews.db")) as store:
        every = list(store.iter_articles())
        named = {a.id for a in store.summaries(stock="0.000338")}
    day = datetime(2025, 3, 11, tzinfo=BEIJING)
    rows = [json.loads(line) for line in _jsonl(archive, tmp_path, "--since", "2025-03-11", "--until",
                                                 "2025-03-12", "--outlet", "南方都市报")]
    assert [r["id"] for r in rows] == [a.id for a in every if a.outlet == "南方都市报"
                                       and day <= a.published < day + timedelta(days=2)] and rows
    by_stock = [json.loads(line)["id"] for line in _jsonl(archive, tmp_path, "--stock", "0.000338")]
    assert set(by_stock) == named and by_stock
    bad = archive("export", "jsonl", "x.jsonl", "--fields", "title,nope")
    assert bad.exit_code == 1 and "Error: unknown field nope: choose from id, code" in bad.output
    assert archive("export", "csv", "x.csv", "--outlet", "不存在").output.startswith(
        "Error: --outlet: no outlet '不存在' in the archive")


def test_the_news_view_opens_in_sqlite3_as_it_is(archive, tmp_path):
    with open_store(str(tmp_path / "finews.db")) as store:
        newest = store.summaries(limit=1, with_stocks=True)[0]
        red = store.importance_of([newest.key])
    db = sqlite3.connect(f"file:{tmp_path / 'finews.db'}?mode=ro", uri=True)
    columns = [c[1] for c in db.execute("PRAGMA table_info(news)")]
    assert columns == ["id", "key", "published", "outlet", "title", "url", "digest", "stocks", "important"]
    row = db.execute("SELECT id, published, outlet, title, stocks, important FROM news ORDER BY key DESC "
                     "LIMIT 1").fetchone()
    assert row[:4] == (newest.id, newest.published.astimezone(BEIJING).isoformat(), newest.outlet,
                       newest.title)
    assert set(row[4].split()) == set(newest.stocks) and row[5] == int(newest.key in red)
    assert db.execute("SELECT COUNT(*) FROM news").fetchone()[0] == 45
    assert db.execute("SELECT COUNT(*) FROM news WHERE stocks <> ''").fetchone()[0] > 0
    db.close()
