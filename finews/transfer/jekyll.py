"""Jekyll posts of the original site: read them with all their quirks, write them back exactly.

A post looks like::

    ---
    layout: post
    title: "…"
    date: 2021-12-19 19:05:35 +0800
    categories: nanfangdushibao
    tags: 南方都市报新闻
    ---
    <p>…body…</p>

    <http://original/url>

    [返回南方都市报新闻](//site/category/nanfangdushibao.html)｜[返回首页](//site/)

with no newline at the end. Rolling-news posts begin the body with a ``> digest`` line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from finews.clean import parse_date, publishable_html
from finews.errors import InvalidArticle, PostError
from finews.files import write_atomic
from finews.model import Article, UpsertResult, is_safe_code
from finews.parallel import chunks, map_chunks
from finews.store import Store

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_STRING_TAG = "tag:yaml.org,2002:str"

_FILE_NAME = re.compile(r"(?:(\d{4})-(\d{2})-(\d{2}))?-(.+)\.(?:md|markdown|html)")
_FOOTER = re.compile(r"\r?\n\r?\n<([^<>\r\n]*)>(?:\r?\n\r?\n((?:\[[^\r\n]*(?:\r?\n)?)+))?[ \t\r\n]*\Z")
_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: (.*))?")
_REDIRECT = re.compile(r"/([a-z0-9]+)/\d{4}/\d{2}/\d{2}/([A-Za-z0-9][A-Za-z0-9_-]*)\.html")
_TAG_SUFFIX = "新闻"
_YAML_ESCAPES = {
    "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x00": "\\0",
    "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\uFEFF",
}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]')
"""What a YAML double-quoted scalar must escape: quotes, backslashes, and what YAML does not
allow in a document (controls, surrogates, the non-characters U+FFFE and U+FFFF)."""


@dataclass
class JekyllStyle:
    """How the original site wrote its posts; see the [jekyll] settings."""

    base_url: str = ""
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    rolling_categories: frozenset[str] = frozenset({"emnews"})
    category_links: dict[str, str] = field(default_factory=lambda: {"emnews": "/emnews/"})

    def category_link(self, slug: str) -> str:
        return self.base_url + self.category_links.get(slug, f"/category/{slug}.html")


# -- reading ------------------------------------------------------------------------------


def _split_front_matter(text: str, name: str) -> tuple[list[str], str]:
    text = text.lstrip("\ufeff")
    stripped = text.lstrip(" \t\r\n")
    if not stripped.startswith("---"):
        raise PostError(f"{name}: no front matter (the file must start with a '---' line)")
    lines_start = stripped.index("\n") + 1 if "\n" in stripped else len(stripped)
    if stripped[:lines_start].strip() != "---":
        raise PostError(f"{name}: the first line must be '---'")
    rest = stripped[lines_start:]
    lines: list[str] = []
    pos = 0
    while pos < len(rest):
        end = rest.find("\n", pos)
        line = rest[pos:] if end < 0 else rest[pos:end]
        next_pos = len(rest) if end < 0 else end + 1
        if line.rstrip("\r") == "---":
            return lines, rest[next_pos:]
        lines.append(line.rstrip("\r"))
        pos = next_pos
    raise PostError(f"{name}: front matter is not closed by a '---' line")


def _parse_title(raw: str, name: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"' and '"' not in raw[1:-1] and "\\" not in raw:
        return raw[1:-1]
    try:
        value = yaml.load(f"title: {raw}", Loader=_YAML_LOADER)["title"]
    except yaml.YAMLError:
        value = None
    if isinstance(value, str):
        return value
    if value is not None and not isinstance(value, (dict, list)):
        return str(value)
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    if value is None and raw.strip() in ("", "~", "null"):
        return ""
    return raw.strip()


def _front_matter(lines: list[str], name: str) -> dict[str, object]:
    """Parse the simple ``key: value`` lines the site wrote, with YAML for anything else."""
    data: dict[str, object] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY_LINE.fullmatch(line)
        if not match:
            return _yaml_front_matter(lines, name)
        key, value = match.group(1), (match.group(2) or "").strip()
        if key == "title":
            data[key] = _parse_title(value, name)
        elif value.startswith(("[", "{", "'", '"', "|", ">", "&", "*", "!")):
            try:
                data[key] = yaml.load(f"v: {value}", Loader=_YAML_LOADER)["v"]
            except yaml.YAMLError:
                data[key] = value
        else:
            data[key] = value
    return data


def _yaml_front_matter(lines: list[str], name: str) -> dict[str, object]:
    try:
        data = yaml.load("\n".join(lines), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PostError(f"{name}: front matter is not valid YAML ({problem})") from exc
    if not isinstance(data, dict):
        raise PostError(f"{name}: front matter is not a set of 'key: value' lines")
    return {str(k): v for k, v in data.items()}



def _date_from_code(code: str, tz: ZoneInfo) -> datetime | None:
    digits = re.search(r"\d{8}", code)
    if not digits:
        return None
    try:
        moment = datetime.strptime(digits.group(), "%Y%m%d").replace(tzinfo=tz)
    except ValueError:
        return None
    return moment if moment <= datetime.now(tz) + timedelta(days=1) else None


def _as_list(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def outlet_from_tags(tags: list[str]) -> str:
    """The original tagged each post '<outlet>新闻'."""
    if not tags:
        return ""
    tag = tags[0]
    return tag[: -len(_TAG_SUFFIX)] if tag.endswith(_TAG_SUFFIX) and len(tag) > 2 else tag


def _split_footer(rest: str, crlf: bool) -> tuple[str, str | None]:
    """Cut the ``<url>`` line and the back links from the end of a post. In a CR LF file
    the widest blank line is tried first, so that its body keeps no stray CR; elsewhere
    the narrowest, so that a body's own final CR stays."""
    marker = rest.rfind("\n<")
    starts = (3, 2, 1) if crlf else (1, 2, 3)
    while marker > 0:
        for start in (marker - n for n in starts):
            match = _FOOTER.match(rest, max(start, 0))
            if match:
                return rest[: match.start()], match.group(1)
        marker = rest.rfind("\n<", 0, marker)
    return rest, None


