"""Revisions: a changed article keeps every earlier version, compactly, on both backends;
the collector notices an edit its source's list shows; the site, the API and `finews
history` show each change as a character diff."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from finews.cli import cli
from finews.collect import Collector
from finews.mocknews import MockNews, MockNewsServer, column_sources_toml
from finews.model import BEIJING
from finews.revisions import edits, pack, unpack
from finews.serve.app import create_app
from finews.store import open_store
from finews.transfer import jekyll
from tests.conftest import make_article, settings_for
from tests.site.conftest import REVISED, build, fill, revise, sample_settings


@given(st.text(), st.text())
def test_a_packed_body_comes_back_exactly(body, newer):
    assert unpack(pack(body, newer), newer) == body


def test_a_small_edit_costs_a_few_bytes():
    body = "<p>" + "央行宣布下调存款准备金率，释放长期资金约一万亿元。" * 60 + "</p>"
    edited = body.replace("一万亿元", "1.2万亿元", 1)
    assert len(body.encode()) > 4000 and len(pack(body, edited)) < 80


@pytest.fixture
def world():
    news = MockNews(columns=1, seed=3)
    news.publish(30)
    server = MockNewsServer(news).start()
    news.url = server.url
    yield news
    server.stop()


def test_the_collector_keeps_each_edit_the_list_shows(world, tmp_path):
    """Three edits by the desk, each collected: the archive holds four versions, and each
    diff is exactly the edit."""
    settings = settings_for("[fetch]\nmin_interval = 0\nretries = 1\n" +
                            column_sources_toml(world.url, 1, page_size=20, max_pages=5), tmp_path)
    db = tmp_path / "a.db"

    def collect():
        with open_store(str(db)) as store:
            return asyncio.run(Collector(store, settings).run(settings.sources))

    collect()
    target = world.column(0)[3]
    original = target.paragraphs[0]
    leads = []
    for lead in ["更正：", "更正：据最新消息，", "再次更正："]:
        world.revise(target.code, lead)
        leads.append(target.paragraphs[0])
        fetched = world.bodies[target.code]
        collect()
        assert world.bodies[target.code] == fetched + 1, "the edited article is fetched again"
    with open_store(str(db)) as store:
        versions = store.versions(target.code)
        assert store.count() == 30
    assert len(versions) == 4
    assert versions[0].body is not None and original in versions[0].body
    for lead, version in zip(leads, versions[1:], strict=True):
        assert lead in version.body
    changed = edits(versions)[::-1]
    assert [e.number for e in changed] == [2, 3, 4]
    assert all(run[0] != 0 for e in changed for run in e.body if run[0]) and changed[0].inserted


def test_pages_api_and_cli_show_the_changes(tmp_path):
    store = open_store(str(tmp_path / "finews.db"))
    fill(store)
    revise(store)
    settings = sample_settings(tmp_path)
    out = tmp_path / "site"
    build(store, settings, out)
    article_id = make_article(REVISED).id
    [page] = [p for p in out.rglob(f"*{make_article(REVISED).code}.html")]
    html = page.read_text()
    assert re.search(r'更新于 <time datetime="[^"]+">[^<]+</time> · '
                     r'<a href="[^"]+\.revisions\.html">修改 3 次</a>', html)
    revisions = page.with_name(page.name.replace(".html", ".revisions.html")).read_text()
    assert revisions.count('<section class="revision"') == 3
    assert "<del>5</del><ins>8</ins>" in revisions and "<ins>，下周公布细则</ins>" in revisions
    assert "<ins>（更新）</ins>" in revisions
    # one more change, seen by the API and the CLI
    store.upsert([make_article(REVISED, outlet="上海证券报", tags=["上海证券报新闻", "芯片"],
                               published=datetime(2025, 3, 10, 9, 0, tzinfo=BEIJING) + timedelta(hours=49),
                               title="第7条 芯片新闻（二次更新）", body="<p>改期。</p>")])
    store.close()

    from starlette.testclient import TestClient

    with TestClient(create_app(settings, out)) as client:
        data = client.get(f"/api/articles/{article_id}/revisions").json()
        assert data["changes"] == 4 and len(data["versions"]) == 5 and len(data["edits"]) == 4
        assert [e["number"] for e in data["edits"]] == [5, 4, 3, 2]
        assert [-1, "5"] in data["edits"][2]["body"] and [1, "8"] in data["edits"][2]["body"]
        assert client.get("/api/articles/nosuch/revisions").status_code == 404

    runner = CliRunner()
    db = ["--database", str(tmp_path / "finews.db")]
    result = runner.invoke(cli, [*db, "history", article_id])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "第7条 芯片新闻（二次更新）"
    assert re.fullmatch(r"Changed 4 times; first stored \d{4}-\d\d-\d\dT[\d:]{8}\+08:00\.", lines[1])
    assert "text: 第7条正文，关于芯片与降息。据悉，规模约[-5-]{+8+}0亿元。\n" in result.output
    assert "title: unchanged\ntext: [-第7条正文，关于芯片。据悉，规模约80亿元，下周公布细则-]{+改期+}。\n" \
        in result.output
    as_json = json.loads(runner.invoke(cli, [*db, "history", article_id, "--json"]).output)
    assert as_json["changes"] == 4
    missing = runner.invoke(cli, [*db, "history", "nosuch"])
    assert missing.exit_code == 4 and "no article 'nosuch'" in missing.output


def test_jekyll_export_writes_the_newest_version_and_reimport_loses_nothing(tmp_path):
    with open_store(str(tmp_path / "a.db")) as store:
        fill(store, n=10)
        revise(store)
        jekyll.export_posts(store, tmp_path / "posts", jekyll.JekyllStyle(base_url="//x"))
        jekyll.import_posts(store, [tmp_path / "posts"], jekyll.JekyllStyle(base_url="//x"))
        versions = store.versions(make_article(REVISED).id)
        assert len(versions) == 4 and "细则" in versions[-1].body
    [post] = (tmp_path / "posts").rglob(f"*{make_article(REVISED).code}*")
    assert "细则" in post.read_text() and "二次更新" in post.read_text()
