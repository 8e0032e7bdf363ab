from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from finews.model import BEIJING
from finews.store import open_store
from finews.transfer import jekyll
from tests.conftest import make_article

POSTS = Path(__file__).parent.parent / "data" / "jekyll-posts"
STYLE = jekyll.JekyllStyle(base_url="//finews.withounder.com")

# Well formed: a time zone, absolute back links and one id (see tests/data/README.md).
WELL_FORMED = [
    "2021-12-08-202112082207056189.md",
    "2021-12-08-202112082207073610.md",
    "2021-12-08-202112082207102552.md",
    "2022-01-07-NW202201072239307540.md",
    "2022-02-11-NW202202112274017262.md",
    "2022-04-21-NW202204212352227421.md",
]


@pytest.fixture
def store(tmp_path):
    with open_store(str(tmp_path / "a.db")) as s:
        yield s


def test_samples_round_trip_byte_for_byte(store, tmp_path):
    report = jekyll.import_posts(store, [POSTS], STYLE)
    assert report.read == 15
    assert report.skipped == []
    assert (report.new, report.merged) == (14, 1)
    out = tmp_path / "out"
    assert jekyll.export_posts(store, out, STYLE) == 14
    for name in WELL_FORMED:
        assert (out / name).read_bytes() == (POSTS / name).read_bytes(), name


def test_the_same_story_under_two_ids_is_one_article(store):
    jekyll.import_posts(store, [POSTS], STYLE)
    article = store.get("202204212352230938")
    assert article.code == "NW202204212352230938"
    assert article.category == "cailianshe"
    assert article.outlet == "财联社"
    assert article.aliases == [("emnews", "202204212352230938")]
    assert store.count() == 14


def test_reimport_is_idempotent(store):
    jekyll.import_posts(store, [POSTS], STYLE)
    again = jekyll.import_posts(store, [POSTS], STYLE)
    assert (again.new, again.updated) == (0, 0)
    assert again.unchanged + again.merged == 15
    assert store.count() == 14


def test_quirks_are_tolerated():
    def read(name: str):
        return jekyll.read_post(POSTS / name, STYLE)

    no_zone = read("2021-12-08-202112082206736198.md")
    assert no_zone.published == datetime(2021, 12, 8, 10, 39, 11, tzinfo=BEIJING)
    assert no_zone.body == "美国众议院以222票支持212票反对的投票结果通过旨在为提高债务上限扫清道路的议案。"
    assert no_zone.url == "http://finance.eastmoney.com/news/1351,202112082206736198.html"
    assert no_zone.outlet == "东财滚动"

    blank_first = read("2021-12-08-202112082206803113.md")
    assert blank_first.title.startswith("小米集团(01810.HK)")

    empty_url = read("2021-12-08-202112082206870651.md")
    assert empty_url.url == ""

    crlf = read("2022-04-21-NW202204212352227421.md")
    assert "</p>\r\n <p>" in crlf.body

    rolling = read("2022-04-21-202204212352230938.md")
    assert rolling.digest.startswith("长春发布《关于支持")
    assert rolling.body.startswith("<p>长春发布")

    site_news = read("2021-12-01-init.md")
    assert (site_news.code, site_news.title, site_news.category) == ("init", "开站大吉", "sitenews")

    synthetic = jekyll.read_post(
        Path(__file__).parent.parent / "data" / "synthetic" / "-209912319999999999.md", STYLE
    )
    assert synthetic.title == ""
    assert synthetic.url == ""
    assert synthetic.body == "<p>合成正文。</p>"
    assert synthetic.digest.startswith("这是一条合成的测试摘要")


def test_naive_quotes_in_title_are_read_as_the_original_meant():
    text = '---\nlayout: post\ntitle: "他说"你好": 世界"\ndate: 2021-12-08 10:00:00 +0800\n' \
        "categories: emnews\ntags: 东财滚动新闻\n---\n\n正文\n\n<http://x/1>"
    article = jekyll.parse_post(text, "2021-12-08-202112080000000001.md", STYLE)
    assert article.title == '他说"你好": 世界'


@pytest.mark.parametrize(
    "name",
    ["2021-12-08-..%2F..%2Fetc.md", "2021-12-08-a b.md", "notes.txt"],
)
def test_unsafe_or_foreign_file_names_are_rejected(name):
    with pytest.raises(jekyll.PostError, match=r"name|id"):
        jekyll.parse_post("---\ntitle: x\n---\nbody", name, STYLE)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no front matter", "no front matter"),
        ("---\ntitle: x\nbody without end", "not closed"),
        ("---\ntitle: [unclosed\n  - x: y: z\n---\nbody", "not valid YAML"),
    ],
)
def test_broken_posts_say_why(text, reason):
    with pytest.raises(jekyll.PostError, match=reason):
        jekyll.parse_post(text, "2021-12-08-202112080000000001.md", STYLE)


HOSTILE_TITLE = '引号"双" \\反斜杠\\ 冒号: 井号 # 竖线 | 花括号 {a: b} [列表]\n第二行\t制表 \x85\u2028'


