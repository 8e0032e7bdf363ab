"""Eastmoney's news APIs: the 7×24 flash list, column lists, search, the old kuaixun list,
and the legacy endpoints the original site polled. The spec with sources for every field is
tests/data/eastmoney/README.md."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from finews.clean import clean_text, clean_title, sanitize_html, strip_bracket_title, text_to_html
from finews.errors import InvalidArticle, ParseError
from finews.fetch import Fetcher
from finews.follow import IMPORTANT
from finews.sources.base import Item, Page, Source, parse_items, parse_time

ARTICLE_URL = "https://finance.eastmoney.com/a/{code}.html"
SHARE_URL = "http://choicewzp1.eastmoney.com/html_News/NewsShare.html?infoCode={code}"
NEWS_TEXT_URL = "http://choicewzp1.eastmoney.com/NewsData/GetNewsText.do?id={code}"
_DIGITS = re.compile(r"\d{16,24}")


def _trace() -> str:
    return str(int(time.time() * 1000))


def _ok(payload: Any, where: str) -> dict:
    """Eastmoney answers errors with HTTP 200: check the envelope."""
    if not isinstance(payload, dict):
        raise ParseError(f"{where}: expected a JSON object, got {type(payload).__name__}")
    code = payload.get("code")
    data = payload.get("data")
    if data is None and "data" in payload:
        message = payload.get("message") or payload.get("msg") or "no data"
        raise ParseError(f"{where}: the API answered with an error (code {code!r}: {message})")
    return payload


def _list_at(payload: dict, *path: str, where: str) -> list:
    node: Any = payload
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise ParseError(f"{where}: no {'.'.join(path)} in the response")
        node = node[key]
    if node is None:
        return []
    if not isinstance(node, list):
        raise ParseError(f"{where}: {'.'.join(path)} is not a list")
    return node


def _title_or_summary(title: Any, summary_text: str) -> str:
    title = clean_title(title if isinstance(title, str) else "")
    if title:
        return title
    if summary_text.startswith("【") and "】" in summary_text:
        return clean_title(summary_text[1:].split("】", 1)[0])
    first = re.split(r"[。！？\n]", summary_text, maxsplit=1)[0]
    return clean_title(first[:60])


def _code(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArticle(f"no article code ({value!r})")
    return value.strip()


class EastmoneySource(Source):
    """Shared helpers: article page addresses built from the code."""

    def page_url(self, code: str) -> str:
        return (self.settings.article_url or ARTICLE_URL).format(code=code)

    def public_url(self, code: str, given: Any = "") -> str:
        if isinstance(given, str) and given.strip():
            return given.strip()
        return ARTICLE_URL.format(code=code)


def _red(color: Any) -> bool:
    """``titleColor``: 0 for an ordinary item, non-zero (3 in the fixtures) for one the desk
    marked red, important; a string of digits counts as its number."""
    if isinstance(color, str) and color.strip().isdigit():
        color = int(color)
    return isinstance(color, int) and not isinstance(color, bool) and color != 0


class FastNews(EastmoneySource):
    """7×24 flash news (getFastNewsList): cursor ``sortEnd``; the summary is the story."""

    kind = "eastmoney-fastnews"

    def first_cursor(self) -> str:
        return ""

    async def list_page(self, fetcher: Fetcher, cursor: Any) -> Page:
        s = self.settings
        params = {
            "client": "web", "biz": "web_724", "fastColumn": "102", "sortEnd": cursor or "",
            "pageSize": str(s.page_size), "req_trace": _trace(), **s.params,
        }
        response = await fetcher.get(s.url, params=params)
        payload = _ok(response.json(), s.url)
        raw = _list_at(payload, "data", "fastNewsList", where=s.url)
        items, problems = parse_items(raw, self._item, s.url)
        next_cursor = payload["data"].get("sortEnd") or None if raw else None
        return Page(items, problems, next_cursor)

    def _item(self, raw: dict) -> Item | None:
        code = _code(raw.get("code"))
        summary = clean_text(raw.get("summary"))
        story = strip_bracket_title(summary)
        title = _title_or_summary(raw.get("title"), summary)
        if not title:
            raise InvalidArticle(f"{code}: empty title and summary")
        listed = raw.get("stockList")
        return Item(
            code=code, title=title, published=parse_time(raw.get("showTime")), outlet="",
            url=ARTICLE_URL.format(code=code), body=text_to_html(story), digest=story,
            full_text_url=self.page_url(code),
            stocks=[s for s in listed if isinstance(s, str)] if isinstance(listed, list) else [],
            importance=IMPORTANT if _red(raw.get("titleColor")) else 0,
        )


class Columns(EastmoneySource):
    """Column lists (getNewsByColumns): numbered pages; the summary is only a teaser."""

    kind = "eastmoney-columns"
    default_full_text = True

    def first_cursor(self) -> int:
        return 1

    async def list_page(self, fetcher: Fetcher, cursor: Any) -> Page:
        s = self.settings
        params = {
            "client": "web", "biz": "web_news_col", "column": "350", "order": "1",
            "needInteractData": "0", "page_index": str(cursor), "page_size": str(s.page_size),
            "req_trace": _trace(), **s.params,
        }
        response = await fetcher.get(s.url, params=params)
        payload = _ok(response.json(), s.url)
        raw = _list_at(payload, "data", "list", where=s.url)
        items, problems = parse_items(raw, self._item, s.url)
        return Page(items, problems, cursor + 1 if raw else None)

    def _item(self, raw: dict) -> Item | None:
        code = _code(raw.get("code"))
        summary = clean_text(raw.get("summary"))
        title = _title_or_summary(raw.get("title"), summary)
        if not title:
            raise InvalidArticle(f"{code}: empty title")
        kind = str(raw.get("Np_dst") or raw.get("np_dst") or "CMS").upper()
        url = self.public_url(code, raw.get("uniqueUrl") or raw.get("url"))
        return Item(
            code=code, title=title, published=parse_time(raw.get("showTime")),
            outlet=clean_title(raw.get("mediaName")), url=url, body=text_to_html(summary),
            digest=summary, full_text_url=self.page_url(code) if kind == "CMS" else "",
        )


class Search(EastmoneySource):
    """The search API (JSONP): a keyword's articles; content is a snippet."""

    kind = "eastmoney-search"
    default_full_text = True

    def first_cursor(self) -> int:
        return 1

    async def list_page(self, fetcher: Fetcher, cursor: Any) -> Page:
        s = self.settings
        kind = s.params.get("type", "cmsArticleWebOld")
        param = {
            "uid": "", "keyword": s.params.get("keyword", ""), "type": [kind], "client": "web",
            "clientType": "web", "clientVersion": "curr",
            "param": {kind: {"searchScope": "default", "sort": "default", "pageIndex": cursor,
                             "pageSize": s.page_size, "preTag": "<em>", "postTag": "</em>"}},
        }
        params = {"cb": "cb", "param": json.dumps(param, ensure_ascii=False), "_": _trace()}
        response = await fetcher.get(s.url, params=params)
        payload = response.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("result"), dict):
            raise ParseError(f"{s.url}: no result object in the response")
        raw = payload["result"].get(kind)
        if raw is None:
            note = [] if cursor > 1 else [f"{s.url}: the result has no {kind} list (no matches?)"]
            return Page([], [], None, notes=note)
        if not isinstance(raw, list):
            raise ParseError(f"{s.url}: result.{kind} is not a list")
        items, problems = parse_items(raw, self._item, s.url)
        return Page(items, problems, cursor + 1 if raw else None)

    def _item(self, raw: dict) -> Item | None:
        code = _code(raw.get("code"))
        content = clean_text(raw.get("content"))
        title = _title_or_summary(raw.get("title"), content)
        if not title:
            raise InvalidArticle(f"{code}: empty title")
        return Item(
            code=code, title=title, published=parse_time(raw.get("date")),
            outlet=clean_title(raw.get("mediaName")), url=self.public_url(code, raw.get("url")),
            body=text_to_html(content), digest=content, full_text_url=self.page_url(code),
        )


