"""Article pages -> title, time, outlet and clean body, for every source kind that fetches
full text.

Eastmoney pages get a page rule (``#ContentBody`` without its K-line blocks, ads, scripts and
the 郑重声明 disclaimer, keeping the text of stock links); any other site goes to trafilatura.
"""


from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from finews.clean import STOCK_IMAGES, clean_title, sanitize_html
from finews.errors import ExtractError
from finews.model import BEIJING

_CN_TIME = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})(?::(\d{2}))?")
_SITE_SUFFIX = re.compile(r"\s*[_|-]\s*东方财富网\s*$")
_NOISE = (
    "script", "style", "iframe", "noscript", ".em_xuangu", ".res-edit", ".sourcebox",
    ".em_declare", ".abstract", ".b-review", ".ad-slot", ".em_media",
)
_DISCLAIMER = "郑重声明"


@dataclass
class PageContent:
    title: str
    body: str
    published: datetime | None
    outlet: str


def is_eastmoney(url: str) -> bool:
    host = urlsplit(url).netloc.lower()
    return host.endswith("eastmoney.com")


def parse_cn_time(text: str) -> datetime | None:
    match = _CN_TIME.search(text or "")
    if not match:
        return None
    y, m, d, hh, mm, ss = match.groups()
    try:
        return datetime(int(y), int(m), int(d), int(hh), int(mm), int(ss or 0), tzinfo=BEIJING)
    except ValueError:
        return None


def _text(element: lxml.html.HtmlElement | None) -> str:
    return clean_title(element.text_content()) if element is not None else ""


@functools.cache
def _selector(css: str) -> CSSSelector:
    return CSSSelector(css)


def _select(node: lxml.html.HtmlElement, css: str) -> list[lxml.html.HtmlElement]:
    return _selector(css)(node)


def _first(doc: lxml.html.HtmlElement, *selectors: str) -> lxml.html.HtmlElement | None:
    for selector in selectors:
        found = _select(doc, selector)
        if found:
            return found[0]
    return None


def _mark_stock(link: lxml.html.HtmlElement, data_code: str) -> None:
    """A stock link becomes ``<span data-secid="0.301987">name</span>``: the text stays, the
    link to a quote page goes, and the security is kept for finews.stocks."""
    from finews.stocks import from_data_code

    security = from_data_code(data_code)
    if security is None:
        link.drop_tag()
        return
    for attribute in list(link.attrib):
        del link.attrib[attribute]
    link.tag = "span"
    link.set("data-secid", security.secid)


def _body_html(body: lxml.html.HtmlElement, base_url: str) -> str:
    for selector in _NOISE:
        for node in _select(body, selector):
            node.drop_tree()
    for link in _select(body, "a[data-code]"):
        _mark_stock(link, link.get("data-code") or "")
    for span in _select(body, "span[data-code], span[id^=stock_]"):
        span.drop_tag()
    for img in _select(body, "img[data-original], img[data-src]"):
        img.set("src", img.get("data-original") or img.get("data-src"))
    for paragraph in _select(body, "p, div"):
        if _DISCLAIMER in paragraph.text_content():
            for later in list(paragraph.itersiblings()):
                later.drop_tree()
            paragraph.drop_tree()
            break
    inner = (body.text or "") + "".join(
        etree.tostring(child, encoding="unicode", with_tail=True) for child in body
    )
    return sanitize_html(inner, base_url)


def extract_eastmoney(html: str, url: str) -> PageContent:
    try:
        doc = lxml.html.fromstring(STOCK_IMAGES.sub("", html))
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError(f"{url}: not an HTML page ({exc})") from None
    body = _first(doc, "#ContentBody")
    if body is None:
        raise ExtractError(f"{url}: no #ContentBody in the page (layout changed?)")
    title = _text(_first(doc, ".newsContent h1", ".detail_top .title"))
    if not title:
        og = _select(doc, 'meta[property="og:title"]')
        title = clean_title(og[0].get("content")) if og else ""
    if not title:
        title = _SITE_SUFFIX.sub("", _text(_first(doc, "title")))
    published = None
    for item in _select(doc, ".infos .item, .Info .time, .time"):
        published = parse_cn_time(item.text_content())
        if published:
            break
    outlet = ""
    for item in _select(doc, ".infos .item"):
        text = item.text_content()
        if "来源" in text:
            link = _select(item, "a")
            outlet = _text(link[0]) if link else clean_title(text.split("：", 1)[-1])
            break
    if not outlet:
        img = _first(doc, ".Info .source img[alt]", ".source img[alt]")
        outlet = clean_title(img.get("alt")) if img is not None else ""
    return PageContent(title, _body_html(body, url), published, outlet)


def extract_generic(html: str, url: str) -> PageContent:
    import trafilatura

    body = trafilatura.extract(
        html, url=url, output_format="html", include_links=True, include_images=True,
        include_comments=False, favor_precision=True,
    )
    if not body:
        raise ExtractError(f"{url}: no article text found in the page")
    meta = trafilatura.extract_metadata(html, default_url=url)
    published = None
    if meta is not None and meta.date:
        try:
            published = datetime.fromisoformat(meta.date).replace(tzinfo=BEIJING)
        except ValueError:
            published = None
    title = clean_title(meta.title) if meta is not None and meta.title else ""
    outlet = clean_title(meta.sitename) if meta is not None and meta.sitename else ""
    body = re.sub(r"^\s*<html>\s*<body>|</body>\s*</html>\s*$", "", body)
    return PageContent(title, sanitize_html(body, url), published, outlet)


def extract(html: str, url: str) -> PageContent:
    """The page rule for Eastmoney, trafilatura for everything else."""
    if is_eastmoney(url) or 'id="ContentBody"' in html:
        try:
            return extract_eastmoney(html, url)
        except ExtractError:
            if is_eastmoney(url):
                raise
    return extract_generic(html, url)


def stable_hash(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]
