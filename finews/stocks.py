"""Which securities an article is about: from the source's list, the page's stock links, the
code forms in the text, and the names the archive has learned.

A security is named by Eastmoney's ``secid``, ``<market>.<code>``: ``1.`` Shanghai, ``0.``
Shenzhen and Beijing, ``116.`` Hong Kong, ``105.``/``106.`` US, ``90.`` a board
(``90.BK1033``). Where a mention comes from:

- ``list``: the 7×24 list's ``stockList``, exact;
- ``link``: a stock link in an Eastmoney page (``data-code`` in any of its spellings,
  ``0,301987``, ``301987,0``, ``0.301987``, ``02338|116|5``), exact; the cleaned body keeps
  it as ``<span data-secid="0.301987">``;
- ``text``: ``名称(600519)``, ``名称（600519.SH）``, ``SH600519``, ``600519.SH``, ``00700.HK``,
  ``腾讯控股(00700)``, ``AAPL.O``, ``BK1033``: a code counts only in a form that marks it as
  one, with a prefix a market really uses, so prices, dates, years, postal codes and phone
  numbers do not;
- ``name``: a name the archive learned from links and lists, found in the text (at least
  three characters, the longest match where names contain others).

Index quotes (``1.000001`` 上证指数, ``0.399001``, ``0.399006``) are kind ``index``, kept
apart from companies: the same six digits ``000001`` are 平安银行 in Shenzhen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SHANGHAI, SHENZHEN, HONG_KONG, NASDAQ, NYSE, BOARD = 1, 0, 116, 105, 106, 90
_A_SHARE_PREFIXES = {
    SHANGHAI: ("600", "601", "603", "605", "688", "689", "900"),
    SHENZHEN: ("000", "001", "002", "003", "300", "301", "200", "430", "830", "831", "832",
               "833", "834", "835", "836", "837", "838", "839", "870", "871", "872", "873",
               "920"),
}
_SUFFIX_MARKET = {"SH": SHANGHAI, "SS": SHANGHAI, "SZ": SHENZHEN, "BJ": SHENZHEN}
_US_SUFFIX = {"O": NASDAQ, "OQ": NASDAQ, "N": NYSE, "US": NASDAQ}
_INDEX_NAME = re.compile(r"指数?$|综指$|成指$|50$|300$|500$|1000$")
_MIN_NAME = 3
_BRACKETED = re.compile(
    r"[(（](?P<code>\d{6}|\d{4,5}|[A-Z]{1,5})(?:\.(?P<suffix>[A-Za-z]{1,2}))?[)）](?![万亿元%])"
)
_NAME_BEFORE = re.compile(r"[\u4e00-\u9fff*＊A-Za-z0-9-]{0,12}[\u4e00-\u9fffA-Za-z0-9]\s?$")
"""The name before a bracketed code: found by looking back from each bracket, which is
twenty times cheaper than starting a name match at every character of the text."""
_CJK = re.compile(r"[\u4e00-\u9fff]")
_PREFIXED = re.compile(r"(?P<ex>SH|SZ|BJ|sh|sz|bj)(?P<code>\d{6})(?!\d)")
_SUFFIXED = re.compile(r"(?P<code>\d{4,6}|[A-Z]{1,5})\.(?P<suffix>SH|SZ|BJ|SS|HK|O|OQ|N|US)(?![A-Za-z0-9])")
_BOARD = re.compile(r"BK(?P<code>\d{4})(?!\d)")
_WIDE = re.compile("[\uff08\uff09\uff0e\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
"""The full-width characters a code can be written with: digits, letters, brackets, dot."""
_SECID_SPAN = re.compile(r'<span data-secid="(?P<secid>\d{1,3}\.[A-Za-z0-9]{1,10})">(?P<name>[^<]*)<')
_TAG = re.compile(r"<[^>]*>")
_NOT_NAMES = re.compile(r"(邮编|电话|代码|编号|文号|批文|证书|热线|传真|账号|单号|年份|股票)$")


@dataclass(frozen=True, order=True)
class Security:
    market: int
    code: str

    @property
    def secid(self) -> str:
        return f"{self.market}.{self.code}"

    @property
    def kind(self) -> str:
        if self.market == BOARD:
            return "board"
        if self.market == HONG_KONG:
            return "hk"
        if self.market in (NASDAQ, NYSE, 107):
            return "us"
        if (self.market, self.code[:3]) in ((SHANGHAI, "000"), (SHENZHEN, "399")):
            return "index"
        return "a-share"


@dataclass(frozen=True)
class Mention:
    security: Security
    name: str
    origin: str
    """'list', 'link', 'text' or 'name'."""


def parse_secid(text: str) -> Security | None:
    """``1.600519`` -> Security(1, '600519'); None for anything else."""
    market, dot, code = str(text).strip().partition(".")
    if not dot or not market.isdigit() or not re.fullmatch(r"[A-Za-z0-9]{1,10}", code):
        return None
    return Security(int(market), code.upper() if not code.isdigit() else code)


def from_data_code(value: str) -> Security | None:
    """A stock link's ``data-code`` in any spelling Eastmoney has used."""
    parts = [p for p in re.split(r"[,.|\s]+", value.strip()) if p and p != "K"]
    codes = [p for p in parts if not (p.isdigit() and len(p) <= 3)]
    markets = [p for p in parts if p.isdigit() and len(p) <= 3]
    if len(codes) != 1 or not markets:
        return None
    return Security(int(markets[0]), codes[0].upper())