class Kuaixun(EastmoneySource):
    """The old kuaixun list: a JS file ``var ajaxResult={...};`` per numbered page."""

    kind = "eastmoney-kuaixun"

    def first_cursor(self) -> int:
        return 1

    async def list_page(self, fetcher: Fetcher, cursor: Any) -> Page:
        s = self.settings
        url = s.url.format(page=cursor, page_size=s.page_size)
        response = await fetcher.get(url, params=s.params or None)
        payload = response.json()
        if not isinstance(payload, dict):
            raise ParseError(f"{url}: expected a JS object")
        raw = _list_at(payload, "LivesList", where=url)
        items, problems = parse_items(raw, self._item, url)
        more = raw and "{page}" in s.url
        return Page(items, problems, cursor + 1 if more else None)

    def _item(self, raw: dict) -> Item | None:
        code = _code(raw.get("newsid") or raw.get("id"))
        digest = clean_text(raw.get("digest") or raw.get("simdigest"))
        story = strip_bracket_title(digest)
        title = _title_or_summary(raw.get("title") or raw.get("simtitle"), digest)
        if not title:
            raise InvalidArticle(f"{code}: empty title and digest")
        url = self.public_url(code, raw.get("url_unique") or raw.get("url_w"))
        return Item(
            code=code, title=title, published=parse_time(raw.get("showtime")), outlet="",
            url=url, body=text_to_html(story), digest=story, full_text_url=self.page_url(code),
        )


