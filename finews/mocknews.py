"""A local mock news server speaking Eastmoney's formats, with generated articles.

It serves the 7×24 flash list (``getFastNewsList``), column lists (``getNewsByColumns``),
the legacy rolling and outlet lists (``web/webapi?type=102`` and ``type=45``) with their
full text (``GetNewsText.do``), an RSS feed and article pages (``/a/{code}.html``) for the
articles it generates, and keeps publishing new ones when asked to. With ``overlap`` a
share of stories is in several lists at once, as on the real site: the flash list and a
column under one code, the rolling list under the plain code and the outlet list under the
``NW`` one. It records what it published, in which lists, and every body request, so that
tests can check the archive against it; it can break a list for a while. `finews demo`,
the tests and the benchmarks use it; it binds to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from finews.model import BEIJING

OUTLETS = [
    "证券时报", "上海证券报", "中国证券报", "21世纪经济报道", "每日经济新闻", "第一财经", "财联社",
    "券商中国", "新华社", "经济日报", "中国基金报", "证券日报", "界面新闻", "澎湃新闻", "北京商报",
    "新京报", "华夏时报", "经济观察报", "智通财经", "格隆汇",
]
WORDS = (
    "芯片 降息 央行 股市 债券 基金 银行 证券 保险 利率 汇率 人民币 美元 通胀 经济 增长 出口 进口 "
    "消费 投资 企业 公司 上市 营收 利润 同比 环比 季度 市场 指数 板块 新能源 汽车 光伏 锂电 半导体 "
    "医药 白酒 地产 政策 监管 改革 科技 创新 数字 平台 资本 融资 并购 重组 分红 回购 减持 增持 "
    "股东 业绩 财报 上涨 下跌 收盘 开盘 涨停 成交 外资 港股 美股 A股 期货 原油 黄金 储能 算力 "
    "人工智能 大模型 机器人 5G 云计算"
).split()


COMPANIES = [
    ("华夏储能", "0.301987"), ("东海精工", "1.603218"), ("南岭半导体", "1.688516"),
    ("北辰新材", "0.002817"), ("西江银行", "1.601577"), ("中原汽车", "0.000625"),
    ("天衡医药", "0.300436"), ("远山光伏", "1.605117"), ("星河电子", "0.002475"),
    ("瑞丰控股", "116.01968"),
]
"""Invented companies with valid code shapes: with ``stocks``, articles mention them."""
SECTORS = ["半导体", "新能源", "储能", "医药", "白酒", "算力", "光伏", "汽车", "银行", "机器人"]
HEADLINES = [
    "{co}：{year}年前三季度净利润同比增长{pct}%", "央行开展{amt}亿元{days}天期逆回购操作",
    "{co}拟回购不超过{amt}亿元股份", "{sector}板块午后走强，{co}涨停", "沪指收涨{small}%，成交额{amt2}亿元",
    "{co}获{n}家机构调研，聚焦{topic}业务", "北向资金本周净买入{amt}亿元", "{co}中标{amt}亿元{topic}项目",
    "{month}月{sector}产量同比增长{pct}%", "{co}发布{year}年年度报告",
]
SENTENCES = [
    "{co}公告称，公司{year}年营业收入为{amt}亿元，同比增长{pct}%。",
    "分析人士认为，{topic}需求回暖，{sector}板块景气度有望延续。",
    "截至收盘，沪指报{idx}点，深证成指涨{small}%，两市成交额{amt2}亿元。",
    "{co}表示，将继续加大在{topic}领域的研发投入。",
    "数据显示，{month}月份{topic}产量同比增长{pct}%。",
    "业内人士指出，政策面利好持续释放，市场风险偏好有所提升。",
    "公司董事会同意以自有资金回购股份，回购价格不超过每股{n}元。",
    "机构预计，{sector}行业全年出货量将增长{pct}%左右。",
]
"""The demo's news (``readable``): templates of real headlines and sentences."""
ROLLING_OUTLET = "东财滚动"
OUTLET_LISTS = ("outlet", "rss")
"""Lists that name an article's outlet, besides the columns; the flash and rolling lists
do not."""
ERROR_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class MockArticle:
    code: str
    title: str
    published: datetime
    outlet: str
    column: int
    paragraphs: list[str]
    lists: frozenset[str] = field(default_factory=frozenset)
    story: str = ""
    """The code of the article it reprints (with ``reprints``), else its own."""
    important: bool = False
    """Marked red in the flash list (``titleColor`` 3), as the desk marks one item in nine."""
    stocks: list[tuple[str, str]] = field(default_factory=list)
    """(name, secid) of the companies it mentions: the first by a stock link on its page,
    in the flash list's stockList and as 名称(code) in text; the second as 名称（code.SH）."""

    @property
    def secids(self) -> set[str]:
        return {secid for _, secid in self.stocks}

    @property
    def names_outlet(self) -> bool:
        """Whether some list gives the outlet: then the archive must file it there."""
        return any(name.startswith("column-") or name in OUTLET_LISTS for name in self.lists)


