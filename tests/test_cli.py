from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from finews.cli import cli

POSTS = Path(__file__).parent / "data" / "jekyll-posts"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FINEWS_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_init_writes_a_config_that_loads(run, tmp_path):
    result = run("init")
    assert result.exit_code == 0
    assert (tmp_path / "finews.toml").exists()
    assert run("init").exit_code == 1
    assert run("stats").exit_code == 0


def test_import_export_stats(run, tmp_path):
    result = run("import", "jekyll", str(POSTS))
    assert result.exit_code == 0, result.output
    assert "read 15, new 14, updated 0, unchanged 0, merged 1, skipped 0" in result.output
    assert (tmp_path / "finews.db").exists()
    stats = json.loads(run("stats", "--json").output)
    assert stats["articles"] == 14
    assert {"slug": "cailianshe", "outlet": "财联社", "articles": 1} in stats["categories"]
    assert stats["first"].startswith("2021-12-01T13:33:50+08:00")
    (tmp_path / "finews.toml").write_text('[site]\nbase_url = "//finews.withounder.com/"\n')
    result = run("export", "jekyll", "out")
    assert result.exit_code == 0
    assert "Exported 14 posts" in result.output
    name = "2022-01-07-NW202201072239307540.md"
    assert (tmp_path / "out" / name).read_bytes() == (POSTS / name).read_bytes()
    table = run("stats").output
    assert "cailianshe" in table and "14 articles" in table


def test_missing_path_is_one_clear_line(run):
    result = run("import", "jekyll", "nowhere")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no such file or folder: nowhere"


def test_corrupt_database_is_one_clear_line(run, tmp_path):
    (tmp_path / "bad.db").write_bytes(b"garbage" * 1000)
    result = run("--database", "bad.db", "stats")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "not a finews archive or is damaged" in result.output


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[site]\ntitle = 3\n", "site.title: expected a string, got 3"),
        ("[site]\ntitel = 'x'\n", "unknown setting site.titel"),
        ("[jekyll]\nrolling_categories = 'emnews'\n", "jekyll.rolling_categories: expected a list"),
        ("[site]\ntimezone = 'Mars/Olympus'\n", "site.timezone: unknown time zone"),
        ("site = [", "invalid TOML"),
        ("[categories]\n'南方都市报' = 'Nan Du'\n", "not a valid slug"),
    ],
)
def test_bad_config_names_the_key_and_the_expected_type(run, tmp_path, config, message):
    (tmp_path / "finews.toml").write_text(config, encoding="utf-8")
    result = run("stats")
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_database_from_environment(run, tmp_path, monkeypatch):
    monkeypatch.setenv("FINEWS_DATABASE_URL", str(tmp_path / "env.db"))
    run("import", "jekyll", str(POSTS / "2021-12-01-init.md"))
    assert (tmp_path / "env.db").exists()


def test_help_lists_every_command(run):
    output = run("--help").output
    for command in ("init", "import", "export", "stats", "fetch", "run", "build", "search", "serve", "demo"):
        assert command in output
    assert "Import Jekyll posts" in run("import", "jekyll", "--help").output


def test_python_dash_m(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "finews", "--version"], capture_output=True, text=True, check=True
    )
    assert "finews" in result.stdout


def test_search(run):
    run("import", "jekyll", str(POSTS))
    result = run("search", "十四五", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)["articles"]
    assert [h["title"] for h in hits] == ["推进十四五农业农村现代化建设目标公布"]
    assert "<mark>十四五</mark>" in hits[0]["snippet"]
    table = run("search", "的", "--limit", "3")
    assert table.exit_code == 0 and "3 articles (more: raise --limit)" in table.output
    assert run("search", "十四五", "--outlet", "东财滚动", "--since", "2021-12-08").exit_code == 0
    assert run("search", "十四五", "--outlet", "emnews", "--until", "2021-12-07").exit_code == 4
    assert run("search", "这个词不存在于任何文章").exit_code == 4


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "yesterday"], "--since: 'yesterday' is not a date"),
    (["--limit", "0"], "--limit: must be between 1 and 500"),
    (["--outlet", "不存在"], "--outlet: no outlet"),
])
def test_search_errors_are_one_line(run, args, message):
    run("import", "jekyll", str(POSTS))
    result = run("search", "十四五", *args)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {message}"), result.output
    assert run("search", "***").output.startswith("Error: search query '***' has nothing to search for")


def test_build_warns_until_an_archive_stored_without_stories_is_grouped(run, tmp_path):
    (tmp_path / "finews.toml").write_text("[stories]\nenabled = false\n")
    assert run("import", "jekyll", str(POSTS)).exit_code == 0
    (tmp_path / "finews.toml").write_text('[site]\nbase_url = "https://news.example.com"\n')
    result = run("build")
    assert result.exit_code == 0
    assert ("Warning: 14 articles have no story yet (stored by an older finews), so their copies "
            "are listed apart: run 'finews stories --recompute'") in result.output
    assert "14 articles, " in run("stories", "--recompute").output
    assert "Warning" not in run("build").output


def test_build_warns_that_links_are_relative_without_a_base_url(run, tmp_path):
    assert run("import", "jekyll", str(POSTS)).exit_code == 0
    result = run("build", "--no-search")
    assert result.exit_code == 0
    warning = ("Warning: site.base_url is empty, so feed and sitemap links are relative (a sitemap needs "
               'absolute ones): set it in finews.toml, e.g. base_url = "https://news.example.com"')
    assert warning in result.output