class LegacySource(EastmoneySource):
    """The endpoints the original site polled: one list, full text from GetNewsText.do."""

    default_full_text = True
    list_key = ""
    text_keys = ("text", "content")

    async def list_page(self, fetcher: Fetcher, cursor: Any) -> Page:
        s = self.settings
        response = await fetcher.get(s.url, params=s.params or None)
        payload = response.json()
        if not isinstance(payload, dict):
            raise ParseError(f"{s.url}: expected a JSON object")
        raw = _list_at(payload, self.list_key, where=s.url)
        items, problems = parse_items(raw, self._item, s.url)
        return Page(items, problems, None)

    def _item(self, raw: dict) -> Item | None:
        raise NotImplementedError

    def text_url(self, info_code: str) -> str:
        return (self.settings.body_url or NEWS_TEXT_URL).format(code=info_code)

    async def full_text(self, fetcher: Fetcher, item: Item) -> str:
        response = await fetcher.get(item.full_text_url, kind="body")
        payload = response.json()
        if not isinstance(payload, dict):
            raise ParseError(f"{item.full_text_url}: expected a JSON object")
        for key in self.text_keys:
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                return sanitize_html(value.replace("\u3000\u3000", ""), item.url)
        return ""


class Legacy102(LegacySource):
    """东财滚动新闻 (``web/webapi?type=102`` -> ``records``)."""

    kind = "legacy-102"
    list_key = "records"
    text_keys = ("content", "text")

    def _item(self, raw: dict) -> Item | None:
        code = _code(raw.get("id"))
        if not _DIGITS.fullmatch(code):
            raise InvalidArticle(f"unexpected id {code!r}")
        info_code = str(raw.get("infoCode") or f"NW{code}")
        digest = strip_bracket_title(clean_text(raw.get("digest")))
        title = _title_or_summary(raw.get("title"), clean_text(raw.get("digest")))
        if not title:
            raise InvalidArticle(f"{code}: empty title")
        return Item(
            code=code, title=title, published=parse_time(raw.get("showtime")), outlet="",
            url=self.public_url(code, raw.get("url_w")), body=text_to_html(digest),
            digest=digest, full_text_url=self.text_url(info_code),
        )


class Legacy45(LegacySource):
    """资讯 by media (``web/webapi?type=45`` -> ``nodeList``)."""

    kind = "legacy-45"
    list_key = "nodeList"

    def _item(self, raw: dict) -> Item | None:
        code = _code(raw.get("infocode") or raw.get("infoCode"))
        digest = strip_bracket_title(clean_text(raw.get("simdigest")))
        title = _title_or_summary(raw.get("title") or raw.get("simtitle"), digest)
        if not title:
            raise InvalidArticle(f"{code}: empty title")
        return Item(
            code=code, title=title, published=parse_time(raw.get("showtime")),
            outlet=clean_title(raw.get("from")), url=SHARE_URL.format(code=code),
            body=text_to_html(digest), full_text_url=self.text_url(code),
        )


class LegacyNewMarket(LegacySource):
    """Market news (``newmarket/web/webapi?marketType=`` -> ``record``)."""

    kind = "legacy-newmarket"
    list_key = "record"

    def _item(self, raw: dict) -> Item | None:
        code = _code(raw.get("infoCode") or raw.get("infocode"))
        title = clean_title(raw.get("title"))
        if not title:
            raise InvalidArticle(f"{code}: empty title")
        return Item(
            code=code, title=title, published=parse_time(raw.get("datetime")),
            outlet=clean_title(raw.get("medianame")), url=SHARE_URL.format(code=code),
            full_text_url=self.text_url(code),
        )
