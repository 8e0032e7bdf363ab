"""Chinese full-text search: complete against a brute-force substring scan, in step with
every write, and immune to query syntax."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from finews.errors import QueryError
from finews.fulltext import Query, normalize
from finews.keys import key_range
from finews.model import BEIJING
from finews.store import open_store, postgres
from finews.store.sqlite import INDEX_BUFFER_BYTES, SQLiteStore
from tests.conftest import make_article
from tests.pg import fresh_postgres_url

WORDS = [
    "芯片", "降息", "央行", "股市", "债券", "半导体", "人工智能", "新能源", "光伏", "锂电", "银行",
    "证券", "保险", "利率", "汇率", "人民币", "美元", "GDP", "CPI", "A股", "5G", "iPhone",
    "2024年", "3.5%", "同比增长", "ＡＩ", "２０２５", "的", "了", "在", "与", "Fed", "ETF基金",
]
PUNCT = ["，", "。", "、", " ", ", ", "——", "（", "）", ":", "-"]


def _sentence(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) + (rng.choice(PUNCT) if rng.random() < 0.3 else "")
                   for _ in range(rng.randint(3, 12)))


def _body(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        text = _sentence(rng)
        if rng.random() < 0.3:
            cut = rng.randrange(len(text))
            text = f"{text[:cut]}<b>{text[cut:cut + 2]}</b>{text[cut + 2:]}"
        if rng.random() < 0.1:
            text += " &amp; 公司&lt;B&gt;"
        parts.append(f"<p>{text}</p>")
    return "".join(parts)


@pytest.fixture
def corpus(store):
    rng = random.Random(5)
    articles = [
        make_article(i, title=_sentence(rng)[:30] or "标题", body=_body(rng),
                     outlet=rng.choice(["南方都市报", "上海证券报", "第一财经"]),
                     tags=[rng.choice(["宏观", "公司", "市场"])])
        for i in range(400)
    ]
    store.upsert(articles)
    return store


def _brute_force(store, query: str) -> set[str]:
    """Articles whose text contains every space-separated part of the query."""
    terms = normalize(query).split(" ")
    return {a.id for a in store.iter_articles() if all(t in a.search_text for t in terms)}


def _searchable(q: str) -> bool:
    """Every space-separated part has something besides ASCII punctuation."""
    return all(any(c.isalnum() or not c.isascii() for c in part) for part in q.split())


def _queries(store, n: int) -> list[str]:
    rng = random.Random(11)
    texts = [a.search_text for a in store.iter_articles()]
    queries = []
    while len(queries) < n:
        text = rng.choice(texts)
        length = rng.randint(1, 4)
        at = rng.randrange(max(1, len(text) - length))
        q = text[at:at + length]
        if q.strip() and "\n" not in q and q == q.strip() and _searchable(q):
            queries.append(q)
    alphabet = sorted({c for t in texts for c in t if "\u4e00" <= c <= "\u9fff"})
    queries += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(50)]
    return queries


def test_every_match_is_found_and_nothing_else(corpus):
    queries = _queries(corpus, 300)
    assert any(len(q) == 1 for q in queries) and any(q.isascii() for q in queries)
    total = 0
    for q in queries:
        expected = _brute_force(corpus, q)
        found = [hit.article.id for hit in corpus.search(Query.parse(q), limit=None)]
        assert len(found) == len(set(found)), q
        assert set(found) == expected, q
        total += len(expected)
    assert total > 1000


def test_newest_first_and_limit(corpus):
    hits = corpus.search(Query.parse("芯片"), limit=7)
    assert len(hits) == 7
    keys = [h.article.key for h in hits]
    assert keys == sorted(keys, reverse=True)
    everything = corpus.search(Query.parse("芯片"), limit=None)
    assert [h.article.key for h in everything[:7]] == keys


def test_full_width_and_case_fold(corpus):
    assert {h.article.id for h in corpus.search(Query.parse("ai"), limit=None)} == _brute_force(corpus, "ai")
    assert corpus.search(Query.parse("ＧＤＰ"), limit=None) and corpus.search(Query.parse("gdp"), limit=3)


def test_words_separated_by_spaces_must_all_occur(corpus):
    hits = corpus.search(Query.parse("芯片 降息"), limit=None)
    expected = _brute_force(corpus, "芯片") & _brute_force(corpus, "降息")
    assert {h.article.id for h in hits} == expected and expected


@pytest.mark.parametrize("raw", ["芯片 的", "了 在", "人工智能 5%", "3.5% 降息 币", "iphone 2 年", "的 a"])
def test_single_characters_with_longer_terms(corpus, raw):
    """One-character terms come from the character index, longer ones from the pairs;
    a query with both must still find exactly the articles holding every term."""
    expected = _brute_force(corpus, raw)
    for ranked in (False, True):
        hits = corpus.search(Query.parse(raw), limit=None, ranked=ranked)
        assert {h.article.id for h in hits} == expected and expected, (raw, ranked)


def test_filters(corpus):
    q = Query.parse("银行")
    all_hits = corpus.search(q, limit=None)
    by_outlet = corpus.search(q, category="diyicaijing", limit=None)
    assert by_outlet and {h.article.category for h in by_outlet} == {"diyicaijing"}
    expected = {h.article.id for h in all_hits if h.article.category == "diyicaijing"}
    assert {h.article.id for h in by_outlet} == expected
    by_tag = corpus.search(q, tag="宏观", limit=None)
    assert by_tag and all("宏观" in h.article.tags for h in by_tag)
    start = datetime(2025, 3, 12, 11, 0, tzinfo=BEIJING)
    window = corpus.search(q, keys=key_range(start, start + timedelta(hours=2)), limit=None)
    assert window and all(start <= h.article.published < start + timedelta(hours=2) for h in window)


SYNTAX = ['芯片"', "芯*", "NEAR(芯 片)", "title:芯片", "芯片 or 降息", "(芯片)", "AND", "^芯", '"芯" "片"',
          "芯片 NOT 降息", "芯-片", "-3.5%"]


@pytest.mark.parametrize("raw", SYNTAX)
def test_syntax_characters_are_plain_text(corpus, raw):
    query = Query.parse(raw)
    found = {h.article.id for h in corpus.search(query, limit=None)}
    assert found == _brute_force(corpus, " ".join(query.terms))


def _brute_force_clauses(store, clauses: list[list[str]], excluded: list[str]) -> set[str]:
    """Articles holding a term of every clause and no excluded term, by a scan."""
    return {a.id for a in store.iter_articles()
            if all(any(normalize(t) in a.search_text for t in clause) for clause in clauses)
            and not any(normalize(t) in a.search_text for t in excluded)}


def _boolean_queries(n: int) -> list[tuple[str, list[list[str]], list[str]]]:
    """Random queries with OR and exclusions, mixing one-character, longer and punctuated
    terms, with the clauses they stand for."""
    rng = random.Random(23)
    pool = [*WORDS, "股", "币", "年"]
    queries = []
    while len(queries) < n:
        clauses = [rng.sample(pool, rng.randint(1, 3)) for _ in range(rng.randint(1, 2))]
        excluded = rng.sample([t for t in pool if not t[0].isdigit()], rng.randint(0, 2))
        raw = " ".join([" OR ".join(clause) for clause in clauses] + [f"-{t}" for t in excluded])
        queries.append((raw, clauses, excluded))
    return queries


def test_or_and_exclusion_find_exactly_what_a_scan_finds(corpus):
    total = 0
    for raw, clauses, excluded in _boolean_queries(60):
        expected = _brute_force_clauses(corpus, clauses, excluded)
        for ranked in (False, True):
            found = [h.article.id for h in corpus.search(Query.parse(raw), limit=None, ranked=ranked)]
            assert len(found) == len(set(found)) and set(found) == expected, (raw, ranked)
        total += len(expected)
    assert total > 1000


def test_or_binds_its_neighbours_and_spaces_join_the_rest(corpus):
    query = Query.parse("芯片 OR 半导体 银行 -ETF基金")
    assert query.clauses == (("芯片", "半导体"), ("银行",)) and query.excluded == ("etf基金",)
    expected = _brute_force_clauses(corpus, [["芯片", "半导体"], ["银行"]], ["ETF基金"])
    assert {h.article.id for h in corpus.search(query, limit=None)} == expected and expected


def test_a_minus_before_a_digit_is_a_figure_not_an_exclusion():
    assert Query.parse("跌幅 -3.5%") == Query((("跌幅",), ("-3.5%",)))
    assert Query.parse("跌幅 -ETF").excluded == ("etf",)


@pytest.mark.parametrize(("raw", "message"), [
    ("OR 芯片", "'OR' needs a term on each side"), ("芯片 OR", "'OR' needs a term on each side"),
    ("芯片 OR OR 降息", "'OR' needs a term on each side"),
    ("芯片 OR -降息", "'OR' cannot join an excluded term"),
    ("-芯片", "only excludes"), ("-芯片 -降息", "only excludes"),
])
def test_misused_operators_are_explained(raw, message):
    with pytest.raises(QueryError, match=message):
        Query.parse(raw)


def test_queries_with_nothing_to_search_are_rejected():
    for raw in ("", "   ", '""', "*:-"):
        with pytest.raises(QueryError, match="nothing to search"):
            Query.parse(raw)
    with pytest.raises(QueryError, match="too long"):
        Query.parse("芯" * 1000)


def test_index_follows_updates_and_merges(store):
    store.upsert([make_article(1, body="<p>央行宣布降息</p>")])
    assert store.search(Query.parse("降息"))
    store.upsert([make_article(1, body="<p>央行维持利率不变</p>")])
    assert not store.search(Query.parse("降息"))
    assert [h.article.id for h in store.search(Query.parse("不变"))] == [make_article(1).id]
    # a rolling-news copy replaced by the outlet's copy is indexed once, under the new text
    rolling = make_article(2, code="202503120000000002", category="emnews", body="<p>滚动快讯芯片</p>")
    store.upsert([rolling])
    outlet = make_article(2, code="NW" + rolling.code, body="<p>完整报道芯片</p>")
    store.upsert([outlet])
    hits = store.search(Query.parse("芯片"), limit=None)
    assert [h.article.code for h in hits] == [outlet.code]
    assert not store.search(Query.parse("滚动"))
    assert not store.search(Query.parse("讯")) and store.search(Query.parse("整"))
    if isinstance(store, SQLiteStore):  # each FTS5 table is consistent after the deletes
        for table in ("search_index", "search_chars", "search_titles"):
            store.db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 0)")


def test_index_is_in_the_same_transaction(store):
    good = make_article(1, body="<p>原子写入测试</p>")
    bad = make_article(2)
    bad.published = "not a time"  # fails inside the transaction, after the first row
    with pytest.raises(AttributeError):
        store.upsert([good, bad])
    assert store.count() == 0
    assert not store.search(Query.parse("原子"))


def test_snippet_marks_the_hit_and_escapes_html(store):
    body = "<p>前文&lt;script&gt;很长的前文，" + "填充" * 40 + "关键芯片在此</p>"
    store.upsert([make_article(1, body=body)])
    [hit] = store.search(Query.parse("芯片"))
    assert "<mark>芯片</mark>" in hit.snippet
    assert hit.snippet.startswith("…")
    [hit] = store.search(Query.parse("script"))
    assert "&lt;<mark>script</mark>&gt;" in hit.snippet and "<script" not in hit.snippet


def test_ranked_puts_headline_matches_first(store):
    store.upsert([
        make_article(1, title="芯片出口大增", body="<p>内容</p>"),
        make_article(2, title="其他新闻", body="<p>顺带提到芯片</p>"),
        make_article(3, title="另一条", body="<p>也提到芯片</p>"),
    ])
    ranked = store.search(Query.parse("芯片"), ranked=True)
    assert next(h.article.title for h in ranked) == "芯片出口大增"
    assert [h.article.key for h in ranked[1:]] == sorted((h.article.key for h in ranked[1:]), reverse=True)
    assert ranked[0].score > ranked[1].score


def test_index_is_rebuilt_when_its_format_changes(tmp_path):
    path = tmp_path / "a.db"
    with open_store(str(path)) as s:
        s.upsert([make_article(1, body="<p>重建索引</p>")])
        s.db.execute("INSERT INTO search_index (search_index) VALUES ('delete-all')")
        s.db.execute("UPDATE meta SET value='0' WHERE key='search_version'")
        assert not s.search(Query.parse("重建"))
    with open_store(str(path)) as s:
        assert len(s.search(Query.parse("重建"))) == 1
        assert s.db.execute("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 0)")


def test_a_large_batch_is_indexed_from_one_memory_buffer(tmp_path):
    """The index gathers a whole import batch in memory (INDEX_BUFFER_BYTES), and what it
    writes is a sound index that finds every article of the batch."""
    rng = random.Random(3)
    with open_store(str(tmp_path / "a.db")) as s:
        for table in ("search_index", "search_titles"):
            (size,) = s.db.execute(f"SELECT v FROM {table}_config WHERE k='hashsize'").fetchone()
            assert size == INDEX_BUFFER_BYTES
        s.upsert([make_article(i, body=_body(rng) + "<p>大批导入</p>") for i in range(1, 801)])
        s.db.execute("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 0)")
        assert len(s.search(Query.parse("大批导入"), limit=None, snippets=False)) == 800


STOCK_MENTIONS = ["贵州茅台(600519)", "宁德时代(300750)", "招商银行(600036)"]


def _filtered_corpus(store):
    """The corpus with stock mentions in some bodies, for the stock filter."""
    rng = random.Random(31)
    articles = []
    for i in range(300):
        body = _body(rng)
        if rng.random() < 0.3:
            body += f"<p>{rng.choice(STOCK_MENTIONS)}公告</p>"
        articles.append(make_article(i, title=_sentence(rng)[:30] or "标题", body=body,
                                     outlet=rng.choice(["南方都市报", "上海证券报", "第一财经"]),
                                     tags=[rng.choice(["宏观", "公司", "市场"])]))
    store.upsert(articles)
    return store


def test_filtered_searches_find_exactly_what_a_scan_finds(store):
    """Every query class with every filter, against a scan of the archive."""
    _filtered_corpus(store)
    everything = list(store.iter_articles())
    stocks = store.stock_ids([a.key for a in everything])
    assert any("1.600519" in s for s in stocks.values())
    start = datetime(2025, 3, 12, 10, 0, tzinfo=BEIJING)
    window = key_range(start, start + timedelta(hours=2))
    filters = [{"category": "diyicaijing"}, {"tag": "宏观"}, {"keys": window}, {"stock": "1.600519"},
               {"category": "shzqb", "keys": window}]
    checks = {
        "category": lambda a, v: a.category == v, "tag": lambda a, v: v in a.tags,
        "keys": lambda a, v: v[0] <= a.key <= v[1], "stock": lambda a, v: v in stocks.get(a.key, ()),
    }
    total = 0
    for q in _queries(store, 40):
        query = Query.parse(q)
        for narrowing in filters:
            expected = {a.id for a in everything if query.matches(a.search_text)
                        and all(checks[name](a, value) for name, value in narrowing.items())}
            for ranked in (False, True):
                found = [h.article.id for h in store.search(query, limit=None, ranked=ranked, **narrowing)]
                assert len(found) == len(set(found)) and set(found) == expected, (q, narrowing, ranked)
            total += len(expected)
    assert total > 300


def test_ranked_search_follows_one_rule_on_both_backends(tmp_path):
    """The same archive on SQLite and PostgreSQL ranks every query the same way."""
    with fresh_postgres_url() as url:
        lite, pg = open_store(str(tmp_path / "a.db")), open_store(url)
        try:
            for store in (lite, pg):
                _filtered_corpus(store)
            queries = [*_queries(lite, 60), *(raw for raw, _, _ in _boolean_queries(20))]
            compared = 0
            for raw in queries:
                query = Query.parse(raw)
                for limit in (20, None):
                    ours = [h.article.id for h in lite.search(query, limit=limit, ranked=True)]
                    theirs = [h.article.id for h in pg.search(query, limit=limit, ranked=True)]
                    assert ours == theirs, (raw, limit)
                    compared += len(ours)
            assert compared > 1000
            titled = lite.search(Query.parse("芯片"), ranked=True, limit=None)
            assert titled[0].score > 1e-3 and "芯片" in titled[0].article.title
        finally:
            lite.close()
            pg.close()


def test_a_postgresql_archive_from_before_the_index_is_indexed_resumably(monkeypatch):
    """An archive from before search_grams: every search still finds everything (a scan);
    the build is interrupted, resumed and leaves the GIN indexes ready."""
    with fresh_postgres_url() as url:
        with open_store(url) as store:
            _filtered_corpus(store)
            store.conn.execute("DELETE FROM search_grams")
            store.conn.execute("DELETE FROM search_title_grams")
            store.conn.execute("DROP INDEX search_grams_codes")
            store.conn.execute("UPDATE meta SET value = '' WHERE key = 'search_grams'")
        with open_store(url) as store:
            assert not store.search_ready and store.integrity_check() != "ok"
            assert store.search_backlog() == 300
            expected = _brute_force(store, "芯片")
            assert {h.article.id for h in store.search(Query.parse("芯片"), limit=None)} == expected

            def interrupt(n):
                raise KeyboardInterrupt

            monkeypatch.setattr(postgres, "INDEX_BATCH", 200)
            with pytest.raises(KeyboardInterrupt):
                store.build_search_index(interrupt)
            assert store.search_backlog() == 300 - 200
        with open_store(url) as store:
            added = []
            store.build_search_index(added.append)
            assert sum(added) == 100 and store.search_ready and store.integrity_check() == "ok"
            indexes = {name for (name,) in store.conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'search%grams'")}
            assert {"search_grams_codes", "search_title_grams_codes"} <= indexes
            assert {h.article.id for h in store.search(Query.parse("芯片"), limit=None)} == expected
