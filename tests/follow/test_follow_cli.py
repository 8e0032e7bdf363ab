"""`finews watch`, `finews watch test`, `finews notify --once` and the notification targets
in `finews sources`, as a user sees them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.follow import IMPORTANT
from finews.model import BEIJING
from finews.store import open_store
from tests.conftest import make_article, settings_for


@pytest.fixture
def project(tmp_path, monkeypatch, receiver):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FINEWS_DATABASE_URL", raising=False)
    config = f"""
[[watch]]
name = "chips"
query = "芯片 OR 半导体"
notify = ["{receiver.url}"]

[[watch]]
name = "down"
important = true
notify = ["json://127.0.0.1:9/nothing-listens"]
"""
    (tmp_path / "finews.toml").write_text(config)
    settings = settings_for(config, tmp_path)
    now = datetime.now(BEIJING).replace(microsecond=0)
    with open_store(str(tmp_path / "finews.db"), follow=settings.follow) as store:
        store.upsert([
            make_article(1, title="芯片新闻", published=now - timedelta(minutes=30)),
            make_article(2, title="半导体新闻", published=now - timedelta(minutes=20), importance=IMPORTANT),
            make_article(3, title="银行新闻", published=now - timedelta(minutes=10)),
        ], notify=True)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False), now


def test_watch_lists_each_watch_with_its_latest_matches(project):
    run, now = project
    result = run("watch")
    assert result.exit_code == 0
    when = (now - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M")
    assert result.output.splitlines()[:3] == [
        "chips: query '芯片 OR 半导体', notifies 1 target(s)",
        f"  ★ {when}  南方都市报  半导体新闻",
        f"  {(now - timedelta(minutes=30)).strftime('%Y-%m-%d %H:%M')}  南方都市报  芯片新闻",
    ]
    assert "down: every article, important only, notifies 1 target(s)" in result.output


def test_watch_test_shows_matches_and_exits_4_without(project, tmp_path):
    run, _ = project
    result = run("watch", "test", "chips")
    assert result.exit_code == 0 and result.output.splitlines()[-1] == "2 matches"
    missing = run("watch", "test", "nope")
    assert missing.exit_code == 1
    assert "Error: no watch named 'nope' (known: chips, down); add [[watch]] to finews.toml" in missing.output


def test_notify_once_sends_reports_and_exits_3_while_a_target_fails(project, receiver):
    run, _ = project
    result = run("notify", "--once")
    assert result.exit_code == 3
    assert result.output == "Notifications: 2 sent, 0 in digests, 1 to retry, 0 dropped\n"
    assert sorted(m["title"] for m in receiver.messages) == ["[chips] 半导体新闻", "[chips] 芯片新闻"]
    targets = json.loads(run("sources", "--json").output)[-2:]
    assert [(t["name"].rsplit(":", 1)[0], t["target"].split(":")[0], t["pending"],
             t["consecutive_failures"], t["healthy"]) for t in targets] == [
        ("notify:chips", "json", 0, 0, True), ("notify:down", "json", 1, 1, False)]
    assert targets[1]["target"] == "json://127.0.0.1:9/…"
    assert targets[1]["last_error"] == "A Connection error occurred sending JSON notification to 127.0.0.1."
    table = run("sources").output
    assert "Notification targets" in table and "notify:down" in table