def a_share(code: str, name: str = "") -> Security | None:
    """The market of a six-digit code, by the prefixes markets really use; a name that
    is an index's (…指数, 沪深300) makes 000xxx the Shanghai index, not a Shenzhen share."""
    if name and _INDEX_NAME.search(name) and code.startswith(("000", "399")):
        return Security(SHANGHAI if code.startswith("000") else SHENZHEN, code)
    if code.startswith("399"):
        return Security(SHENZHEN, code)
    for market, prefixes in _A_SHARE_PREFIXES.items():
        if code.startswith(prefixes):
            return Security(market, code)
    return None


def _with_suffix(code: str, suffix: str, name: str = "") -> Security | None:
    suffix = suffix.upper()
    if suffix in _SUFFIX_MARKET and code.isdigit() and len(code) == 6:
        market = _SUFFIX_MARKET[suffix]
        if market == SHANGHAI and code.startswith("000"):
            return Security(SHANGHAI, code)  # 000001.SH is the Shanghai index
        found = a_share(code, name)
        return found if found is not None and found.market == market else None
    if suffix == "HK" and code.isdigit() and 4 <= len(code) <= 5:
        return Security(HONG_KONG, code.zfill(5))
    if suffix in _US_SUFFIX and code.isalpha() and code.isupper():
        return Security(_US_SUFFIX[suffix], code)
    return None


def _bracketed(code: str, suffix: str | None, name: str) -> Security | None:
    """A code in brackets after a name; an amount ("金额为(300750)万元") or a number after
    a word that names numbers (邮编, 电话, 编号 …) is none."""
    if not _CJK.search(name) or _NOT_NAMES.search(name):
        return None
    if suffix:
        return _with_suffix(code, suffix, name)
    if code.isdigit() and len(code) == 6:
        return a_share(code, name)
    if code.isdigit() and len(code) == 5 and code.startswith("0"):
        return Security(HONG_KONG, code)
    return None


def _trim_name(name: str) -> str:
    """The company's name out of the characters before a bracket: a sentence runs into it
    ("公告称贵州茅台"), so what follows the last function word is kept."""
    return re.split(r"[的了在和与及对从向于为将把被由称据是等、，。：；]", name)[-1]


