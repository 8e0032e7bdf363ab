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
from finews.store import open_store
from finews.store.sqlite import INDEX_BUFFER_BYTES, SQLiteStore
from tests.conftest import make_article

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