class MockNews:
    """The generated world: articles per column, newest last."""

    def __init__(self, columns: int = 1, seed: int = 7, start: datetime | None = None,
                 *, overlap: bool = False, stocks: bool = False, reprints: float = 0.0,
                 readable: bool = False, follow_clock: bool = False):
        """``reprints``: the share of new articles that reprint a recent one under another
        outlet, as the real site's outlets do (a marked headline, a dateline, a source
        note, a trimmed paragraph; or a 7×24 item of the headline and lead).
        ``readable``: headlines and sentences from templates of real news (the demo),
        instead of random words (tests, whose texts must not look alike);
        ``follow_clock``: publication times never run ahead of the wall clock."""
        self.rng = random.Random(seed)
        self.readable = readable
        self.follow_clock = follow_clock
        self.reprints = reprints
        self.stocks = stocks
        self.columns = columns
        self.overlap = overlap
        self.articles: list[MockArticle] = []
        self.by_code: dict[str, MockArticle] = {}
        self.clock = start or datetime(2025, 3, 12, 9, 0, tzinfo=BEIJING)
        self.requests = 0
        self.lock = threading.Lock()
        self.log: list[tuple[float, str, str]] | None = None
        """When a list: (time, User-Agent, what was asked: a column or 'fast') per request."""
        self.bodies: Counter[str] = Counter()
        """Body requests (article pages and GetNewsText) by article code."""
        self.broken: dict[str, tuple[int, int]] = {}
        """List name -> (requests still to fail, first page that fails)."""

    def break_list(self, name: str, times: int = 1, from_page: int = 1) -> None:
        """Answer the next ``times`` requests for the list's pages from ``from_page`` on
        with an HTML error page and status 200, as a failing proxy does."""
        with self.lock:
            self.broken[name] = (times, from_page)

    def _fails(self, name: str, page: int) -> bool:
        with self.lock:
            times, from_page = self.broken.get(name, (0, 1))
            if times <= 0 or page < from_page:
                return False
            self.broken[name] = (times - 1, from_page)
            return True

    def _lists(self, column: int) -> frozenset[str]:
        """Where a new article is listed. Without overlap: the flash list and its column,
        as before; with it, a random share of lists, as on the real site."""
        if not self.overlap:
            return frozenset({"flash", f"column-{column}"})
        rng, lists = self.rng, set()
        for name, chance in (("flash", 0.5), (f"column-{column}", 0.75), ("rolling", 0.4),
                             ("outlet", 0.3), ("rss", 0.2),
                             (f"column-{rng.randrange(self.columns)}", 0.15)):
            if rng.random() < chance:
                lists.add(name)
        return frozenset(lists or {"flash"})

    def _sentence(self) -> str:
        if self.readable:
            return self._filled(self.rng.choice(SENTENCES))
        return "".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(8, 18))) + "。"

    def _headline(self) -> str:
        if self.readable:
            return self._filled(self.rng.choice(HEADLINES))
        return self._sentence()[:28].rstrip("。")

    def _filled(self, template: str) -> str:
        rng = self.rng
        return template.format(
            co=rng.choice(COMPANIES)[0], sector=rng.choice(SECTORS), topic=rng.choice(SECTORS),
            year=rng.choice((2024, 2025)), pct=f"{rng.uniform(1, 60):.1f}",
            small=f"{rng.uniform(0.1, 2.5):.2f}",
            amt=rng.choice((20, 50, 100, 160, 300, 500, 1050, 1600)), amt2=rng.randint(7000, 15000),
            days=rng.choice((7, 14)), n=rng.randint(5, 80), idx=f"{rng.uniform(3000, 3500):.2f}",
            month=rng.randint(1, 12))

    def _advance(self) -> None:
        self.clock += timedelta(seconds=self.rng.randint(5, 90))
        if self.follow_clock:
            self.clock = min(self.clock, datetime.now(BEIJING).replace(microsecond=0))

    def publish(self, n: int) -> None:
        with self.lock:
            for _ in range(n):
                self._advance()
                index = len(self.articles)
                code = f"{self.clock:%Y%m%d}{index:010d}"
                recent = self.articles[-30:]
                if recent and self.rng.random() < self.reprints:
                    article = self._reprint(self.rng.choice(recent), code, index)
                else:
                    article = MockArticle(
                        code=code, title=self._headline(), published=self.clock,
                        outlet=self.rng.choice(OUTLETS), column=index % self.columns,
                        paragraphs=[
                            "".join(self._sentence() for _ in range(self.rng.randint(3, 6)))
                            for _ in range(self.rng.randint(3, 8))
                        ], story=code,
                    )
                    if self.stocks:
                        self._mention_companies(article)
                article.lists = self._lists(article.column)
                article.important = index % 9 == 4
                self.articles.append(article)
                self.by_code[code] = article

    def revise(self, code: str, lead: str) -> None:
        """The desk edits a published article: its first paragraph starts anew with
        ``lead``, so its page, its text and every list's summary of it change."""
        with self.lock:
            article = self.by_code[code]
            article.paragraphs = [lead + article.paragraphs[0][len(lead):], *article.paragraphs[1:]]

    def _reprint(self, original: MockArticle, code: str, index: int) -> MockArticle:
        rng = self.rng
        outlet = rng.choice([o for o in OUTLETS if o != original.outlet])
        paragraphs = list(original.paragraphs)
        title = original.title
        if rng.random() < 0.25:  # a 7×24 item: the headline and the lead
            paragraphs = [f"财联社{self.clock.month}月{self.clock.day}日电，{paragraphs[0]}"]
        else:
            title = rng.choice(["【独家】{}", "快讯：{}", outlet + "：{}", "{}"]).format(title)
            if rng.random() < 0.5:
                dateline = rng.choice(["（记者 王磊）", "本报讯（记者 李静）", "证券时报网讯，"])
                paragraphs[0] = dateline + paragraphs[0]
            if len(paragraphs) > 2 and rng.random() < 0.5:
                del paragraphs[-1]
            if rng.random() < 0.5:
                paragraphs.append(f"（文章来源：{outlet}）")
        return MockArticle(code=code, title=title, published=self.clock, outlet=outlet,
                           column=index % self.columns, paragraphs=paragraphs,
                           story=original.story, stocks=list(original.stocks))

    def _mention_companies(self, article: MockArticle) -> None:
        article.stocks = self.rng.sample(COMPANIES, self.rng.choice((0, 1, 1, 2)))
        for number, (name, secid) in enumerate(article.stocks):
            market, code = secid.split(".")
            if number:
                suffix = {"1": ".SH", "0": ".SZ", "116": ".HK"}[market]
                article.paragraphs[0] += f"{name}（{code}{suffix}）发布公告。"
            else:
                article.paragraphs[0] += f"{name}({code})发布公告。"

    def column(self, column: int | None) -> list[MockArticle]:
        return self.listed("flash" if column is None else f"column-{column}")

    def listed(self, name: str) -> list[MockArticle]:
        """The articles of one list, newest first."""
        with self.lock:
            chosen = [a for a in self.articles if name in a.lists]
        return chosen[::-1]

    # -- responses ---------------------------------------------------------------------------

    def fast_news(self, query: dict[str, str]) -> bytes:
        if "sortEnd" not in query or "req_trace" not in query:
            return _dump({"code": 0, "message": "Required String parameter 'sortEnd' is not present",
                          "data": None})
        newest = self.listed("flash")
        size = int(query.get("pageSize") or 50)
        start = 0
        if query["sortEnd"]:
            start = next(
                (i + 1 for i, a in enumerate(newest) if _sort(a) == query["sortEnd"]), len(newest)
            )
        page = newest[start : start + size]
        items = [{
            "code": a.code, "title": a.title, "summary": f"【{a.title}】{a.paragraphs[0]}",
            "showTime": f"{a.published:%Y-%m-%d %H:%M:%S}", "realSort": _sort(a),
            "titleColor": 3 if a.important else 0,
            "stockList": [secid for _, secid in a.stocks[:1]], "image": [],
        } for a in page]
        return _dump({"req_trace": query["req_trace"], "code": "1", "message": "success",
                      "data": {"fastNewsList": items, "sortEnd": _sort(page[-1]) if page else "",
                               "total": len(newest)}})

    def news_by_columns(self, query: dict[str, str]) -> bytes:
        column = int(query.get("column") or 0)
        index = max(1, int(query.get("page_index") or 1))
        size = int(query.get("page_size") or 50)
        newest = self.column(column)
        page = newest[(index - 1) * size : index * size]
        items = [{
            "code": a.code, "showTime": f"{a.published:%Y-%m-%d %H:%M:%S}", "title": a.title,
            "mediaName": a.outlet, "summary": a.paragraphs[0][:60], "image": "",
            "url": f"http://finance.eastmoney.com/a/{a.code}.html",
            "uniqueUrl": f"http://finance.eastmoney.com/a/{a.code}.html", "Np_dst": "CMS",
        } for a in page]
        return _dump({"code": "1", "message": "success",
                      "data": {"list": items, "page_index": index, "page_size": size,
                               "totle_hits": len(newest)}})

    def legacy_list(self, query: dict[str, str]) -> bytes:
        """``web/webapi``: type 102 is the rolling list (plain ids), 45 the outlet list
        (``NW`` codes), the newest ``count`` items, no paging."""
        count = int(query.get("count") or 100)
        if query.get("type") == "102":
            return _dump({"records": [{
                "id": a.code, "infoCode": f"NW{a.code}", "title": a.title,
                "digest": f"【{a.title}】{a.paragraphs[0][:80]}（{a.outlet}）",
                "showtime": f"{a.published:%Y-%m-%d %H:%M:%S}",
                "url_w": f"http://finance.eastmoney.com/a/{a.code}.html",
            } for a in self.listed("rolling")[:count]]})
        return _dump({"nodeList": [{
            "infocode": f"NW{a.code}", "title": a.title, "simdigest": a.paragraphs[0][:80],
            "showtime": f"{a.published:%Y-%m-%d %H:%M:%S}", "from": a.outlet,
        } for a in self.listed("outlet")[:count]]})

    def news_text(self, info_code: str) -> bytes:
        article = self.by_code.get(info_code.removeprefix("NW"))
        if article is None:
            return _dump({"content": "", "text": ""})
        self.bodies[article.code] += 1
        return _dump({"content": "".join(f"<p>　　{html.escape(p)}</p>" for p in article.paragraphs)})

    def rss(self, query: dict[str, str]) -> bytes:
        """An RSS 2.0 feed of the newest 50 (``count``) items, with relative links and the
        outlet as author, the lead as description."""
        count = int(query.get("count") or 50)
        items = "".join(
            f"<item><title>{html.escape(a.title)}</title><link>/a/{a.code}.html</link>"
            f"<guid>/a/{a.code}.html</guid><author>{html.escape(a.outlet)}</author>"
            f"<pubDate>{format_datetime(a.published)}</pubDate>"
            f"<description>{html.escape(a.paragraphs[0][:40])}</description></item>"
            for a in self.listed("rss")[:count]
        )
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>模拟财经</title><link>/</link><description>mock</description>"
                f"{items}</channel></rss>").encode()

    def article_page(self, code: str) -> bytes | None:
        article = self.by_code.get(code)
        if article is None:
            return None
        self.bodies[code] += 1
        title = html.escape(article.title)
        body = "".join(f"<p>　　{html.escape(p)}</p>" for p in article.paragraphs)
        for name, secid in article.stocks[:1]:
            market, code = secid.split(".")
            link = (f'<span id="stock_{secid}"><a href="https://quote.eastmoney.com/unify/r/{secid}" '
                    f'data-code="{market},{code}">{name}</a></span>(<span class="web-stock-hq" '
                    f'data-code="{secid}">{code}</span>)')
            body = body.replace(f"{name}({code})", link, 1)
        return (
            f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}_东方财富网</title>"
            f"</head><body><div class=\"detail_top\"><div class=\"title\">{title}</div>"
            f"<div class=\"infos\"><div class=\"item\">{article.published:%Y年%m月%d日 %H:%M}</div>"
            f"<div class=\"item\">来源：<a href=\"#\">{html.escape(article.outlet)}</a></div></div>"
            f"</div><div id=\"ContentBody\" class=\"txtinfos\">{body}"
            f"<!-- EM_StockImg_Start --><p><img src=\"/k.png\" onerror=\"x()\"></p>"
            f"<!-- EM_StockImg_End --><p class=\"em_declare\">郑重声明：示例。</p></div>"
            f"</body></html>"
        ).encode()

    def respond(self, target: str, agent: str = "") -> tuple[int, str, bytes]:
        self.requests += 1
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if self.log is not None:
            self.log.append((time.monotonic(), agent, self._subject(parts.path, query)))
        listing = self._list_name(parts.path, query)
        if listing and self._fails(listing, self._page_number(query)):
            return 200, "text/html; charset=utf-8", ERROR_PAGE
        if parts.path == "/comm/web/getFastNewsList":
            return 200, "application/json; charset=utf-8", self.fast_news(query)
        if parts.path == "/comm/web/getNewsByColumns":
            return 200, "application/json; charset=utf-8", self.news_by_columns(query)
        if parts.path == "/web/webapi":
            return 200, "application/json; charset=utf-8", self.legacy_list(query)
        if parts.path == "/NewsData/GetNewsText.do":
            return 200, "application/json; charset=utf-8", self.news_text(query.get("id", ""))
        if parts.path == "/feeds/rss.xml":
            return 200, "application/rss+xml; charset=utf-8", self.rss(query)
        if parts.path.startswith("/a/") and parts.path.endswith(".html"):
            page = self.article_page(parts.path[3:-5])
            if page is not None:
                return 200, "text/html; charset=utf-8", page
        if parts.path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        return 404, "text/plain", b"not found"

    @staticmethod
    def _list_name(path: str, query: dict[str, str]) -> str:
        if path == "/comm/web/getFastNewsList":
            return "flash"
        if path == "/comm/web/getNewsByColumns":
            return f"column-{query.get('column')}"
        if path == "/web/webapi":
            return "rolling" if query.get("type") == "102" else "outlet"
        return "rss" if path == "/feeds/rss.xml" else ""

    @staticmethod
    def _page_number(query: dict[str, str]) -> int:
        """Page 1 for the first request of a list, 2 for any later one (cursor lists)."""
        if "page_index" in query:
            return int(query["page_index"] or 1)
        return 2 if query.get("sortEnd") else 1

    def _subject(self, path: str, query: dict[str, str]) -> str:
        if path.startswith("/a/"):
            article = self.by_code.get(path[3:].removesuffix(".html"))
            return f"column-{article.column}" if article else "?"
        if "column" in query:
            return f"column-{query['column']}"
        return "fast" if "FastNews" in path else path


