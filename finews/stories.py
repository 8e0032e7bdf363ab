"""Which articles are one story: the same news, reprinted by several outlets.

Candidates are found by MinHash LSH over character shingles (rensa, a Rust MinHash: 0.01 ms
an article where datasketch took 1 ms, the whole budget). Each article has three signatures, of its
whole text, of its headline and lead and of its body's opening, so that a 7×24 item
holding only a column article's headline and lead meets that article. A candidate is then confirmed exactly:

- the shorter text's shingles are mostly (``threshold``) contained in the longer's;
- the figures and the securities of one are a subset of the other's: a trimmed copy has
  fewer, but ``160亿元`` is not ``1600亿元``;
- aligned character by character, the two texts differ by insertions and deletions (a
  byline, a trimmed paragraph, a reordered clause), never by a short substitution
  (``贵州茅台发布2024年年报`` against ``五粮液发布2024年年报``): that is how a template
  differs from itself.

The relation is symmetric and decided by the pair alone; a story is a connected set of
articles within ``window_days`` of each other, named by its first article (the lead). So
the grouping does not depend on the order articles arrive in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

import rensa
from rapidfuzz.distance import Indel

SHINGLE = 3
ROWS = 3
BANDS = 8
LEAD_CHARS = 80
OPENING_CHARS = 40
MIN_CHARS = 6
SEED = 20241202
SUBSTITUTION_MAX = 12


@dataclass(frozen=True)
class StoryRules:
    """The [stories] settings: how far apart copies may be, how much of the shorter text
    the longer must contain, and whether articles are grouped at all."""

    enabled: bool = True
    window_days: int = 7
    threshold: float = 0.7


OUTLETS = (
    "21世纪经济报道", "中国证券报", "上海证券报", "证券时报网", "证券时报", "证券日报", "经济参考报",
    "每日经济新闻", "第一财经", "财联社", "新华社", "新华网", "中证网", "上证报", "人民日报", "人民网",
    "央视新闻", "央视财经", "中国新闻网", "中新经纬", "中新网", "澎湃新闻", "界面新闻", "新浪财经",
    "东方财富网", "东方财富", "金融界", "智通财经", "格隆汇", "华尔街见闻", "经济观察报", "北京商报",
    "券商中国", "中国基金报", "红星新闻", "证券之星", "每经网", "环球网", "财新网", "东财",
)
"""Outlet names, which a copy adds to its headline or its source note; an article's own
outlet is removed besides these."""

_CUT_FROM = re.compile(r"(郑重声明|免责声明|风险提示|特别提示|声明)[:：].*", re.S)
_NOTE = re.compile(
    r"[（(][^（）()]{0,40}?(记者|编辑|通讯员|作者|来源|实习生|摄)[^（）()]{0,40}[）)]"
    r"|^\s*(文章来源|来源|责任编辑|编辑|校对|审核|作者|记者|本报记者|文|图)\s*[:：/|｜].*$",
    re.M,
)
_DATELINE = re.compile(
    r"^\s*据?[^，。,.\n]{0,30}?(\d{1,2}月\d{1,2}日(电|讯)|(电|讯|消息|报道)(?=[（(，,：:\s]))"
    r"\s*([（(][^）)]{0,40}[）)])?\s*[，,：:]?"
)
_HEAD_MARK = re.compile(
    r"^\s*(【[^】]{1,6}】|\[[^\]]{1,6}\]|(快讯|独家|重磅|突发|最新|刚刚|速递)\s*[:：!！|｜])")
_FIGURE = re.compile(r"\d+(?:[.,，]\d+)*")
_NOT_WORD = re.compile(r"[\W_]+")


def _squeeze(text: str) -> str:
    """Letters and digits only: whitespace, punctuation and symbols go."""
    return _NOT_WORD.sub("", text)


def _strip_outlets(text: str, outlet: str) -> str:
    for name in (outlet, *OUTLETS) if outlet else OUTLETS:
        if name in text:
            text = text.replace(name, "")
    return text


def _figures(text: str) -> frozenset[str]:
    return frozenset(m.group().replace(",", "").replace("，", "") for m in _FIGURE.finditer(text))


@dataclass
class StoryText:
    """What grouping compares of one article: its normalised text (headline, then body),
    its shingles, its figures and its securities."""

    text: str
    lead: str
    opening: str
    figures: frozenset[str]
    securities: frozenset[str]

    @classmethod
    def of(cls, title: str, body_text: str, outlet: str = "",
           securities: frozenset[str] | list[str] = frozenset()) -> StoryText:
        """From an article's headline and plain text (clean.html_to_text of its body)."""
        title = _strip_outlets(unicodedata.normalize("NFKC", title), outlet)
        title = _HEAD_MARK.sub("", title)
        body = unicodedata.normalize("NFKC", body_text)
        body = _DATELINE.sub("", _CUT_FROM.sub("", body).lstrip(), count=1)
        body = _NOTE.sub("", _strip_outlets(body, outlet))
        head, squeezed = _squeeze(title).lower(), _squeeze(body).lower()
        bracketed = body.lstrip().startswith("【")
        if head and (squeezed.startswith(head) or (bracketed and head in squeezed[:len(head) + 4])):
            squeezed = squeezed[squeezed.index(head) + len(head):]  # a 7×24 item repeats its headline
        text = head + squeezed
        return cls(
            text=text, lead=head + squeezed[:LEAD_CHARS], opening=squeezed[:OPENING_CHARS],
            figures=_figures(title + " " + body), securities=frozenset(securities),
        )

    @cached_property
    def shingles(self) -> frozenset[str]:
        """Computed when first compared: most articles are compared with none."""
        return _shingles(self.text)

    def bands(self) -> list[int]:
        """The LSH band values of three signatures (the whole text, the headline and lead,
        the body's opening words); two articles sharing one are compared. The opening
        finds a short item in a long article whatever its length. Empty for a text too
        short to tell apart."""
        if len(self.text) < MIN_CHARS:
            return []
        found = []
        signatures = [(0, self.text), (1, self.lead)]
        if len(self.opening) == OPENING_CHARS:
            signatures.append((2, self.opening))
        for kind, text in signatures:
            minhash = rensa.RMinHash(num_perm=ROWS * BANDS, seed=SEED)
            minhash.update(_shingle_list(text))
            digest = minhash.digest()
            for band in range(BANDS):
                value = kind * BANDS + band
                for part in digest[band * ROWS:(band + 1) * ROWS]:
                    value = (value * 0x9E3779B1 + part) % 0x7FFFFFFF
                found.append(value)
        return found


