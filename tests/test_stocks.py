"""Stock mentions against a labelled set (tests/data/stocks/): precision and recall per
form of mention, false friends included, and the real fixture page."""

from __future__ import annotations

from collections import defaultdict

import pytest

from finews.extract import extract
from finews.stocks import (
    NameMatcher,
    Security,
    article_mentions,
    from_data_code,
    parse_secid,
)
from tests.conftest import DATA

STOCKS = DATA / "stocks"


def _learned() -> NameMatcher:
    rows = [line.split("\t") for line in (STOCKS / "learned.tsv").read_text(encoding="utf-8").splitlines()]
    return NameMatcher((name, parse_secid(secid)) for name, secid in rows)


def _labelled() -> list[tuple[str, set[str], str]]:
    rows = []
    for line in (STOCKS / "sentences.tsv").read_text(encoding="utf-8").splitlines():
        form, expected, sentence = line.split("\t")
        rows.append((form, set() if expected == "-" else set(expected.split(",")), sentence))
    return rows


def test_the_labelled_set_is_large_enough():
    rows = _labelled()
    assert len(rows) >= 60
    assert sum(form == "false" for form, _, _ in rows) >= 15


def test_precision_and_recall_per_form():
    names = _learned()
    found_right, found, expected_total = defaultdict(int), defaultdict(int), defaultdict(int)
    wrong = []
    for form, expected, sentence in _labelled():
        got = {m.security.secid for m in article_mentions("", sentence, names=names)}
        found_right[form] += len(got & expected)
        found[form] += len(got)
        expected_total[form] += len(expected)
        if got != expected:
            wrong.append((form, sentence, sorted(got), sorted(expected)))
    for form in expected_total:
        precision = found_right[form] / found[form] if found[form] else 1.0
        recall = found_right[form] / expected_total[form] if expected_total[form] else 1.0
        assert (precision, recall) == (1.0, 1.0), (form, [w for w in wrong if w[0] == form])
    assert not wrong


@pytest.mark.parametrize(("value", "secid"), [
    ("0,301987", "0.301987"), ("301987,0", "0.301987"), ("0.301987", "0.301987"),
    ("02338|116|5", "116.02338"), ("K 000338|0|2", "0.000338"),
])
def test_every_spelling_of_a_stock_link(value, secid):
    assert from_data_code(value).secid == secid


def test_indexes_are_kept_apart_from_companies():
    mentions = article_mentions("", "上证指数(000001)走强，平安银行(000001)涨超3%。")
    assert [(m.security.secid, m.security.kind) for m in mentions] == [
        ("1.000001", "index"), ("0.000001", "a-share")]
    assert Security(90, "BK1033").kind == "board"
    assert Security(116, "00700").kind == "hk"


def test_the_list_and_the_article_page_of_the_fixtures():
    page = extract((DATA / "eastmoney" / "article-202503123355721452.html").read_text(encoding="utf-8"),
                   "https://finance.eastmoney.com/a/202503123355721452.html")
    assert 'data-secid="0.301987"' in page.body and "quote.eastmoney.com" not in page.body
    mentions = article_mentions(page.title, page.body, listed=["0.301987", "90.BK1033"])
    assert {(m.security.secid, m.origin) for m in mentions} == {("0.301987", "list"), ("90.BK1033", "list")}
    assert next(m.name for m in mentions if m.security.secid == "0.301987") == "瀚海储能"


def test_a_hostile_secid_is_not_kept_by_the_sanitiser():
    from finews.clean import sanitize_html

    kept = '<span data-secid="1.600519">茅台</span>'
    assert sanitize_html(kept) == kept
    assert "data-secid" not in sanitize_html('<span data-secid="javascript:x()">x</span>')