def column_sources_toml(url: str, columns: int, *, page_size: int, max_pages: int) -> str:
    """finews.toml [[sources]] tables: one column-list source per column of a mock server
    at ``url`` (benchmarks and tests that run finews against it)."""
    return "".join(f"""
[[sources]]
name = "column-{i}"
kind = "eastmoney-columns"
url = "{url}/comm/web/getNewsByColumns"
article_url = "{url}/a/{{code}}.html"
params = {{ column = {i} }}
page_size = {page_size}
max_pages = {max_pages}
""" for i in range(columns))


def overlap_sources_toml(url: str, columns: int, *, page_size: int, max_pages: int,
                         flash_full_text: str = "auto", legacy_count: int = 100) -> str:
    """finews.toml [[sources]] for every list of an overlapping mock world: the flash
    and legacy rolling lists as 东财滚动 (emnews), the columns, the outlet list, the feed."""
    rolling = f'outlet = "{ROLLING_OUTLET}"\ncategory = "emnews"\ntags = ["东财滚动新闻"]'
    text_url = f"{url}/NewsData/GetNewsText.do?id={{code}}"
    return column_sources_toml(url, columns, page_size=page_size, max_pages=max_pages) + f"""
[[sources]]
name = "flash"
kind = "eastmoney-fastnews"
url = "{url}/comm/web/getFastNewsList"
article_url = "{url}/a/{{code}}.html"
full_text = "{flash_full_text}"
page_size = {page_size}
max_pages = {max_pages}
{rolling}

[[sources]]
name = "rolling"
kind = "legacy-102"
url = "{url}/web/webapi?type=102&count={legacy_count}"
body_url = "{text_url}"
{rolling}

[[sources]]
name = "outlets"
kind = "legacy-45"
url = "{url}/web/webapi?type=45&count={legacy_count}"
body_url = "{text_url}"

[[sources]]
name = "rss"
kind = "feed"
url = "{url}/feeds/rss.xml?count={legacy_count}"
"""


