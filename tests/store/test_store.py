from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta

import pytest

from finews.errors import FinewsError
from finews.keys import key_range
from finews.model import BEIJING
from finews.store import open_store
from tests.conftest import make_article


def test_new_article_is_stored_once_and_read_back(store):
    article = make_article(1, title='标题 "引号": #1 | {x}\n第二行')
    result = store.upsert([article])
    assert (result.new, result.updated, result.unchanged) == (1, 0, 0)
    again = store.upsert([make_article(1, title='标题 "引号": #1 | {x}\n第二行')])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    assert store.count() == 1
    loaded = store.get(article.id)
    assert loaded is not None
    assert loaded.title == article.title
    assert loaded.published == article.published
    assert loaded.body == article.body
    assert loaded.category == "nanfangdushibao"
    assert loaded.tags == ["南方都市报新闻"]
    assert loaded.first_seen is not None


def test_changed_body_updates_in_place_and_records_the_change(store):
    store.upsert([make_article(1)])
    before = store.get(make_article(1).id)
    result = store.upsert([make_article(1, body="<p>更正后的正文</p>")])
    assert result.updated == 1
    assert store.count() == 1
    after = store.get(before.id)
    assert after.body == "<p>更正后的正文</p>"
    changes = store.changes(before.id)
    assert len(changes) == 1
    assert changes[0].previous_hash == make_article(1).content_hash
    assert after.first_seen == before.first_seen


def test_page_dates_agree_with_the_articles(store):
    """The sitemap's light query gives the same dates as whole articles."""
    from finews.keys import key_range
    from finews.site.pages import last_change, updated_at

    store.upsert([make_article(n, first_seen=datetime(2025, 3, 12, 9, 0, tzinfo=BEIJING)) for n in (1, 2)])
    store.upsert([make_article(2, body="<p>更正</p>")])
    low, high = key_range(datetime(2025, 3, 1, tzinfo=BEIJING), datetime(2025, 4, 1, tzinfo=BEIJING))
    articles = store.summaries(keys=(low, high), newest_first=False)
    rows = store.page_dates((low, high))
    assert rows == [(a.category, a.code, a.published, a.first_seen, a.last_changed) for a in articles]
    assert [last_change(*row[2:]) for row in rows] == [updated_at(a) for a in articles]
    assert updated_at(articles[1]) > articles[1].published


def test_metadata_change_is_an_update_without_a_content_change(store):
    store.upsert([make_article(1)])
    moved = make_article(1, published=make_article(1).published + timedelta(hours=1))
    assert store.upsert([moved]).updated == 1
    assert store.get(moved.id).published == moved.published
    assert store.changes(moved.id) == []


def test_two_codes_of_one_story_are_one_article_and_the_outlet_copy_wins(store):
    rolling = make_article(
        1, code="2025031" + "1" * 11, category="emnews", tags=["东财滚动新闻"], outlet="东财滚动"
    )
    outlet = make_article(1, code="NW2025031" + "1" * 11, outlet="财联社", tags=["财联社新闻"])
    assert rolling.id == outlet.id
    store.upsert([rolling])
    result = store.upsert([outlet])
    assert result.merged == 1
    assert store.count() == 1
    kept = store.get(outlet.id)
    assert kept.code == outlet.code
    assert kept.category == "cailianshe"
    assert kept.aliases == [("emnews", rolling.code)]
    # the rolling copy arriving again changes nothing
    assert store.upsert([rolling]).merged == 1
    assert store.get(outlet.id).code == outlet.code
    assert store.count() == 1


def test_duplicates_inside_one_batch(store):
    result = store.upsert([make_article(1), make_article(1), make_article(2)])
    assert result.new == 2
    assert store.count() == 2


def test_queries(store):
    outlets = ["南方都市报", "上海证券报", "21世纪经济报道"]
    articles = [
        make_article(i, outlet=outlets[i % 3], tags=[f"{outlets[i % 3]}新闻"]) for i in range(30)
    ]
    store.upsert(articles)
    latest = store.summaries(limit=5, with_body=True)
    assert [a.code for a in latest] == [a.code for a in articles[::-1][:5]]
    assert latest[0].body
    assert store.summaries(limit=5)[0].body == ""
    page1 = store.summaries(category="shanghaizhengquanbao", limit=4, with_body=True)
    page2 = store.summaries(category="shanghaizhengquanbao", limit=4, offset=4, with_body=True)
    expected = [a.code for a in articles[::-1] if a.outlet == "上海证券报"]
    assert [a.code for a in page1 + page2] == expected[:8]
    assert [a.code for a in store.summaries(tag="21世纪经济报道新闻", limit=100, with_body=True)] == [
        a.code for a in articles[::-1] if a.outlet == "21世纪经济报道"
    ]
    counts = {c.slug: (c.outlet, c.count) for c in store.category_counts()}
    assert counts == {
        "nanfangdushibao": ("南方都市报", 10),
        "shanghaizhengquanbao": ("上海证券报", 10),
        "21shijijingjibaodao": ("21世纪经济报道", 10),
    }
    first, last = store.date_range()
    assert first == articles[0].published and last == articles[-1].published
    assert [a.code for a in store.iter_articles(batch=7)] == [a.code for a in articles]