def _shingle_list(text: str) -> list[str]:
    """The shingles in order, repeats kept: MinHash needs no set, and building one was
    most of the cost of an article's signatures."""
    if len(text) <= SHINGLE:
        return [text]
    return [text[i:i + SHINGLE] for i in range(len(text) - SHINGLE + 1)]


def _shingles(text: str) -> frozenset[str]:
    if len(text) <= SHINGLE:
        return frozenset([text]) if text else frozenset()
    return frozenset(text[i:i + SHINGLE] for i in range(len(text) - SHINGLE + 1))


def same_story(a: StoryText, b: StoryText, threshold: float) -> bool:
    """Whether two articles are copies of one report (see the module's rules); symmetric."""
    if min(len(a.text), len(b.text)) < MIN_CHARS:
        return False
    shared = len(a.shingles & b.shingles)
    if shared < threshold * min(len(a.shingles), len(b.shingles)):
        return False
    if not (a.figures <= b.figures or b.figures <= a.figures):
        return False
    if not (a.securities <= b.securities or b.securities <= a.securities):
        return False
    first, second = sorted((a.text, b.text))
    return not substituted(first, second)


def substituted(a: str, b: str) -> bool:
    """Whether aligning the texts leaves a short stretch of one replaced by a stretch of
    the other, where a digit is involved or both hold two or more characters: a name or
    a figure exchanged in a shared template. Long replacements are rewrites, left to the
    containment rule; a single character exchanged is an editor's touch."""
    deleted = inserted = 0
    digit = False
    for op in Indel.opcodes(a, b):
        if op.tag == "equal":
            if _is_substitution(deleted, inserted, digit):
                return True
            deleted = inserted = 0
            digit = False
            continue
        if op.tag in ("delete", "replace"):
            deleted += op.src_end - op.src_start
            digit = digit or any(c.isdigit() for c in a[op.src_start:op.src_end])
        if op.tag in ("insert", "replace"):
            inserted += op.dest_end - op.dest_start
            digit = digit or any(c.isdigit() for c in b[op.dest_start:op.dest_end])
    return _is_substitution(deleted, inserted, digit)


def _is_substitution(deleted: int, inserted: int, digit: bool) -> bool:
    if not deleted or not inserted or max(deleted, inserted) > SUBSTITUTION_MAX:
        return False
    return digit or min(deleted, inserted) >= 2