FIXTURE_PAGE1_SORT_END = "1741758157074004"
FIXTURE_PAGE2_SORT_END = "1741745730724102"


class FixtureNews:
    """Real source responses from a folder (tests/data: ``eastmoney/`` and ``rss/``), routed
    like the real endpoints, following the routing table of its eastmoney/README.md. Counts
    requests by path (``hits``), so that tests can check politeness."""

    def __init__(self, data: Path):
        self.data = data
        self.em = data / "eastmoney"
        self.hits: Counter[str] = Counter()
        self.polls: Counter[str] = Counter()

    def _file(self, path: Path, content_type: str = "application/json; charset=utf-8"):
        return 200, content_type, path.read_bytes()

    def respond(self, target: str, agent: str = "") -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        path = parts.path
        args = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.hits[path] += 1
        em = self.em
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /private/\n"
        if path == "/comm/web/getFastNewsList":
            if "sortEnd" not in args or "req_trace" not in args:
                return self._file(em / "fastnews-error-missing-param.json")
            if args["sortEnd"] == "":
                return self._file(em / "fastnews-col102-page1.json")
            if args["sortEnd"] == FIXTURE_PAGE1_SORT_END:
                return self._file(em / "fastnews-col102-page2.json")
            return 200, "application/json", _dump({"code": "1", "message": "success",
                                                   "data": {"fastNewsList": [], "sortEnd": "", "total": 0}})
        if path == "/comm/web/getNewsByColumns":
            column, page = args.get("column"), args.get("page_index", "1")
            if column == "1207":
                return self._file(em / "newsbycolumns-col1207-cjzc.json")
            if column == "350" and page in ("1", "2"):
                return self._file(em / f"newsbycolumns-col350-page{page}.json")
            empty = {"code": "1", "data": {"list": [], "page_index": int(page)}}
            return 200, "application/json", _dump(empty)
        if path == "/search/jsonp":
            return self._search(args)
        match = re.fullmatch(r"/kuaixun/v1/getlist_102_ajaxResult_50_(\d+)_\.html", path)
        if match:
            if match.group(1) in ("1", "2"):
                return self._file(em / f"kuaixun-getlist_102_ajaxResult_50_{match.group(1)}.js", "text/html")
            return 200, "text/html", b'var ajaxResult={"rc":1,"LivesList":[]};'
        if path == "/web/webapi":
            kind = args.get("type")
            self.polls[kind] += 1
            return self._file(em / f"webapi-type{kind}-{'a' if self.polls[kind] == 1 else 'b'}.json")
        if path == "/information/newmarket/web/webapi":
            return self._file(em / f"newmarket-marketType{args.get('marketType')}.json")
        if path == "/NewsData/GetNewsText.do":
            candidate = em / f"newstext-{args.get('id', '')}.json"
            if candidate.name.startswith("newstext-NW") and candidate.exists():
                return self._file(candidate)
            return 200, "application/json", _dump({"content": "", "text": ""})
        pages = {"/a/202503123355721452.html": em / "article-202503123355721452.html",
                 "/news/1354,202112083354900823.html": em / "article-legacy-202112083354900823.html"}
        if path in pages:
            return self._file(pages[path], "text/html; charset=utf-8")
        feeds = {"/feeds/gbk.xml": ("legacy-cdata-gbk.xml", "application/rss+xml"),
                 "/feeds/rss.xml": ("rsshub-modern-eastmoney-search.xml", "application/rss+xml"),
                 "/feeds/atom.xml": ("rsshub-atom-eastmoney-search.xml", "application/atom+xml")}
        if path in feeds:
            name, content_type = feeds[path]
            return self._file(self.data / "rss" / name, content_type)
        return 404, "text/plain", b"not found"

    def _search(self, args: dict[str, str]) -> tuple[int, str, bytes]:
        callback = args.get("cb", "cb")
        param = json.loads(args.get("param", "{}"))
        page = param.get("param", {}).get(param.get("type", [""])[0], {}).get("pageIndex", 1)
        if page != 1:
            name = "search-empty-result.js"
        elif param.get("keyword") == "301987":
            name = "search-cmsArticleWebOld-301987.js"
        elif param.get("type") == ["cmsArticle"]:
            name = "search-cmsArticle-dongyuexincai.js"
        else:
            name = "search-empty-result.js"
        text = (self.em / name).read_text(encoding="utf-8")
        text = re.sub(r"^[\w$.]+\(", f"{callback}(", text, count=1)
        return 200, "application/javascript; charset=utf-8", text.encode()


