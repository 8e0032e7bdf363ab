"""Chinese full-text search that finds every substring, whatever its length.

Chinese has no spaces, and word segmenters (jieba) cut the text and the query differently,
so an index over words misses matches. finews indexes characters instead, in two forms:

- every pair of adjacent characters is a token, one per position, so a term of two or more
  characters is a phrase of its pairs ("芯片股" is "芯片 片股" at adjacent positions). A phrase
  of pairs matches exactly where the term occurs as a substring, and a pair is rare where
  single characters are not: a made-up or rare four-character term is answered from a few
  short lists instead of a scan of every article that holds its four characters;
- every character is a token of a second, position-free index, for one-character terms.

Spaces and ASCII punctuation in the text become a placeholder character, so characters
they separate never form a pair. Only a term that itself contains such punctuation
("3.5%") may match more than it should, so those hits are confirmed by a substring test on
the article's text. Recall is therefore complete and every hit contains the query.

The same functions prepare text for every backend, so SQLite and PostgreSQL agree.

Where the tokens live. SQLite keeps them in contentless FTS5 tables whose rowid is the sort
key, written in the same transaction as the article: ``search_index`` (pairs with positions,
title and body), ``search_chars`` (characters, ``detail=none``) and ``search_titles`` (the
title's characters, for bm25). A contentless delete needs the old tokens, recomputed from
the stored row; a change of ``INDEX_VERSION`` rebuilds the index once. FTS5 gathers 16 MB
before it writes a segment, so an import batch becomes one segment. PostgreSQL keeps the
same pairs and characters, without positions, as int4 codes (``gram_codes``) in GIN
indexes, and confirms every candidate with ``LIKE`` on the
article's normalised text (finews/store/postgres.py).

What it costs, at 100,000 articles, against an index of single characters with positions: a
made-up four-character term went from 150 ms to 1 ms (p95) and sampled 2-4-character terms
from 42 to 9 ms, for three times the index (1.5 GB) and half the import speed (an article
adds about 1,500 distinct pairs). Tokens are built by array slicing: a loop per character
cost five times as much.

Ranked search scores headlines only (``headline_weight``: bm25's term weight, without the
rarity factor that would need archive-wide counts), halved for every 90 days of age; it
considers the newest 400 headline matches and the newest 400 matches of any kind, by one
rule on both backends (Store._ranked). Scoring bodies would first count a phrase's matches
in the whole archive (seconds for a common word).
"""

from __future__ import annotations

import html
import re
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from finews.clean import plain_text
from finews.errors import QueryError

INDEX_VERSION = "2"
"""Changes whenever the searchable text of an article changes; the index is then rebuilt."""

MAX_QUERY_CHARS = 200
GAP = "\ue000"
"""Stands for spaces and punctuation between runs (a private-use character)."""

_FULLWIDTH = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+")
_RUN_BREAK = re.compile(r"[\x00-/:-@\[-`{-\x7f\s\ue000]+")


def normalize(text: str) -> str:
    """Case- and width-folded text with single spaces: what search compares."""
    text = _FULLWIDTH.sub(_fold_width, text)
    return " ".join(text.lower().split())


def _fold_width(match: re.Match[str]) -> str:
    """Full-width letters and digits (ＡＩ, ２０２４) as ASCII; Chinese punctuation stays."""
    return "".join(chr(ord(c) - 0xFEE0) for c in match.group())


def searchable_text(title: str, html_body: str) -> str:
    """The normalised text of an article as search sees it: title, newline, body text."""
    return normalize(title) + "\n" + normalize(plain_text(html_body))


def matches(title: str, html_body: str, query: Query) -> bool:
    return query.matches(searchable_text(title, html_body))


def _runs(text: str) -> list[str]:
    return [run for run in _RUN_BREAK.split(text) if run]


def index_tokens(text: str) -> str:
    """Space-separated tokens of normalised text: every character, with each run of
    spaces and ASCII punctuation (which the tokenizers split on) as one placeholder.

    Built with array slicing: a Python loop over every character would dominate imports.
    """
    text = _RUN_BREAK.sub(GAP, text)
    if not text:
        return ""
    points = array("I", text.encode("utf-32-le", "surrogatepass"))
    out = array("I", [32]) * (2 * len(points) - 1)
    out[0::2] = points
    return out.tobytes().decode("utf-32-le", "surrogatepass")


