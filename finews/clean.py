"""Sanitising and normalising article HTML and text, in one place.

Everything finews publishes passes through :func:`sanitize_html`: an nh3 allow-list with no
script, style, iframe, form, event handler or ``javascript:``/``data:`` URL, relative URLs
made absolute against the article's address.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from urllib.parse import urljoin, urlsplit

import nh3

ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "sub", "sup", "small", "a", "img", "ul", "ol",
    "li", "blockquote", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tfoot", "tr",
    "th", "td", "caption", "figure", "figcaption", "pre", "code", "hr", "span", "div",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "span": {"data-secid"},
}
_SECID = re.compile(r"\d{1,3}\.[A-Za-z0-9]{1,10}")
"""A stock link's security (``0.301987``): the Eastmoney page rule keeps it on a span."""
REMOVED_WITH_CONTENT = {
    "script", "style", "iframe", "object", "embed", "form", "noscript", "template", "svg",
    "math", "textarea", "select", "button", "frameset", "frame", "applet", "audio", "video",
    "head", "title", "meta", "link", "base",
}
URL_SCHEMES = {"http", "https", "mailto"}
_URL_ATTRS = {"href", "src"}
_TAG = re.compile(r"<[^>]*>")
_EM = re.compile(r"</?em\s*>", re.I)
_SPACE = re.compile(r"[\s\u3000\u00a0]+")
_INDENT = re.compile(r"(<(?:p|br)\b[^>]*>)(?:[\s\u3000\u00a0]|&nbsp;|&#12288;)+", re.I)
_LEADING = "\u3000\u00a0 \t\r\n"
_EMPTY_P = re.compile(r"<p[^>]*>(?:\s|\u3000|\u00a0|&nbsp;|<br\s*/?>)*</p>", re.I)
STOCK_IMAGES = re.compile(r"<!--\s*EM_StockImg_Start\s*-->.*?<!--\s*EM_StockImg_End\s*-->", re.S | re.I)
"""Eastmoney's live K-line pictures of the securities a page names, between two comments."""
_QUOTE_PICTURE = re.compile(r"GetPic\.aspx\?nid=(\d{1,3}\.[A-Za-z0-9]{1,10})")
_OPEN_A = re.compile(r"<a\b[^>]*>")
_REL = re.compile(r'\s+rel="[^"]*"')
_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)")
"""An image needs ``alt``; one its source gave none is marked decorative (empty)."""
_BLOCK_END = re.compile(r"</(?:p|div|li|h[1-6]|blockquote|tr)>|<br\s*/?>", re.I)


def absolute_url(url: str, base: str) -> str:
    """Resolve a relative or protocol-relative URL; unsafe schemes become empty."""
    url = url.strip()
    if not url:
        return ""
    resolved = urljoin(base, url) if base else url
    if resolved.startswith("//"):
        resolved = "https:" + resolved
    scheme = urlsplit(resolved).scheme.lower()
    if scheme and scheme not in URL_SCHEMES:
        return ""
    return resolved


def sanitize_html(fragment: str, base_url: str = "") -> str:
    """Allow-listed HTML with absolute URLs: safe to publish as it is."""

    def fix_url(tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_ATTRS:
            return absolute_url(value, base_url) or None
        if attribute == "data-secid":
            return value if _SECID.fullmatch(value) else None
        return value

    cleaned = nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        clean_content_tags=REMOVED_WITH_CONTENT,
        url_schemes=URL_SCHEMES,
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=fix_url,
    )
    cleaned = _OPEN_A.sub(_rel_only_on_links, cleaned)
    cleaned = _IMG_WITHOUT_ALT.sub('<img alt=""', cleaned)
    cleaned = _INDENT.sub(r"\1", cleaned).lstrip(_LEADING)
    if "</p>" in cleaned:
        cleaned = _EMPTY_P.sub("", cleaned)
    return cleaned.strip()


def _rel_only_on_links(tag: re.Match[str]) -> str:
    """nh3 adds ``rel`` to every ``<a>``, also to one whose ``href`` it removed
    (``javascript:``, empty, a Word anchor), which HTML does not allow."""
    text = tag.group(0)
    return text if " href=" in text else _REL.sub("", text)


def strip_highlights(text: str) -> str:
    """Remove the <em> highlights that search APIs put around the query."""
    return _EM.sub("", text)


def clean_title(text: str | None) -> str:
    """One line of plain text: tags removed, entities decoded, white space collapsed."""
    if not text:
        return ""
    text = _TAG.sub("", strip_highlights(text))
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


def clean_text(text: str | None) -> str:
    """Plain text paragraphs: entities decoded, indents removed, blank lines dropped."""
    if not text:
        return ""
    text = html.unescape(_TAG.sub("", strip_highlights(text)))
    lines = (_SPACE.sub(" ", line).strip() for line in re.split(r"\r?\n|\r", text))
    return "\n".join(line for line in lines if line)


def text_to_html(text: str) -> str:
    """Plain text -> escaped paragraphs."""
    lines = clean_text(text).split("\n")
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines if line)


def html_to_text(fragment: str) -> str:
    """The readable text of HTML, one line per block, for search and summaries."""
    text = _BLOCK_END.sub("\n", fragment)
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def plain_text(fragment: str) -> str:
    """The text of HTML on one line, blocks separated by spaces: what search reads."""
    return html.unescape(_TAG.sub("", _BLOCK_END.sub(" ", fragment)))


def paragraph_text(fragment: str) -> str:
    """The text of HTML a line per block, each trimmed: what a reader sees, paragraph by
    paragraph (what revision diffs compare)."""
    lines = html.unescape(_TAG.sub("", _BLOCK_END.sub("\n", fragment))).split("\n")
    return "\n".join(line.strip() for line in lines if line.strip())


def strip_bracket_title(summary: str) -> str:
    """Eastmoney summaries start with 【title】: the story is what follows."""
    summary = summary.strip()
    if summary.startswith("【") and "】" in summary:
        return summary.split("】", 1)[1].strip()
    return summary


def publishable_html(body: str, base_url: str = "") -> str:
    """What the site shows of a stored body: sanitised HTML, plain text made paragraphs.
    K-line pictures go (a live picture of the day the page is read, not of the news); each
    leaves an empty stock mark, so the security it showed is still found."""
    if "<" not in body:
        return text_to_html(body)
    return sanitize_html(STOCK_IMAGES.sub(_stock_marks, body), base_url)


def _stock_marks(block: re.Match[str]) -> str:
    secids = dict.fromkeys(_QUOTE_PICTURE.findall(block.group(0)))
    return "".join(f'<span data-secid="{secid}"></span>' for secid in secids)


_DATE_TIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)

def parse_date(value: object, tz: tzinfo) -> datetime | None:
    """A loosely written date (Jekyll posts, feeds): ``YYYY-MM-DD``, a time, a zone;
    a date without a zone is in ``tz`` (Beijing time for the original site)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    text = str(value or "").strip()
    match = _DATE_TIME.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    if zone is None:
        return moment.replace(tzinfo=tz)
    if zone == "Z":
        return moment.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=timezone(sign * offset))