def fixture_sources_toml(base: str) -> str:
    """A finews.toml with every source kind pointed at a FixtureNews server at ``base``."""
    return f"""
[fetch]
min_interval = 0
backoff = 0.01
retries = 1
connect_timeout = 2
read_timeout = 2
total_timeout = 5

[[sources]]
name = "fast"
kind = "eastmoney-fastnews"
url = "{base}/comm/web/getFastNewsList"
article_url = "{base}/a/{{code}}.html"
outlet = "东财滚动"
category = "emnews"
tags = ["东财滚动新闻"]

[[sources]]
name = "yaowen"
kind = "eastmoney-columns"
url = "{base}/comm/web/getNewsByColumns"
article_url = "{base}/a/{{code}}.html"
params = {{ column = 350 }}

[[sources]]
name = "cjzc"
kind = "eastmoney-columns"
url = "{base}/comm/web/getNewsByColumns"
article_url = "{base}/a/{{code}}.html"
full_text = "never"
params = {{ column = 1207 }}

[[sources]]
name = "search-301987"
kind = "eastmoney-search"
url = "{base}/search/jsonp"
article_url = "{base}/a/{{code}}.html"
params = {{ keyword = "301987" }}

[[sources]]
name = "search-dongyue"
kind = "eastmoney-search"
url = "{base}/search/jsonp"
article_url = "{base}/a/{{code}}.html"
params = {{ keyword = "东岳新材", type = "cmsArticle" }}

[[sources]]
name = "search-empty"
kind = "eastmoney-search"
url = "{base}/search/jsonp"
params = {{ keyword = "nothing" }}

[[sources]]
name = "kuaixun"
kind = "eastmoney-kuaixun"
url = "{base}/kuaixun/v1/getlist_102_ajaxResult_50_{{page}}_.html"
article_url = "{base}/a/{{code}}.html"
full_text = "never"
outlet = "东财滚动"
category = "emnews"
tags = ["东财滚动新闻"]

[[sources]]
name = "legacy-102"
kind = "legacy-102"
url = "{base}/web/webapi?type=102&count=100&newsid=1"
body_url = "{base}/NewsData/GetNewsText.do?id={{code}}"
outlet = "东财滚动"
category = "emnews"
tags = ["东财滚动新闻"]

[[sources]]
name = "legacy-45"
kind = "legacy-45"
url = "{base}/web/webapi?type=45&count=100&newsid=1"
body_url = "{base}/NewsData/GetNewsText.do?id={{code}}"

[[sources]]
name = "market-37"
kind = "legacy-newmarket"
url = "{base}/information/newmarket/web/webapi?marketType=37&count=100"
body_url = "{base}/NewsData/GetNewsText.do?id={{code}}"

[[sources]]
name = "market-38"
kind = "legacy-newmarket"
url = "{base}/information/newmarket/web/webapi?marketType=38&count=100"
body_url = "{base}/NewsData/GetNewsText.do?id={{code}}"

[[sources]]
name = "market-39"
kind = "legacy-newmarket"
url = "{base}/information/newmarket/web/webapi?marketType=39&count=100"
body_url = "{base}/NewsData/GetNewsText.do?id={{code}}"

[[sources]]
name = "feed-gbk"
kind = "feed"
url = "{base}/feeds/gbk.xml"
full_text = "never"

[[sources]]
name = "feed-rss"
kind = "feed"
url = "{base}/feeds/rss.xml"
full_text = "never"

[[sources]]
name = "feed-atom"
kind = "feed"
url = "{base}/feeds/atom.xml"
full_text = "never"
"""


