"""Which articles are one story: the same news, reprinted by several outlets.

Candidates are found by MinHash LSH over character shingles (rensa, a Rust MinHash: 0.01
ms an article where datasketch took 1 ms, the whole budget). Each article has three
signatures, of its text's first 800 characters, of its headline and lead and of its body's
opening, so that a 7×24 item holding only a column article's headline and lead meets that
article. A candidate is then confirmed exactly:

- the figures and the securities of one are a subset of the other's: a trimmed copy has
  fewer, but ``160亿元`` is not ``1600亿元``;
- aligned character by character (rapidfuzz's Indel), most (``threshold``) of the shorter
  text lies in runs of three or more characters that the longer holds in the same order;
- in that alignment the two texts differ by insertions and deletions (a byline, a trimmed
  paragraph, a reordered clause), never by a short substitution (``贵州茅台发布2024年年报``
  against ``五粮液发布2024年年报``): that is how a template differs from itself.

The relation is symmetric and decided by the pair alone; a story is a connected set of
articles within ``window_days`` of each other, named by its first article (the lead). So
the grouping does not depend on the order articles arrive in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import rensa
from rapidfuzz.distance import Indel, Opcodes

SHINGLE = 3
ROWS = 5
BANDS = 8
SIGNED_CHARS = 800
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
    """Letters and digits only, full-width ones folded to ASCII, lower case: whitespace,
    punctuation and symbols go. (Folding only what is left is five times cheaper than
    NFKC over the whole text, which was half the cost of grouping an article.)"""
    return _FULL_WIDTH.sub(_half_width, _NOT_WORD.sub("", text)).lower()


def _half_width(match: re.Match) -> str:
    return chr(ord(match.group()) - 0xFEE0)


_OUTLET_NAMES = re.compile("|".join(sorted(map(re.escape, OUTLETS), key=len, reverse=True)))
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
_THOUSANDS = str.maketrans({",": None, "，": None,
                            **{chr(c): chr(c - 0xFEE0) for c in range(0xFF10, 0xFF1A)}})
_ANY3 = re.compile(".{3}", re.S)
"""Shingles of SHINGLE (3) characters."""


def _strip_outlets(text: str, outlet: str) -> str:
    if outlet and outlet in text:
        text = text.replace(outlet, "")
    return _OUTLET_NAMES.sub("", text)


def _figures(text: str) -> frozenset[str]:
    return frozenset(figure.translate(_THOUSANDS) for figure in _FIGURE.findall(text))


@dataclass
class StoryText:
    """What grouping compares of one article: its normalised text (headline, then body),
    its lead and opening, its figures and its securities."""

    text: str
    lead: str
    opening: str
    figures: frozenset[str]
    securities: frozenset[str]

    @classmethod
    def of(cls, title: str, body_text: str, outlet: str = "",
           securities: frozenset[str] | list[str] = frozenset()) -> StoryText:
        """From an article's headline and plain text (clean.html_to_text of its body)."""
        title = _HEAD_MARK.sub("", _strip_outlets(title, outlet))
        body = _DATELINE.sub("", _CUT_FROM.sub("", body_text).lstrip(), count=1)
        body = _NOTE.sub("", _strip_outlets(body, outlet))
        head, squeezed = _squeeze(title), _squeeze(body)
        bracketed = body.lstrip().startswith("【")
        if head and (squeezed.startswith(head) or (bracketed and head in squeezed[:len(head) + 4])):
            squeezed = squeezed[squeezed.index(head) + len(head):]  # a 7×24 item repeats its headline
        text = head + squeezed
        return cls(
            text=text, lead=head + squeezed[:LEAD_CHARS], opening=squeezed[:OPENING_CHARS],
            figures=_figures(title + " " + body), securities=frozenset(securities),
        )

    def bands(self) -> list[int]:
        """The LSH band values of three signatures (the whole text, the headline and lead,
        the body's opening words); two articles sharing one are compared. The opening
        finds a short item in a long article whatever its length. Empty for a text too
        short to tell apart."""
        if len(self.text) < MIN_CHARS:
            return []
        found = []
        signatures = [(0, self.text[:SIGNED_CHARS]), (1, self.lead)]
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
    """Every shingle, repeats kept (MinHash needs no set), read by the regex engine at
    each of the three offsets: twice as fast as slicing in a loop, which was most of the
    cost of an article's signatures."""
    if len(text) <= SHINGLE:
        return [text]
    return _ANY3.findall(text) + _ANY3.findall(text, 1) + _ANY3.findall(text, 2)


def same_story(a: StoryText, b: StoryText, threshold: float) -> bool:
    """Whether two articles are copies of one report (see the module's rules); symmetric."""
    if min(len(a.text), len(b.text)) < MIN_CHARS:
        return False
    if not (a.figures <= b.figures or b.figures <= a.figures):
        return False
    if not (a.securities <= b.securities or b.securities <= a.securities):
        return False
    first, second = sorted((a.text, b.text))
    alignment = Indel.opcodes(first, second)
    if contained(alignment) < threshold * min(len(first), len(second)):
        return False
    return not substituted(alignment, first, second)


def contained(alignment: Opcodes) -> int:
    """How many characters of the texts align in runs of SHINGLE or more: the part of the
    shorter that the longer contains, in order. (Comparing sets of shingles took four
    times as long, the alignment being needed anyway.)"""
    return sum(op.src_end - op.src_start for op in alignment
               if op.tag == "equal" and op.src_end - op.src_start >= SHINGLE)


def substituted(alignment: Opcodes, a: str, b: str) -> bool:
    """Whether the aligned texts have a short stretch of one replaced by a stretch of the
    other, where a digit is involved or both hold two or more characters: a name or a
    figure exchanged in a shared template. Long replacements are rewrites, left to the
    containment rule; a single character exchanged is an editor's touch."""
    deleted = inserted = 0
    digit = False
    for op in alignment:
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