def test_hostile_title_survives_export_yaml_and_import(store, tmp_path):
    store.upsert([make_article(1, title=HOSTILE_TITLE)])
    out = tmp_path / "out"
    jekyll.export_posts(store, out, STYLE)
    (path,) = out.iterdir()
    text = path.read_text(encoding="utf-8")
    front = text.split("\n---\n", 1)[0].removeprefix("---\n")
    assert yaml.safe_load(front)["title"] == HOSTILE_TITLE
    assert jekyll.read_post(path, STYLE).title == HOSTILE_TITLE


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
@example("\ufffe")
@example("标题\uffff")
def test_any_title_is_valid_yaml_and_reads_back(title):
    quoted = jekyll.yaml_quote(title)
    assert yaml.safe_load(f"title: {quoted}")["title"] == title
    article = make_article(1, title=title)
    text = jekyll.format_post(article, STYLE)
    # the article dropped NUL characters (see Article), the rest reads back as written
    assert article.title == title.replace("\x00", "")
    assert jekyll.parse_post(text, jekyll.post_file_name(article, BEIJING), STYLE).title == article.title


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=30)
       .filter(lambda t: not any(c.isspace() for c in t)))
@example("新闻\ufffe")
@example("a\x07b")
def test_any_tag_reads_back(tag):
    """Tags are written plain where YAML reads them back unchanged, quoted otherwise
    (Jekyll itself splits a tag line on spaces, so tags have none)."""
    article = make_article(1, tags=[tag])
    text = jekyll.format_post(article, STYLE)
    assert jekyll.parse_post(text, jekyll.post_file_name(article, BEIJING), STYLE).tags == article.tags
    assert "tags" in yaml.safe_load(text.split("---\n")[1])  # valid YAML for Jekyll too


def test_export_then_import_reproduces_the_archive(store, tmp_path):
    jekyll.import_posts(store, [POSTS], STYLE)
    store.upsert([make_article(7, outlet="新华社", digest="一段摘要", tags=["要闻", "宏观"])])
    out = tmp_path / "out"
    jekyll.export_posts(store, out, STYLE)
    with open_store(str(tmp_path / "b.db")) as copy:
        report = jekyll.import_posts(copy, [out], STYLE)
        assert report.skipped == []
        fields = ("id", "code", "title", "published", "outlet", "category", "tags", "body",
                  "digest", "url", "aliases")
        originals = list(store.iter_articles())
        copies = list(copy.iter_articles())
        assert [[getattr(a, f) for f in fields] for a in copies] == [
            [getattr(a, f) for f in fields] for a in originals
        ]


def test_one_corrupt_post_costs_only_itself(store, tmp_path):
    folder = tmp_path / "_posts"
    folder.mkdir()
    for i in range(1000):
        article = make_article(i)
        (folder / jekyll.post_file_name(article, BEIJING)).write_text(
            jekyll.format_post(article, STYLE), encoding="utf-8"
        )
    bad = folder / "2025-03-12-NW202503199999999999.md"
    bad.write_bytes(b"---\ntitle: \"\xff\xfe broken\"\n---\n")
    report = jekyll.import_posts(store, [folder], STYLE, batch_size=100)
    assert report.read == 1001
    assert report.new == 1000
    assert len(report.skipped) == 1
    assert bad.name in report.skipped[0] and "UTF-8" in report.skipped[0]
    assert store.count() == 1000


def test_single_files_and_nested_folders(store, tmp_path):
    nested = tmp_path / "site" / "_posts" / "2021"
    nested.mkdir(parents=True)
    shutil.copy(POSTS / WELL_FORMED[0], nested)
    report = jekyll.import_posts(store, [tmp_path / "site", POSTS / WELL_FORMED[1]], STYLE)
    assert report.new == 2


def test_a_final_newline_after_the_source_url_keeps_the_url():
    """Some of the original site's files end with a newline after their <url> line."""
    style = jekyll.JekyllStyle()
    text = ("---\nlayout: post\ntitle: \"标题\"\ndate: 2021-12-08 09:30:00 +0800\n"
            "categories: emnews\ntags: 东财滚动新闻\n---\n> 摘要\n\n<p>正文</p>\n\n"
            "<http://finance.eastmoney.com/a/202112082206717618.html>\n")
    article = jekyll.parse_post(text, "2021-12-08-202112082206717618.md", style)
    assert article.url == "http://finance.eastmoney.com/a/202112082206717618.html"
    assert (article.digest, article.body) == ("摘要", "<p>正文</p>")
    assert "<>" not in jekyll.format_post(article, style)


def test_stocks_survive_an_export_and_an_import(tmp_path):
    from finews.store import open_store
    from tests.conftest import make_article

    style = jekyll.JekyllStyle()
    listed = make_article(1, body="<p>储能板块午后拉升。</p>", stocks=["0.301987", "90.BK1033"])
    body = '<p><span data-secid="1.600519">贵州茅台</span>公告，五粮液(000858)跟涨。</p>'
    linked = make_article(2, body=body)
    with open_store(str(tmp_path / "a.db")) as store:
        store.upsert([listed, linked])
        before = {a.id: [s["secid"] for s in store.stocks_of([a.key])[a.key]] for a in store.summaries()}
        jekyll.export_posts(store, tmp_path / "posts", style)
    text = (tmp_path / "posts" / jekyll.post_file_name(listed, style.tz)).read_text(encoding="utf-8")
    assert 'stocks: ["0.301987", "90.BK1033"]' in text
    assert "stocks:" not in (tmp_path / "posts" / jekyll.post_file_name(linked, style.tz)).read_text(
        encoding="utf-8")
    with open_store(str(tmp_path / "b.db")) as again:
        jekyll.import_posts(again, [tmp_path / "posts"], style)
        after = {a.id: [s["secid"] for s in again.stocks_of([a.key])[a.key]] for a in again.summaries()}
    assert after == before