def _split_body(rest: str, rolling: bool, crlf: bool) -> tuple[str, str, str | None]:
    """(digest, body, url) from what follows the front matter."""
    rest, url = _split_footer(rest, crlf)
    digest = ""
    if rolling:
        first, newline, remainder = rest.partition("\n")
        first = first.removesuffix("\r")
        if first.startswith("> "):
            digest, rest = first[2:], remainder
        elif first.strip() == ">":
            rest = remainder
        elif first.strip() == "" and newline:
            return digest, remainder, url
        if digest and rest.startswith(("\n", "\r\n")):
            rest = rest[rest.index("\n") + 1 :]
    return digest, rest, url


def parse_post(text: str, name: str, style: JekyllStyle, mtime: float | None = None) -> Article:
    """One post -> an Article. Raises PostError with the file name and the reason."""
    match = _FILE_NAME.fullmatch(name)
    if not match:
        raise PostError(f"{name}: not a post file name (expected YYYY-MM-DD-<id>.md)")
    code = match.group(4)
    if not is_safe_code(code):
        raise PostError(f"{name}: unsafe article id {code!r} in the file name")
    lines, rest = _split_front_matter(text, name)
    data = _front_matter(lines, name)
    title = data.get("title")
    title = "" if title is None else str(title)
    published = parse_date(data.get("date"), style.tz)
    if published is None and match.group(1):
        published = datetime(
            int(match.group(1)), int(match.group(2)), int(match.group(3)), tzinfo=style.tz
        )
    if published is None:
        published = _date_from_code(code, style.tz)
    if published is None:
        if mtime is None:
            raise PostError(f"{name}: no date in the front matter, the file name or the id")
        published = datetime.fromtimestamp(int(mtime), style.tz)
    categories = _as_list(data.get("categories") or data.get("category"))
    category = " ".join(categories) if len(categories) > 1 else (categories[0] if categories else "")
    tags = _as_list(data.get("tags"))
    if len(tags) == 1 and " " in tags[0] and not isinstance(data.get("tags"), list):
        tags = tags[0].split()
    outlet = str(data.get("outlet") or outlet_from_tags(tags) or category)
    crlf = text.lstrip("\ufeff \t\r\n").startswith("---\r\n")
    digest, body, url = _split_body(rest, category in style.rolling_categories, crlf)
    if "digest" in data and not digest:
        digest = str(data["digest"] or "")
    aliases = []
    for link in _as_list(data.get("redirect_from")):
        alias = _REDIRECT.search(link)
        if alias:
            aliases.append((alias.group(1), alias.group(2)))
    return Article(
        code=code, title=title, published=published, outlet=outlet, category=category,
        tags=tags, body=body, digest=digest, url=url or "", source="jekyll", aliases=aliases,
        stocks=_as_list(data.get("stocks")),
    )