def pair_tokens(text: str) -> str:
    """Space-separated pairs of adjacent characters of normalised text, one per position
    (the last character starts no pair); runs of spaces and ASCII punctuation are one
    placeholder character, so no pair spans them."""
    text = _RUN_BREAK.sub(GAP, text)
    if len(text) < 2:
        return ""
    points = array("I", text.encode("utf-32-le", "surrogatepass"))
    out = array("I", [32]) * (3 * len(points) - 4)
    out[0::3] = points[:-1]
    out[1::3] = points[1:]
    return out.tobytes().decode("utf-32-le", "surrogatepass")


class Tokens(NamedTuple):
    """What the SQLite index holds of an article."""

    title_pairs: str
    body_pairs: str
    chars: str
    """Every character of title and body: the index of one-character terms."""
    title_chars: str
    """Every character of the title, with positions: ranks headline matches (bm25)."""


def text_tokens(title: str, html_body: str) -> Tokens:
    text = searchable_text(title, html_body)
    head, _, body = text.partition("\n")
    return Tokens(pair_tokens(head), pair_tokens(body), char_set(text), index_tokens(head))


class Grams(NamedTuple):
    """What the PostgreSQL index holds of an article: its searchable text (which confirms
    hits), the gram codes of its title, and of its title and body together."""

    text: str
    title: set[int]
    codes: set[int]


def text_grams(title: str, html_body: str) -> Grams:
    text = searchable_text(title, html_body)
    head, _, body = text.partition("\n")
    title_codes = gram_codes(head)
    return Grams(text, title_codes, title_codes | gram_codes(body))


def gram_codes(text: str) -> set[int]:
    """The tokens of ``pair_tokens`` and ``char_set`` as 32-bit integers, each once: the
    form PostgreSQL indexes (an int4[] with a GIN index). A pair is its two UTF-16 code
    units read as one little-endian int4 (the second unit is never 0, NUL being a gap), a
    character is its code unit. Both are read straight from the encoded bytes, in C: the
    pairs starting at even and at odd positions are two views of the same buffer.

    Runs of three characters were tried as well, for want of positions: they made a
    four-character term's candidates fewer, but doubled the index (2.7 GB at 100,000
    articles) and cost a tenth of the ingest rate, for no better p95 (bench/README.md)."""
    units, even, odd = _gram_arrays(text)
    codes = set(units)
    codes.update(even)
    codes.update(odd)
    return codes


