"""A local mock news server speaking Eastmoney's formats, with generated articles.

It serves the 7×24 flash list (``getFastNewsList``), column lists (``getNewsByColumns``) and
article pages (``/a/{code}.html``) for articles it generates, and keeps publishing new ones
when asked to. `finews demo` and the benchmarks use it; it binds to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
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


@dataclass
class MockArticle:
    code: str
    title: str
    published: datetime
    outlet: str
    column: int
    paragraphs: list[str]


class MockNews:
    """The generated world: articles per column, newest last."""

    def __init__(self, columns: int = 1, seed: int = 7, start: datetime | None = None):
        self.rng = random.Random(seed)
        self.columns = columns
        self.articles: list[MockArticle] = []
        self.by_code: dict[str, MockArticle] = {}
        self.clock = start or datetime(2025, 3, 12, 9, 0, tzinfo=BEIJING)
        self.requests = 0
        self.lock = threading.Lock()
        self.log: list[tuple[float, str, str]] | None = None
        """When a list: (time, User-Agent, what was asked: a column or 'fast') per request."""

    def _sentence(self) -> str:
        return "".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(8, 18))) + "。"

    def publish(self, n: int) -> None:
        with self.lock:
            for _ in range(n):
                self.clock += timedelta(seconds=self.rng.randint(5, 90))
                index = len(self.articles)
                code = f"{self.clock:%Y%m%d}{index:010d}"
                article = MockArticle(
                    code=code, title=self._sentence()[:28].rstrip("。"), published=self.clock,
                    outlet=self.rng.choice(OUTLETS), column=index % self.columns,
                    paragraphs=[
                        "".join(self._sentence() for _ in range(self.rng.randint(3, 6)))
                        for _ in range(self.rng.randint(3, 8))
                    ],
                )
                self.articles.append(article)
                self.by_code[code] = article

    def column(self, column: int | None) -> list[MockArticle]:
        with self.lock:
            chosen = [a for a in self.articles if column is None or a.column == column]
        return chosen[::-1]

    # -- responses ---------------------------------------------------------------------------

    def fast_news(self, query: dict[str, str]) -> bytes:
        if "sortEnd" not in query or "req_trace" not in query:
            return _dump({"code": 0, "message": "Required String parameter 'sortEnd' is not present",
                          "data": None})
        newest = self.column(None)
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
            "titleColor": 0, "stockList": [], "image": [],
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

    def article_page(self, code: str) -> bytes | None:
        article = self.by_code.get(code)
        if article is None:
            return None
        title = html.escape(article.title)
        body = "".join(f"<p>　　{html.escape(p)}</p>" for p in article.paragraphs)
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
        if parts.path == "/comm/web/getFastNewsList":
            return 200, "application/json; charset=utf-8", self.fast_news(query)
        if parts.path == "/comm/web/getNewsByColumns":
            return 200, "application/json; charset=utf-8", self.news_by_columns(query)
        if parts.path.startswith("/a/") and parts.path.endswith(".html"):
            page = self.article_page(parts.path[3:-5])
            if page is not None:
                return 200, "text/html; charset=utf-8", page
        if parts.path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        return 404, "text/plain", b"not found"


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


def _sort(article: MockArticle) -> str:
    return f"{int(article.published.timestamp() * 1000)}{int(article.code[-3:]):03d}"


def _dump(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def _handle(news: MockNews, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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


async def serve(news: MockNews, host: str = "127.0.0.1", port: int = 0,
                ready: asyncio.Future | None = None) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(news, r, w), host, port)
    if ready is not None:
        ready.set_result(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


class MockNewsServer:
    """The mock server in a background thread: ``url`` once started."""

    def __init__(self, news: MockNews, port: int = 0):
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
