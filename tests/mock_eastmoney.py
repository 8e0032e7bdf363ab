"""A mock Eastmoney (and feed) server for tests: serves tests/data like the real endpoints,
following the routing table of tests/data/eastmoney/README.md."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from werkzeug import Request, Response

DATA = Path(__file__).parent / "data"
EM = DATA / "eastmoney"
PAGE1_SORT_END = "1741758157074004"
PAGE2_SORT_END = "1741745730724102"


def _file(path: Path, content_type: str = "application/json; charset=utf-8") -> Response:
    return Response(path.read_bytes(), content_type=content_type)


def _json(payload: object) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), content_type="application/json")


class MockEastmoney:
    """Routes requests to fixtures; counts them by path so tests can check politeness."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.polls: Counter[str] = Counter()
        self.log: list[str] = []

    def __call__(self, request: Request) -> Response:
        path = request.path
        self.hits[path] += 1
        self.log.append(request.full_path)
        args = request.args
        if path == "/robots.txt":
            return Response("User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        if path == "/comm/web/getFastNewsList":
            if "sortEnd" not in args or "req_trace" not in args:
                return _file(EM / "fastnews-error-missing-param.json")
            sort_end = args["sortEnd"]
            if sort_end == "":
                return _file(EM / "fastnews-col102-page1.json")
            if sort_end == PAGE1_SORT_END:
                return _file(EM / "fastnews-col102-page2.json")
            return _json({"code": "1", "message": "success",
                          "data": {"fastNewsList": [], "sortEnd": "", "total": 0}})
        if path == "/comm/web/getNewsByColumns":
            column, page = args.get("column"), args.get("page_index", "1")
            if column == "1207":
                return _file(EM / "newsbycolumns-col1207-cjzc.json")
            if column == "350" and page in ("1", "2"):
                return _file(EM / f"newsbycolumns-col350-page{page}.json")
            return _json({"code": "1", "data": {"list": [], "page_index": int(page)}})
        if path == "/search/jsonp":
            cb = args.get("cb", "cb")
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
            text = (EM / name).read_text(encoding="utf-8")
            text = re.sub(r"^[\w$.]+\(", f"{cb}(", text, count=1)
            return Response(text, content_type="application/javascript; charset=utf-8")
        match = re.fullmatch(r"/kuaixun/v1/getlist_102_ajaxResult_50_(\d+)_\.html", path)
        if match:
            page = match.group(1)
            if page in ("1", "2"):
                return _file(EM / f"kuaixun-getlist_102_ajaxResult_50_{page}.js", "text/html")
            return Response('var ajaxResult={"rc":1,"LivesList":[]};', content_type="text/html")
        if path == "/web/webapi":
            kind = args.get("type")
            self.polls[kind] += 1
            suffix = "a" if self.polls[kind] == 1 else "b"
            return _file(EM / f"webapi-type{kind}-{suffix}.json")
        if path == "/information/newmarket/web/webapi":
            return _file(EM / f"newmarket-marketType{args.get('marketType')}.json")
        if path == "/NewsData/GetNewsText.do":
            candidate = EM / f"newstext-{args.get('id', '')}.json"
            if candidate.name.startswith("newstext-NW") and candidate.exists():
                return _file(candidate)
            return _json({"content": "", "text": ""})
        if path == "/a/202503123355721452.html":
            return _file(EM / "article-202503123355721452.html", "text/html; charset=utf-8")
        if path == "/news/1354,202112083354900823.html":
            return _file(EM / "article-legacy-202112083354900823.html", "text/html")
        if path == "/feeds/gbk.xml":
            return _file(DATA / "rss" / "legacy-cdata-gbk.xml", "application/rss+xml")
        if path == "/feeds/rss.xml":
            return _file(DATA / "rss" / "rsshub-modern-eastmoney-search.xml", "application/rss+xml")
        if path == "/feeds/atom.xml":
            return _file(DATA / "rss" / "rsshub-atom-eastmoney-search.xml", "application/atom+xml")
        return Response("not found", status=404)


def sources_toml(base: str) -> str:
    """A finews.toml [[sources]] section with every source kind pointed at the mock."""
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