def test_the_api_gives_every_article_its_stocks_and_filters_by_stock(tmp_path):
    from datetime import datetime

    import httpx

    from finews.config import Settings
    from finews.model import BEIJING
    from finews.serve.app import BackgroundServer, create_app
    from finews.store import open_store
    from tests.conftest import make_article

    with open_store(str(tmp_path / "a.db")) as store:
        store.upsert([make_article(1, body='<p><span data-secid="1.600519">贵州茅台</span>发布年报。</p>')])
        store.upsert([  # a name learned from a link is found in the articles stored after it
            make_article(2, body="<p>宁德时代(300750)发布新电池，贵州茅台跟涨。</p>"),
            make_article(3, body="<p>与股票无关的新闻。</p>", stocks=["90.BK1033"]),
        ])
        today = datetime.now(BEIJING).replace(hour=0, minute=1, second=0, microsecond=0)
        store.upsert([make_article(4, published=today, body="<p>贵州茅台今日公告。</p>")])
    settings = Settings(root=tmp_path)
    settings.archive.database_url = str(tmp_path / "a.db")
    server = BackgroundServer(create_app(settings, tmp_path / "site"), "127.0.0.1", 0)
    server.start()
    try:
        get = httpx.Client(base_url=f"http://127.0.0.1:{server.port}").get
        latest = get("/api/articles").json()["articles"]
        assert [[s["secid"] for s in a["stocks"]] for a in latest] == [
            ["1.600519"], ["90.BK1033"], ["0.300750", "1.600519"], ["1.600519"]]
        assert latest[3]["stocks"][0] == {"secid": "1.600519", "code": "600519", "market": 1,
                                          "name": "贵州茅台", "kind": "a-share"}
        for given in ("600519", "1.600519", "贵州茅台"):
            found = get("/api/articles", params={"stock": given}).json()["articles"]
            assert len(found) == 3, given
        assert len(get("/api/search", params={"q": "新电池", "stock": "300750"}).json()["articles"]) == 1
        assert get("/api/articles", params={"stock": "999999"}).status_code == 400
        stocks = get("/api/stocks", params={"q": "茅台"}).json()["stocks"]
        assert [(s["secid"], s["articles"]) for s in stocks] == [("1.600519", 3)]
        one = get("/api/stocks/600519").json()
        assert (one["secid"], one["name"]) == ("1.600519", "贵州茅台")
        assert [n["name"] for n in one["names"]] == ["贵州茅台"]
        assert len(one["articles"]) == 3 and len(one["daily"]) == 90
        assert one["daily"][-1] == {"date": today.date().isoformat(), "articles": 1}
        assert sum(day["articles"] for day in one["daily"]) == 1
        assert get("/api/stocks/1.999999").status_code == 404
    finally:
        server.stop()


def test_stocks_and_search_by_stock_from_the_command_line(tmp_path):
    import json
    import subprocess
    import sys

    from finews.store import open_store
    from tests.conftest import make_article

    with open_store(str(tmp_path / "finews.db")) as store:
        linked = '<p><span data-secid="1.600519">贵州茅台</span>公告。</p>'
        store.upsert([make_article(1, title="茅台年报", body="<p>贵州茅台今日发布年报。</p>"),
                      make_article(2, title="茅台公告", body=linked)])
        assert store.securities() == [{"secid": "1.600519", "market": 1, "code": "600519",
                                      "kind": "a-share", "name": "贵州茅台", "articles": 1}]

    def finews(*args):
        return subprocess.run([sys.executable, "-m", "finews", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    result = finews("stocks", "--reextract", "--json")
    assert result.returncode == 0, result.stderr
    assert "Read 2 articles again; 1 securities." in result.stdout
    assert json.loads(result.stdout[result.stdout.index("["):])[0]["articles"] == 2
    hits = json.loads(finews("search", "茅台", "--stock", "600519", "--json").stdout)["articles"]
    assert len(hits) == 2
    assert finews("stocks", "不存在").returncode == 4


def test_a_fetch_finds_the_companies_the_mock_world_mentions(tmp_path):
    """Against a mock source whose articles mention companies (linked, listed and in plain
    text): per article, precision and recall of the securities the archive keeps."""
    from tests.conftest import collect_companies

    world, store = collect_companies(tmp_path)
    with store:
        by_id = {a.id: a for a in store.summaries()}
        found = store.stocks_of([a.key for a in by_id.values()])
        right = got = expected = 0
        for article in world.articles:
            secids = {s["secid"] for s in found[by_id[article.code].key]}
            right += len(secids & article.secids)
            got += len(secids)
            expected += len(article.secids)
        assert expected > 150
        assert right / got >= 0.99 and right / expected >= 0.98, (right, got, expected)
        named = store.securities("华夏储能")
        assert [s["secid"] for s in named] == ["0.301987"]



def test_a_listed_security_that_is_also_linked_teaches_its_name_and_text_does_not(tmp_path):
    """A 7×24 item lists 600519 and links it as 贵州茅台: the link's name is learned. A listed
    security's name in text (``其中五粮液集团(000858)``, a misreading once) is not."""
    from finews.store import open_store
    from tests.conftest import make_article

    with open_store(str(tmp_path / "a.db")) as store:
        store.upsert([
            make_article(1, stocks=["1.600519"],
                         body='<p><span data-secid="1.600519">贵州茅台</span>发布公告。</p>'),
            make_article(2, stocks=["0.000858"], body="<p>其中五粮液集团(000858)发布公告。</p>"),
        ])
        assert [name for name, _ in store.security_names("1.600519")] == ["贵州茅台"]
        assert store.security_names("0.000858") == []
