"""Every kind of page passes the Nu HTML Checker (vnu-jar from npm, run with Java) with no
error: home, 7×24, important and watch pages, outlets, tags, days, articles (the real
sample posts and hostile bodies), revisions, stocks, stories, search, 404.

The checker is found at FINEWS_VNU_JAR, else in .vnu/ (`.ci/run` puts it there with
`npm install --prefix .vnu vnu-jar`); without it or Java the test is skipped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store
from tests.conftest import settings_for
from tests.site.conftest import fill, revise
from tests.stories_eval import labelled_articles

VNU = Path(os.environ.get("FINEWS_VNU_JAR") or
           Path(__file__).resolve().parents[2] / ".vnu/node_modules/vnu-jar/build/dist/vnu.jar")
pytestmark = pytest.mark.skipif(
    not (VNU.is_file() and shutil.which("java")),
    reason="the Nu HTML Checker (vnu-jar) or Java is missing; .ci/run installs both")


def _errors(pages: list[str]) -> list[str]:
    result = subprocess.run(["java", "-jar", str(VNU), "--errors-only", "--format", "json", *pages],
                            capture_output=True, text=True, timeout=300)
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    return [f"{m.get('url', '').rsplit('/', 1)[-1]}:{m.get('lastLine')}: {m.get('message')}"
            for m in messages if m.get("type") == "error"]


def test_the_checker_finds_what_the_site_once_had(tmp_path):
    """The two errors of real bodies found before: an anchor with rel and no href, an image
    without alt. A checker that says nothing would pass every site."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html lang="zh-CN"><head><title>x</title></head><body>'
                   '<a rel="nofollow">x</a><img src="a.png"></body></html>')
    assert len(_errors([str(bad)])) == 2


def test_every_kind_of_page_is_valid_html(tmp_path):
    settings = settings_for('[site]\nbase_url = "https://news.example.com"\n'
                            '[[watch]]\nname = "chips"\nquery = "芯片 OR 降息"\n', tmp_path)
    store = open_store(str(tmp_path / "a.db"), follow=settings.follow)
    fill(store)
    revise(store)
    articles, truth = labelled_articles()
    store.upsert([a for a in articles if truth[a.code] in ("t1-0", "t2-0")])
    SiteBuilder(store, settings, BuildOptions(out=tmp_path / "site", search=True)).build()
    store.close()
    pages = sorted(str(p) for p in (tmp_path / "site").rglob("*.html") if ".finews" not in p.parts
                   and "search" not in p.parts)
    kinds = {p.split("/site/", 1)[1].split("/", 1)[0] for p in pages}
    assert any(p.endswith(".revisions.html") for p in pages)
    assert {"index.html", "live.html", "important.html", "watch", "category", "tag", "archive",
            "stock", "story", "search.html", "404.html", "nanfangdushibao"} <= kinds
    problems = _errors(pages)
    assert problems == [], "\n".join(problems[:20])
