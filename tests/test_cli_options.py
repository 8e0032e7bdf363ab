"""Every command takes --config and --database, before or after its name; an archive's
location is read one way everywhere (the run lock included); PostgreSQL problems are one
line on stderr with exit code 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finews.run import archive_lock
from finews.store import ArchiveURL, driver_error_message, open_store
from tests.conftest import make_article

POSTGRES = os.environ.get("FINEWS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def finews(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "FINEWS_DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "finews", *args], cwd=cwd, capture_output=True,
                          text=True, env={**environment, **(env or {})}, timeout=120)


@pytest.fixture
def archive(tmp_path):
    with open_store(str(tmp_path / "news.db")) as store:
        store.upsert([make_article(1), make_article(2)])
    return tmp_path / "news.db"


@pytest.mark.parametrize("place", ["before", "after"])
def test_database_before_or_after_the_command(tmp_path, archive, place):
    options = ["--database", str(archive)]
    args = [*options, "stats", "--json"] if place == "before" else ["stats", "--json", *options]
    result = finews(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["articles"] == 2


@pytest.mark.parametrize("place", ["before", "after"])
def test_config_before_or_after_the_command(tmp_path, archive, place):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "my.toml").write_text('[archive]\ndatabase_url = "../news.db"\n')
    options = ["--config", "conf/my.toml"]
    args = [*options, "stats", "--json"] if place == "before" else ["stats", "--json", *options]
    result = finews(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["articles"] == 2


def test_every_command_takes_both_options():
    from finews.cli import cli

    def commands(group, prefix=()):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from commands(command, (*prefix, name))
            if not hasattr(command, "commands") or command.invoke_without_command:
                yield (*prefix, name), command

    found = list(commands(cli))
    assert len(found) == 22
    for name, command in found:
        options = {opt for param in command.params for opt in param.opts}
        assert {"--config", "--database"} <= options, name
        assert "Example:" in (command.help or ""), name


def test_the_option_after_the_command_wins(tmp_path, archive):
    with open_store(str(tmp_path / "other.db")) as store:
        store.upsert([make_article(5)])
    result = finews("--database", "other.db", "stats", "--json", "--database", "news.db", cwd=tmp_path)
    assert json.loads(result.stdout)["articles"] == 2


@pytest.mark.parametrize("spelling", ["plain", "sqlite-url", "relative to the config file", "absolute"])
def test_the_run_lock_holds_for_every_spelling_of_an_archive(tmp_path, archive, spelling):
    (tmp_path / "conf").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = tmp_path / "conf" / "finews.toml"
    config.write_text('[archive]\ndatabase_url = "../news.db"\n[[sources]]\nname = "x"\n'
                      'kind = "feed"\nurl = "http://127.0.0.1:9/feed.xml"\n')
    args = {
        "plain": ["--config", str(config), "--database", "../news.db"],
        "sqlite-url": ["--config", str(config), "--database", "sqlite:///../news.db"],
        "relative to the config file": ["--config", str(config)],
        "absolute": ["--config", str(config), "--database", str(archive)],
    }[spelling]
    with archive_lock(ArchiveURL.parse(str(archive))):
        result = finews(*args, "run", "--passes", "1", "--no-build", cwd=elsewhere)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: another 'finews run'") and str(os.getpid()) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_archive_urls_are_read_one_way():
    root = Path("/srv/news")
    assert ArchiveURL.parse("a.db", root).location == "/srv/news/a.db"
    assert ArchiveURL.parse("sqlite:///a.db", root).location == "/srv/news/a.db"
    assert ArchiveURL.parse("sqlite:////data/a.db", root).location == "/data/a.db"
    pg = ArchiveURL.parse("postgresql://user:secret@db/news", root)
    assert (pg.kind, pg.redacted) == ("postgresql", "postgresql://user@db/news")
    with pytest.raises(Exception, match="unsupported database URL"):
        ArchiveURL.parse("mysql://db/news", root)


def test_postgresql_without_its_driver_is_one_line(tmp_path):
    """What `finews stats` says when psycopg is not installed."""
    code = ("import sys; sys.modules['psycopg'] = None; sys.argv = ['finews', 'stats']; "
            "from finews.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "FINEWS_DATABASE_URL": "postgresql://nobody@127.0.0.1/x"})
    assert result.returncode == 1
    assert result.stderr == "Error: PostgreSQL support is not installed: pip install 'finews[postgres]'\n"


def test_an_unreachable_postgresql_server_is_one_line(tmp_path):
    result = finews("--database", "postgresql://nobody@127.0.0.1:9/x", "stats", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot connect to the PostgreSQL archive postgresql://nobody@127.0.0.1:9/x")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_postgresql_error_mid_command_is_one_line():
    psycopg = pytest.importorskip("psycopg")
    try:
        connection = psycopg.connect(POSTGRES, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL server")
    with connection, pytest.raises(psycopg.Error) as caught:
        connection.execute("SELECT * FROM no_such_table_here")
    message = driver_error_message(caught.value)
    assert message.startswith('PostgreSQL archive error: relation "no_such_table_here" does not exist')
    assert "\n" not in message