def read_post(path: Path, style: JekyllStyle) -> Article:
    try:
        raw = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise PostError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PostError(f"{path.name}: not UTF-8 (bad byte at offset {exc.start})") from exc
    return parse_post(text, path.name, style, mtime)


def find_posts(paths: list[Path]) -> Iterator[str]:
    """Post files under the given folders (recursively) or the files themselves, sorted.

    Plain strings: a site can have hundreds of thousands of posts."""
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                yield from (
                    os.path.join(folder, f)
                    for f in sorted(files)
                    if f.endswith((".md", ".markdown", ".html")) and not f.startswith(".")
                )
        else:
            yield str(path)


# -- writing ------------------------------------------------------------------------------


def yaml_quote(text: str) -> str:
    """A YAML double-quoted scalar that any YAML parser reads back as exactly ``text``."""
    if not _NEEDS_ESCAPE.search(text):
        return f'"{text}"'

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        known = _YAML_ESCAPES.get(char)
        if known:
            return known
        code = ord(char)
        return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}"

    return '"' + _NEEDS_ESCAPE.sub(escape, text) + '"'


def _plain(value: str) -> str:
    """A plain YAML value when it reads back unchanged, as a string, else a quoted one
    (``=``, ``~``, ``true`` or ``123`` alone would read back as something else)."""
    if value and re.fullmatch(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`][^:#\r\n]*", value) and (
        value == value.strip() and not _NEEDS_ESCAPE.search(value)
        and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STRING_TAG
    ):
        return value
    return yaml_quote(value)


def post_file_name(article: Article, tz: ZoneInfo) -> str:
    return f"{article.published.astimezone(tz):%Y-%m-%d}-{article.code}.md"


def format_post(article: Article, style: JekyllStyle) -> str:
    """The post exactly as the original site wrote it."""
    published = article.published.astimezone(style.tz)
    tag_text = " ".join(article.tags)
    lines = [
        "---",
        "layout: post",
        f"title: {yaml_quote(article.title)}",
        f"date: {published:%Y-%m-%d %H:%M:%S %z}",
        f"categories: {_plain(article.category)}",
        f"tags: {_plain(tag_text) if tag_text else ''}".rstrip(),
    ]
    if article.outlet != outlet_from_tags(article.tags):
        lines.append(f"outlet: {_plain(article.outlet)}")
    rolling = article.category in style.rolling_categories
    if article.digest and not rolling:
        lines.append(f"digest: {yaml_quote(article.digest)}")
    if article.stocks:
        lines.append(f"stocks: [{', '.join(yaml_quote(secid) for secid in article.stocks)}]")
    if article.aliases:
        lines.append("redirect_from:")
        for category, code in article.aliases:
            lines.append(f"  - /{category}/{published:%Y/%m/%d}/{code}.html")
    lines.append("---")
    head = "\n".join(lines) + "\n"
    if rolling:
        head += (f"> {article.digest}\n" if article.digest else "") + "\n"
    label = article.tags[0] if article.tags else article.outlet
    back = (
        f"[返回{label}]({style.category_link(article.category)})"
        f"｜[返回首页]({style.base_url}/)"
    )
    return f"{head}{article.body}\n\n<{article.url}>\n\n{back}"


# -- import and export --------------------------------------------------------------------


@dataclass
class ImportReport(UpsertResult):
    read: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"read {self.read}, new {self.new}, updated {self.updated}, "
            f"unchanged {self.unchanged}, merged {self.merged}, skipped {len(self.skipped)}"
        )


def _store_batch(store: Store, batch: list[Article], rolling: set[str], report: ImportReport) -> None:
    try:
        results = [store.upsert(batch, rolling=rolling)]
    except InvalidArticle:
        results = []
        for article in batch:
            try:
                results.append(store.upsert([article], rolling=rolling))
            except InvalidArticle as exc:
                report.skipped.append(f"{article.code}: {exc}")
    for result in results:
        report += result


def read_posts(paths: list[str], style: JekyllStyle) -> list[tuple[str, Article | None, str]]:
    """(path, article, problem) per path, with the content hash, the publishable HTML and
    the search tokens already computed.

    Runs in worker processes during large imports, so it takes and returns plain data.
    """
    results: list[tuple[str, Article | None, str]] = []
    for name in paths:
        try:
            article = read_post(Path(name), style)
        except PostError as exc:
            results.append((name, None, str(exc)))
            continue
        _ = article.content_hash
        article.html = publishable_html(article.body, article.url)
        _ = article.search_tokens
        results.append((name, article, ""))
    return results


def import_posts(
    store: Store,
    paths: list[Path],
    style: JekyllStyle,
    *,
    batch_size: int = 1000,
    on_file: Callable[[str], None] | None = None,
) -> ImportReport:
    """Read posts into the archive, one transaction per batch; a bad post is skipped.

    Reading and cleaning run on every core; this process only writes.
    """
    report = ImportReport()
    batch: list[Article] = []
    rolling = set(style.rolling_categories)
    names = find_posts(paths)
    # This process writes every article and is the bottleneck: with the readers at a lower
    # priority it keeps a core to itself (+10% posts/s on 2 cores).
    for name, article, problem in map_chunks(partial(read_posts, style=style), names, nice=10):
        report.read += 1
        if article is None:
            report.skipped.append(problem)
        else:
            batch.append(article)
        if on_file:
            on_file(name)
        if len(batch) >= batch_size:
            _store_batch(store, batch, rolling, report)
            batch = []
    if batch:
        _store_batch(store, batch, rolling, report)
    return report


def _with_stocks(store: Store, articles: Iterator[Article], batch: int = 1000) -> Iterator[Article]:
    """Articles with ``stocks`` set to the securities their source listed, read a batch at
    a time: those a post's text cannot give back. Links and codes in the text travel in
    the body and are found again on import, and a post of the original site exports byte
    for byte."""
    for chunk in chunks(articles, batch):
        found = store.stocks_of([a.key for a in chunk], origin="list")
        for article in chunk:
            article.stocks = [s["secid"] for s in found[article.key]]
        yield from chunk


def export_posts(
    store: Store,
    out: Path,
    style: JekyllStyle,
    *,
    on_file: Callable[[Path], None] | None = None,
) -> int:
    """Write every article as a post file in ``out``; returns the number written."""
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for article in _with_stocks(store, store.iter_articles()):
        path = out / post_file_name(article, style.tz)
        write_atomic(path, format_post(article, style).encode("utf-8", "surrogatepass"))
        written += 1
        if on_file:
            on_file(path)
    return written