def _gram_arrays(text: str) -> tuple[array, array, array]:
    """The text's code units, and its pairs starting at even and at odd positions."""
    encoded = _RUN_BREAK.sub(GAP, text).encode("utf-16-le", "surrogatepass")
    return (_native(array("H"), encoded), _native(array("i"), encoded[: len(encoded) // 4 * 4]),
            _native(array("i"), encoded[2 : 2 + (len(encoded) - 2) // 4 * 4]))


RESIDUES = 8
"""Positions are kept modulo this by ``code_residues``: a byte per article and code."""


def code_residues(text: str) -> dict[int, int]:
    """Each gram code of the text (those of ``gram_codes``) with a byte whose bit r is set
    when the pair starts at a position that is r modulo ``RESIDUES`` (a character's byte
    is all ones). The static site keeps it beside each article in a code's list: the pairs
    of a term must stand at consecutive positions, so at positions r, r+1, … for some r,
    and a term whose pairs occur apart in an article is ruled out there without fetching
    its text: a fifth of the candidates were left for a four-character term sampled from
    the articles (bench/README.md). The slices are each residue's pairs, read in C."""
    units, even, odd = _gram_arrays(text)
    found = dict.fromkeys(units, 0xFF)
    step = RESIDUES // 2
    for residue in range(RESIDUES):
        bit = 1 << residue
        for code in set((odd if residue % 2 else even)[residue // 2 :: step]):
            found[code] = found.get(code, 0) | bit
    return found


def _native(numbers: array, little_endian: bytes) -> array:
    numbers.frombytes(little_endian)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


def term_codes(term: str) -> list[int]:
    """The gram codes every text holding ``term`` holds: its pairs, or for a one-character
    term its character. A superset: the pairs need not be adjacent in the text, and a gap
    stands for any punctuation, so every hit is confirmed."""
    codes = gram_codes(term)
    return sorted(codes if _single(term) else (c for c in codes if not 0 <= c <= 0xFFFF))


def char_set(text: str) -> str:
    """Every character of the text once, in order of appearance: the position-free index
    needs no repeats, and leaving them out here (in the workers, during imports) spares
    the writer a tenth of the index's work."""
    return " ".join(dict.fromkeys(_RUN_BREAK.sub("", text)))


@dataclass(frozen=True)
class Query:
    """A parsed search query. Space-separated terms must all occur; ``OR`` between terms
    lets either do (``芯片 OR 半导体 华为``: either of the first two, and the third); a
    leading ``-`` excludes a term (``回购 -港股``), except before a digit: ``-3.5%`` is a
    figure looked for. A clause is a tuple of terms any of which
    satisfies it; every clause must be satisfied and no excluded term may occur."""

    clauses: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> Query:
        if len(raw) > MAX_QUERY_CHARS:
            raise QueryError(f"search query too long: {len(raw)} characters, at most {MAX_QUERY_CHARS}")
        clauses: list[tuple[str, ...]] = []
        excluded: list[str] = []
        joining = False
        for word in raw.split():
            if word == "OR":
                if not clauses or joining:
                    raise QueryError(f"search query {raw!r}: 'OR' needs a term on each side")
                joining = True
                continue
            negative = word[0] in "-－" and len(word) > 1 and not word[1].isdigit()
            term = normalize(word[1:] if negative else word)
            if not _runs(term):
                continue
            if negative and joining:
                raise QueryError(f"search query {raw!r}: 'OR' cannot join an excluded term ({word})")
            if negative:
                excluded.append(term)
            elif joining:
                clauses[-1] = tuple(dict.fromkeys((*clauses[-1], term)))
            else:
                clauses.append((term,))
            joining = False
        if joining:
            raise QueryError(f"search query {raw!r}: 'OR' needs a term on each side")
        if not clauses:
            what = "only excludes: give a term to look for besides the '-' ones" if excluded else \
                "has nothing to search for: give letters, digits or Chinese"
            raise QueryError(f"search query {raw!r} {what}")
        return cls(tuple(dict.fromkeys(clauses)), tuple(dict.fromkeys(excluded)))

    @property
    def terms(self) -> tuple[str, ...]:
        """Every term looked for (not the excluded ones): what snippets mark."""
        return tuple(dict.fromkeys(term for clause in self.clauses for term in clause))

    def title_expression(self) -> str:
        """An FTS5 MATCH expression over the titles' character tokens: one phrase per term,
        every clause required. Tokens never contain a quote or a space (both are split
        off), so quoting each phrase makes syntax characters (", *, :, NEAR) plain text.
        Excluded terms are left to the confirmation of each hit."""
        return _all_of(_any_of(f'"{index_tokens(term)}"' for term in clause) for clause in self.clauses)

    def pair_expression(self, excluding: bool = True) -> str | None:
        """The clauses whose terms all have two or more characters, as phrases of pair
        tokens, and (``excluding``) the excluded terms of that kind the index can tell
        exactly. FTS5 reads the whole list of an excluded phrase, whatever rowid range the
        search has: 4 ms over a batch's 50 rows at 20,000 articles, where confirming the
        batch's hits is nothing, so a search over a range leaves exclusions to that."""
        wanted = [_any_of(f'"{pair_tokens(t)}"' for t in clause)
                  for clause in self.clauses if not any(map(_single, clause))]
        unwanted = [f'"{pair_tokens(t)}"' for t in self.excluded
                    if excluding and not _single(t) and not _gapped(t)]
        return _without(_all_of(wanted), unwanted) if wanted else None

    def char_expression(self, excluding: bool = True) -> str | None:
        """The clauses with a one-character term, over the character index: a longer term
        in such a clause stands for all its characters, a superset that each hit's
        confirmation narrows; and (``excluding``) the excluded single characters."""
        wanted = [_any_of(_chars_of(t) for t in clause)
                  for clause in self.clauses if any(map(_single, clause))]
        unwanted = [f'"{t}"' for t in self.excluded if excluding and _single(t)]
        return _without(_all_of(wanted), unwanted) if wanted else None

    @cached_property
    def exact(self) -> bool:
        """Whether every index hit is a true match: no term has punctuation inside (which
        the index sees only as "some gap"), no clause mixes one-character and longer terms,
        nothing is excluded. Asked once per candidate row, so computed once."""
        mixed = any(any(map(_single, c)) and not all(map(_single, c)) for c in self.clauses)
        return not (mixed or self.excluded or any(map(_gapped, self.terms)))

    @cached_property
    def has_letters(self) -> bool:
        """Whether case matters when the terms are looked for in raw text."""
        return any(c.isascii() and c.isalpha() for term in self.terms for c in term)

    def matches(self, text: str) -> bool:
        return all(any(term in text for term in clause) for clause in self.clauses) and \
            not any(term in text for term in self.excluded)


HEADLINE_CHARS = 24
"""About the length of a headline, in characters: the length a headline weight is judged by."""


def headline_weight(title: str, query: Query) -> float:
    """How well a headline answers the query, the same on every backend: 0 unless it holds
    the query; else 1 plus bm25's term weight with the usual constants (k1 1.2, b 0.75)
    for each term found, so that more occurrences in a shorter headline weigh more.
    Without bm25's rarity factor, which would need counts over the whole archive."""
    head = normalize(title)
    if not query.matches(head):
        return 0.0
    length = 0.25 + 0.75 * len(head) / HEADLINE_CHARS
    found = (head.count(term) for term in query.terms)
    return 1.0 + sum(tf * 2.2 / (tf + 1.2 * length) for tf in found if tf)


def _single(term: str) -> bool:
    return len(_RUN_BREAK.sub(GAP, term)) == 1


def _gapped(term: str) -> bool:
    """Whether a term holds punctuation, which the index sees only as "some gap"."""
    return GAP in _RUN_BREAK.sub(GAP, term)


def _chars_of(term: str) -> str:
    """A term as the character index sees it: its characters, all required."""
    return _all_of(f'"{c}"' for c in dict.fromkeys(_RUN_BREAK.sub("", term)))


def _all_of(parts: Iterable[str]) -> str:
    parts = list(parts)
    return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)


def _any_of(parts: Iterable[str]) -> str:
    parts = list(parts)
    return parts[0] if len(parts) == 1 else " OR ".join(f"({p})" for p in parts)


def _without(wanted: str, unwanted: list[str]) -> str:
    return f"({wanted}) NOT ({_any_of(unwanted)})" if unwanted else wanted


def snippet(html_body: str, query: Query, width: int = 80) -> str:
    """Escaped HTML: a window of the body around the first hit (the start of the body if
    only the title matched), hits wrapped in <mark>.

    Looks for the hit in the raw HTML first and converts only the HTML around it: turning
    a whole long body into text for 20 results was most of a search's time.
    """
    low = html_body.lower() if query.has_letters else html_body
    at = min((i for i in (low.find(t) for t in query.terms) if i >= 0), default=-1)
    if at >= 0:
        lead, tail = at - 3 * width, at + 6 * width
        source = normalize(plain_text(_whole_tags(html_body[max(0, lead) : tail])))
        hit = min((i for i in (source.find(t) for t in query.terms) if i >= 0), default=-1)
        if hit >= 0:
            start = max(0, hit - width // 4)
            before = "…" if start or lead > 0 else ""
            after = "…" if start + width < len(source) or tail < len(html_body) else ""
            return before + _mark(source[start : start + width], query.terms) + after
    source = normalize(plain_text(html_body))
    first = min((i for i in (source.find(t) for t in query.terms) if i >= 0), default=0)
    start = max(0, first - width // 4)
    window = source[start : start + width]
    marked = _mark(window, query.terms)
    return ("…" if start else "") + marked + ("…" if start + width < len(source) else "")


def _whole_tags(fragment: str) -> str:
    """A slice of HTML without the pieces of tags cut at either end."""
    close, opening = fragment.find(">"), fragment.find("<")
    if close >= 0 and (opening < 0 or close < opening):
        fragment = fragment[close + 1 :]
    opening, close = fragment.rfind("<"), fragment.rfind(">")
    if opening > close:
        fragment = fragment[:opening]
    return fragment


def _mark(window: str, terms: tuple[str, ...]) -> str:
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))
    out, last = [], 0
    for match in pattern.finditer(window):
        out.append(html.escape(window[last : match.start()]))
        out.append(f"<mark>{html.escape(match.group())}</mark>")
        last = match.end()
    out.append(html.escape(window[last:]))
    return "".join(out)

