"""Every earlier version of a changed article is kept, compactly, on both backends."""

from __future__ import annotations

from finews.revisions import DELETE, INSERT, diff, diff_markup, edits
from tests.conftest import make_article
from tests.site.conftest import REVISED, fill, revise


def test_every_version_is_kept_on_both_backends(store):
    fill(store, n=10)
    revise(store)
    versions = store.versions(make_article(REVISED).id)
    assert [v.number for v in versions] == [1, 2, 3, 4]
    assert [v.title for v in versions] == [
        "第7条 芯片新闻", "第7条 芯片新闻（更新）", "第7条 芯片新闻（更新）", "第7条 芯片新闻（二次更新）"]
    assert "50亿元" in versions[1].body and "80亿元" in versions[2].body and "细则" in versions[3].body
    assert versions[-1].replaced is None and all(v.replaced for v in versions[:-1])
    assert len(store.changes(make_article(REVISED).id)) == 3
    key = store.get(make_article(REVISED).id).key
    assert store.revision_counts()[key] == 3
    runs = [e.body for e in edits(versions)]  # newest first
    assert (DELETE, "与降息") in runs[0] and (INSERT, "，下周公布细则") in runs[0]
    assert (DELETE, "5") in runs[1] and (INSERT, "8") in runs[1]
    assert diff_markup(diff("规模约50亿元", "规模约80亿元")) == "规模约[-5-]{+8+}0亿元"


def test_an_unchanged_article_has_one_version(store):
    store.upsert([make_article(1)])
    store.upsert([make_article(1)])
    assert [v.number for v in store.versions(make_article(1).id)] == [1]
    assert store.versions("nosuchid") == [] and store.revision_counts() == {}
    assert store.versions(make_article(1).id)[0].replaced is None