def _day(store, day: date) -> list:
    """A Beijing day's articles, as the site's day pages read them."""
    start = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    return store.summaries(keys=key_range(start, start + timedelta(days=1)))


def test_days_are_beijing_days(store):
    late = make_article(1, published=datetime(2025, 3, 11, 23, 30, tzinfo=BEIJING))
    early = make_article(2, published=datetime(2025, 3, 12, 0, 30, tzinfo=BEIJING))
    store.upsert([late, early])
    assert [a.code for a in _day(store, date(2025, 3, 12))] == [early.code]
    assert [a.code for a in _day(store, date(2025, 3, 11))] == [late.code]


def test_many_articles_in_the_same_second_keep_distinct_keys(store):
    moment = datetime(2025, 3, 12, 9, 0, tzinfo=BEIJING)
    store.upsert([make_article(i, published=moment) for i in range(200)])
    assert store.count() == 200
    assert len(_day(store, date(2025, 3, 12))) == 200


def test_category_slug_is_assigned_once_and_overridable(store, tmp_path):
    store.upsert([make_article(1, outlet="南方都市报")])
    assert store.get(make_article(1).id).category == "nanfangdushibao"
    with open_store(str(tmp_path / "other.db"), {"南方都市报": "nandu"}) as other:
        other.upsert([make_article(1, outlet="南方都市报")])
        assert other.get(make_article(1).id).category == "nandu"


def test_unsafe_imported_slug_gets_a_safe_one_and_keeps_an_alias(store):
    store.upsert([make_article(1, category="anxinguojizhengquan(xianggang)", outlet="安信国际")])
    assert store.get(make_article(1).id).category == "anxinguojizhengquanxianggang"
    assert store.category_aliases() == {
        "anxinguojizhengquan(xianggang)": "anxinguojizhengquanxianggang"
    }


def test_two_outlets_with_the_same_pinyin_get_distinct_slugs(store):
    store.upsert([make_article(1, outlet="新华社"), make_article(2, outlet="新化社")])
    slugs = {store.get(make_article(i).id).category for i in (1, 2)}
    assert slugs == {"xinhuashe", "xinhuashe2"}


def test_corrupt_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(FinewsError, match="not a finews archive or is damaged"):
        open_store(str(path))


def test_schema_is_versioned(tmp_path):
    with open_store(str(tmp_path / "a.db")) as s:
        assert s.schema_version >= 1
        assert s.integrity_check() == "ok"
        assert s.db.execute("PRAGMA page_size").fetchone()[0] == 16384


def test_an_archive_of_the_previous_version_is_upgraded_and_reindexed(tmp_path):
    """An archive made before character pairs (schema 7, index version "2", 4 KB pages)."""
    from finews.fulltext import Query

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size=4096")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.close()
    with open_store(str(path)) as s:
        s.upsert([make_article(1, body="<p>旧档案里的芯片新闻</p>"), make_article(2, body="<p>别的</p>")])
        s.db.execute("DROP TABLE search_chars")
        for column in ("checkpoint_time", "checkpoint_id", "gap"):
            s.db.execute(f"ALTER TABLE source_health DROP COLUMN {column}")
        for table in ("securities", "security_names", "article_securities", "mention_names",
                      "story_bands", "article_stories", "article_importance", "outbox"):
            s.db.execute(f"DROP TABLE {table}")
        s.db.execute("DROP VIEW news")
        s.db.execute("ALTER TABLE article_log DROP COLUMN stocks")
        for column in ("number", "title", "body"):
            s.db.execute(f"ALTER TABLE changes DROP COLUMN {column}")
        s.db.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
        s.db.execute("UPDATE meta SET value='2' WHERE key='search_version'")
    with open_store(str(path)) as s:
        assert s.schema_version == 16 and s.ungrouped_count() == 2
        assert s.db.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert [h.article.id for h in s.search(Query.parse("芯片新闻"))] == [make_article(1).id]
        assert [h.article.id for h in s.search(Query.parse("档"))] == [make_article(1).id]
        assert len(s.search(Query.parse("的"))) == 2


def test_nul_characters_are_dropped_on_every_backend(store):
    from tests.conftest import make_article

    store.upsert([make_article(1, title="标\x00题", body="<p>正\x00文</p>")])
    stored = store.get(make_article(1).id)
    assert (stored.title, stored.body) == ("标题", "<p>正文</p>")


