"""`finews migrate`: SQLite -> PostgreSQL -> SQLite, resumable, verified."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.errors import FinewsError
from finews.fulltext import Query
from finews.store import open_store
from finews.store.base import SourceHealth
from finews.transfer.migrate import migrate
from tests.conftest import make_article
from tests.pg import fresh_postgres_url
from tests.site.conftest import fill


def _everything(store) -> list[tuple]:
    return [
        (a.key, a.id, a.code, a.title, a.published, a.outlet, a.category, a.tags, a.body, a.html,
         a.digest, a.url, a.source, a.first_seen, a.last_changed, a.aliases)
        for a in store.iter_articles()
    ]


@pytest.fixture
def source(tmp_path):
    store = open_store(str(tmp_path / "source.db"))
    fill(store, n=60)
    store.upsert([make_article(5, body="<p>改过的正文</p>", title="第5条 芯片新闻")])  # a recorded change
    store.save_source_health(SourceHealth("eastmoney-724", last_run=5, last_success=5, next_due=9))
    yield store
    store.close()


def test_sqlite_to_postgres_and_back_is_exact(source, tmp_path):
    with fresh_postgres_url() as url, open_store(url) as pg:
        report = migrate(source, pg, batch_size=7)
        assert report.copied == source.count() == pg.count()
        assert _everything(pg) == _everything(source)
        assert pg.dump_state() == source.dump_state()
        assert pg.changes(make_article(5).id) and pg.category_aliases() == source.category_aliases()
        q = Query.parse("芯片")
        found = [h.article.id for h in pg.search(q, limit=None)]
        assert found == [h.article.id for h in source.search(q, limit=None)]
        # the search index is complete and indexed: no separate step
        assert pg.search_ready and pg.integrity_check() == "ok"
        indexes = {name for (name,) in pg.conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'search%grams'")}
        assert {"search_grams_codes", "search_title_grams_codes"} <= indexes
        assert pg.versions(make_article(5).id)[0].body == source.versions(make_article(5).id)[0].body
        with open_store(str(tmp_path / "back.db")) as back:
            migrate(pg, back, batch_size=11)
            assert _everything(back) == _everything(source)
            assert back.dump_state() == source.dump_state()
            assert back.log_position() == back.count()


def test_an_interrupted_migrate_resumes(source, tmp_path):
    with open_store(str(tmp_path / "target.db")) as target:
        calls = []

        def interrupt(n: int) -> None:
            calls.append(n)
            if len(calls) == 3:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            migrate(source, target, batch_size=10, on_batch=interrupt)
        assert target.count() == 30
        report = migrate(source, target, batch_size=10)
        assert report.resumed_after > 0 and report.copied == source.count() - 30
        assert _everything(target) == _everything(source)


def test_a_different_target_fails_verification(source, tmp_path):
    with open_store(str(tmp_path / "other.db")) as other:
        other.upsert([make_article(9999, title="别的文章")])
        with pytest.raises(FinewsError, match="verification failed"):
            migrate(source, other)


def test_cli_migrate(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with fresh_postgres_url() as url:
        result = CliRunner().invoke(cli, ["--database", source.archive.location, "migrate", "--to", url])
        assert result.exit_code == 0, result.output
        assert f"Copied {source.count()} of {source.count()} articles" in result.output
        assert "building the search index" in result.output
        again = CliRunner().invoke(cli, ["--database", source.archive.location, "migrate", "--to", url])
        assert "Copied 0 of" in again.output and again.exit_code == 0
    where = source.archive.location
    same = CliRunner().invoke(cli, ["--database", where, "migrate", "--to", where])
    assert same.exit_code == 1 and "names the archive being copied" in same.output


def test_a_command_indexes_an_archive_from_before_the_search_index(source):
    """The first command to open a PostgreSQL archive made by an older finews indexes it
    (with a progress bar on a terminal) and says so; the next one has nothing to do."""
    with fresh_postgres_url() as url:
        with open_store(url) as pg:
            migrate(source, pg)
            for table in ("search_grams", "search_title_grams"):
                pg.conn.execute(f"DELETE FROM {table}")
                pg.conn.execute(f"DROP INDEX {table}_codes")
            pg.conn.execute("UPDATE meta SET value = '' WHERE key = 'search_grams'")
        first = CliRunner().invoke(cli, ["--database", url, "search", "芯片", "--limit", "3"])
        assert first.exit_code == 0, first.output
        assert f"Indexed {source.count()} articles for search." in first.output
        again = CliRunner().invoke(cli, ["--database", url, "search", "芯片", "--limit", "3"])
        assert again.exit_code == 0 and "Indexed" not in again.output
        with open_store(url) as pg:
            assert pg.search_ready and pg.integrity_check() == "ok"