def _starts_word(text: str, start: int, also: str = "") -> bool:
    """Patterns begin with a character class, so the regex engine skips ahead to where
    they can match; whether the match starts a word is checked here."""
    return start == 0 or (not (text[start - 1].isascii() and text[start - 1].isalnum()) and \
        text[start - 1] not in also)


def narrow(text: str) -> str:
    """Full-width digits, letters, brackets and dots as ASCII (１２３ -> 123): only where
    they occur, since normalising whole bodies (NFKC) cost half the extraction."""
    return _WIDE.sub(lambda m: chr(ord(m.group()) - 0xFEE0), text)


def text_mentions(text: str) -> list[Mention]:
    """Mentions in plain text (``narrow``-ed), in the order they occur."""
    found: list[tuple[int, Mention]] = []
    for match in _BRACKETED.finditer(text):
        before = _NAME_BEFORE.search(text, max(0, match.start() - 14), match.start())
        if before is None:
            continue
        name = _trim_name(before.group().rstrip())
        security = _bracketed(match.group("code"), match.group("suffix"), name)
        if security:
            found.append((match.start("code"), Mention(security, name, "text")))
    for match in _PREFIXED.finditer(text):
        if not _starts_word(text, match.start()):
            continue
        security = _with_suffix(match.group("code"), match.group("ex"))
        if security:
            found.append((match.start(), Mention(security, "", "text")))
    for match in _SUFFIXED.finditer(text):
        if not _starts_word(text, match.start(), "."):
            continue
        if text[max(0, match.start() - 1)] in "(（":
            continue  # already read as a bracketed code
        security = _with_suffix(match.group("code"), match.group("suffix"))
        if security:
            found.append((match.start(), Mention(security, "", "text")))
    for match in _BOARD.finditer(text):
        if not _starts_word(text, match.start()):
            continue
        found.append((match.start(), Mention(Security(BOARD, f"BK{match.group('code')}"), "", "text")))
    return [mention for _, mention in sorted(found, key=lambda pair: pair[0])]


class NameMatcher:
    """Bare names the archive has learned from links and lists, found by one pass of an
    Aho-Corasick automaton (pyahocorasick); where names contain others, the longest wins."""

    def __init__(self, names: Iterable[tuple[str, Security]]):
        import ahocorasick

        self.automaton = ahocorasick.Automaton()
        for name, security in names:
            if len(name) >= _MIN_NAME:
                self.automaton.add_word(name, (name, security))
        self.empty = len(self.automaton) == 0
        if not self.empty:
            self.automaton.make_automaton()

    def mentions(self, text: str) -> list[Mention]:
        if self.empty:
            return []
        return [Mention(security, name, "name")
                for _, (name, security) in self.automaton.iter_long(text)]


def article_mentions(
    title: str, html: str, listed: Iterable[str] = (), names: NameMatcher | None = None,
) -> list[Mention]:
    """Every security an article mentions, once each, the first mention first; the most
    exact origin is kept (list, then link, then text, then name), with a name: a link
    without one (a K-line picture) takes the text's, and a listed security only a link's,
    which the archive learns."""
    mentions = [Mention(s, "", "list") for s in map(parse_secid, listed) if s]
    for match in _SECID_SPAN.finditer(html):
        security = parse_secid(match.group("secid"))
        if security:
            mentions.append(Mention(security, match.group("name").strip(), "link"))
    text = narrow(title + "\n" + _TAG.sub(" ", html))
    mentions += text_mentions(text)
    if names is not None:
        mentions += names.mentions(text)
    rank = {"list": 0, "link": 1, "text": 2, "name": 3}
    best: dict[Security, Mention] = {}
    for mention in mentions:
        kept = best.get(mention.security)
        if kept is None:
            best[mention.security] = mention
        elif rank[mention.origin] < rank[kept.origin] or (
                not kept.name and mention.name and (kept.origin != "list" or mention.origin == "link")):
            best[mention.security] = Mention(
                mention.security, mention.name or kept.name, min(mention.origin, kept.origin, key=rank.get))
    return list(best.values())