def test_page_bodies_give_the_publishable_html_as_utf8_oldest_first(store):
    hostile = '<p>正文<script>alert(1)</script>“引号”</p>'
    store.upsert([make_article(1, body=hostile), make_article(2, body="<p>中文正文 2</p>"),
                  make_article(3, outlet="上海证券报")])
    rows = store.page_bodies(category="nanfangdushibao", keys=(-(1 << 62), 1 << 62), limit=10)
    assert [a.id for a, _ in rows] == [make_article(1).id, make_article(2).id]
    for article, html in rows:
        stored = store.get(article.id)
        assert html == stored.html.encode("utf-8")
        assert article.title == stored.title and article.html == ""
    assert b"<script>" not in rows[0][1] and "“引号”".encode() in rows[0][1]
    assert rows[1][1] == "<p>中文正文 2</p>".encode()
    first = rows[0][0].key
    assert [a.id for a, _ in store.page_bodies(
        category="nanfangdushibao", keys=(first + 1, 1 << 62), limit=1)] == [make_article(2).id]


def test_nth_key_counts_from_the_oldest_within_a_filter(store):
    store.upsert([make_article(i, outlet="上海证券报" if i % 3 else "南方都市报",
                               tags=["降息"] if i % 2 else ["芯片"]) for i in range(12)])
    everything = (-(1 << 62), 1 << 62)
    for filters in ({"category": "shanghaizhengquanbao"}, {"tag": "降息"},
                    {"category": "nanfangdushibao", "tag": "芯片"}, {}):
        keys = [a.key for a in store.summaries(keys=everything, newest_first=False, **filters)]
        assert [store.nth_key(i, keys=everything, **filters) for i in range(len(keys) + 1)] == [
            *keys, None], filters
        assert store.nth_key(0, keys=(keys[1], keys[-1]), **filters) == keys[1]


def _open_at_once(path: str, barrier) -> str:
    barrier.wait()
    try:
        with open_store(path) as store:
            return str(store.count())
    except FinewsError as exc:
        return str(exc)


def test_processes_opening_a_new_archive_at_once_all_succeed(tmp_path):
    """`finews run` and `finews serve` started together: both set up the new archive (its
    WAL mode, its schema). Before the fix, 9 in 160 such opens failed."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(4) as pool:
        for attempt in range(12):
            barrier = manager.Barrier(4)
            path = str(tmp_path / f"new-{attempt}.db")
            results = pool.starmap(_open_at_once, [(path, barrier)] * 4)
            assert results == ["0"] * 4, results


def test_articles_keep_the_securities_they_mention(store):
    flash = make_article(1, code="2025031000000000000001", stocks=["0.301987", "90.BK1033"],
                         body="<p>储能板块午后拉升。</p>")
    linked = make_article(2, body='<p><span data-secid="1.600519">贵州茅台</span>发布公告；'
                                  "五粮液(000858)跟涨。</p>")
    store.upsert([flash, linked])
    by_key = {a.id: a.key for a in store.summaries(limit=10)}
    stocks = store.stocks_of([by_key[flash.id], by_key[linked.id]])
    assert [s["secid"] for s in stocks[by_key[flash.id]]] == ["0.301987", "90.BK1033"]
    assert [(s["secid"], s["name"], s["kind"]) for s in stocks[by_key[linked.id]]] == [
        ("1.600519", "贵州茅台", "a-share"), ("0.000858", "", "a-share")]
    later = make_article(3, body="<p>贵州茅台今日召开股东大会。</p>")
    store.upsert([later])
    assert [s["secid"] for s in store.stocks_of([store.get(later.id).key])[store.get(later.id).key]] == [
        "1.600519"]
    assert [s["secid"] for s in store.securities("茅台")] == ["1.600519"]
    assert store.securities("600519")[0]["articles"] == 2


def test_the_newest_name_of_a_security_wins_and_every_name_is_kept(store):
    old = make_article(1, body='<p><span data-secid="1.601012">隆基股份</span>公告。</p>')
    new = make_article(9, body='<p><span data-secid="1.601012">隆基绿能</span>公告。</p>')
    store.upsert([new, old])
    assert store.securities("601012")[0]["name"] == "隆基绿能"
    assert store.securities("隆基股份")[0]["secid"] == "1.601012"


def test_an_outlet_copy_taking_over_keeps_the_listed_securities(store):
    rolling = make_article(1, code="202503100000000001", category="emnews", outlet="东财滚动",
                           stocks=["1.600519"])
    outlet = make_article(1, code="NW202503100000000001")
    store.upsert([rolling])
    store.upsert([outlet])
    stored = store.get(outlet.id)
    assert stored.category != "emnews"
    assert [s["secid"] for s in store.stocks_of([stored.key])[stored.key]] == ["1.600519"]