def _sort(article: MockArticle) -> str:
    return f"{int(article.published.timestamp() * 1000)}{int(article.code[-3:]):03d}"


def _dump(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def _handle(news: MockNews | FixtureNews, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3:
                break
            agent = next((line[11:].strip() for line in head.decode("latin-1").split("\r\n")
                          if line.lower().startswith("user-agent:")), "")
            status, content_type, body = news.respond(parts[1], agent)
            reason = "OK" if status == 200 else "Not Found"
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n".encode() + body
            )
            await writer.drain()
            if b"connection: close" in head.lower():
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(news: MockNews | FixtureNews, host: str = "127.0.0.1", port: int = 0,
                ready: asyncio.Future | None = None) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(news, r, w), host, port)
    if ready is not None:
        ready.set_result(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


class MockNewsServer:
    """A mock (generated or fixtures) in a background thread: ``url`` once started."""

    def __init__(self, news: MockNews | FixtureNews, port: int = 0):
        self.news = news
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        ready: asyncio.Future = self.loop.create_future()
        task = self.loop.create_task(serve(self.news, port=self.port, ready=ready))
        ready.add_done_callback(lambda f: self._ready(f.result()))
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(task)

    def _ready(self, port: int) -> None:
        self.port = port
        self.started.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MockNewsServer:
        self.thread.start()
        self.started.wait(10)
        return self

    def stop(self) -> None:
        for task in asyncio.all_tasks(self.loop):
            self.loop.call_soon_threadsafe(task.cancel)
        self.thread.join(5)
