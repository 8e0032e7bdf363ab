"""The commands that collect: fetch, run and sources, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.mocknews import fixture_sources_toml
from finews.run import archive_lock
from finews.store import open_store


@pytest.fixture
def project(tmp_path, monkeypatch, mock_news):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FINEWS_DATABASE_URL", raising=False)
    (tmp_path / "finews.toml").write_text(fixture_sources_toml(mock_news.base), encoding="utf-8")
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_fetch_prints_a_summary_per_source(project):
    result = invoke("fetch")
    assert result.exit_code == 0, result.output
    for column in ("listed", "new", "updated", "unchanged", "failed", "seconds"):
        assert column in result.output
    assert "legacy-45" in result.output
    assert "0 failed." in result.output
    again = invoke("fetch", "fast", "yaowen")
    assert again.exit_code == 0
    assert "0 new articles from 2 sources" in again.output


def test_fetch_exits_3_when_a_source_fails(project, mock_news):
    with (project / "finews.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[sources]]\nname = "dead"\nkind = "feed"\nurl = "{mock_news.base}/nope.xml"\n')
    result = invoke("fetch")
    assert result.exit_code == 3
    assert "HTTP 404" in result.output
    sources = json.loads(invoke("sources", "--json").output)
    dead = next(s for s in sources if s["name"] == "dead")
    assert dead["consecutive_failures"] == 1 and "404" in dead["last_error"]
    fine = next(s for s in sources if s["name"] == "fast")
    assert fine["last_success"] and fine["items_last_run"] == 34
    assert "Sources" in invoke("sources").output


def test_fetch_unknown_source_is_a_clear_error(project):
    result = invoke("fetch", "nope")
    assert result.exit_code == 1
    assert "unknown source nope (configured: fast, yaowen" in result.output


def test_run_passes_and_after_hook(project):
    result = invoke("run", "--passes", "1", "--after", "echo hook-ran > hook.txt")
    assert result.exit_code == 0, result.output
    assert (project / "hook.txt").read_text().strip() == "hook-ran"
    assert "Stopped." in result.output
    with open_store(str(project / "finews.db")) as store:
        assert store.count() > 100


def test_a_second_run_on_the_same_archive_is_refused(project):
    with archive_lock(str(project / "finews.db")):
        result = invoke("run", "--passes", "1")
    assert result.exit_code == 1
    assert "another 'finews run'" in result.output and str(os.getpid()) in result.output


def test_sigterm_finishes_cleanly(project):
    process = subprocess.Popen(
        [sys.executable, "-m", "finews", "run", "--every", "1h"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if (project / "finews.db").exists():
            with open_store(str(project / "finews.db")) as store:
                if len(store.source_health()) >= 15:
                    break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Stopped." in out
    with open_store(str(project / "finews.db")) as store:
        assert store.integrity_check() == "ok"
        assert store.count() > 100
