"""The static site's search index: the archive's character pairs as files any host serves.

Every substring is found, as by ``finews search``: a term's pairs (its character, for a
one-character term) select candidates, and the browser confirms each candidate against the
article's text before showing it, so no page is missed and none shown is wrong.

Layout, all under ``/search/`` and named by content (so a host may cache them forever)
except ``index.json``, the manifest the page reads first:

- a *part* is up to ``PART`` articles with consecutive keys; ordinal 0 is its newest, so an
  ordinal fits a byte. A part is what a change rebuilds: new articles land in the newest
  part, and ten of them rebuild at most ``PART`` articles, not a month.
- a *group* is up to ``GROUP`` consecutive parts. Its gram codes are hashed into
  ``BUCKETS`` files, each holding, for every part of the group, one blob: the part's codes
  of that bucket and the lengths of their lists (varints, read without inflating), then
  the lists of ordinals, deflated. A query fetches one file per term code and group,
  whatever the group's size, and a rebuilt part only re-joins its group's blobs.
- per part, ``docs``: each article's page, title, outlet, outlet slug, time and securities
  (the filters and the result list), and ``text``: the searchable text in chunks of
  ``CHUNK`` articles (what confirms a candidate and makes its snippet), named by the
  part's texts and the chunk's number, so that the manifest names a part's in one string.

A file of a group: ``u32 count, count x (u32 part, u32 length), blobs``; a part's blob:
``u32 n, u32 head bytes, head: n varint deltas of the codes (as unsigned, ascending) and n
varint list lengths, then deflate-raw: the lists of ordinals (a byte each), then as many
bytes of residues`` (``fulltext.code_residues``: where in the article the pair stands,
modulo 8).
Little-endian. Docs and text files are deflate-raw JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, fields
from zoneinfo import ZoneInfo

from finews.fulltext import code_residues
from finews.model import Article
from finews.parallel import map_chunks
from finews.site.output import Output, digest
from finews.site.pages import article_path

FORMAT = 2
PART = 256
GROUP = 32
BUCKET_BITS = 6
BUCKETS = 1 << BUCKET_BITS
CHUNK = 16
ROOT = "/search/"
MANIFEST = ROOT + "index.json"


def bucket_of(code: int) -> int:
    """Fibonacci hashing of the code's 32 bits: the page computes the same (Math.imul)."""
    return ((code & 0xFFFFFFFF) * 0x9E3779B1 & 0xFFFFFFFF) >> (32 - BUCKET_BITS)


def _deflated(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def _inflated(data: bytes) -> bytes:
    return zlib.decompress(data, -15)


@dataclass
class Part:
    id: int
    group: int
    lo: int
    hi: int
    n: int = 0
    first: str = ""
    last: str = ""
    docs: str = ""
    text: str = ""
    """The text files' common name: ``<text>-0.bin``, ``<text>-1.bin``, …, a chunk each."""
    blobs: list[bytes] | None = None
    """Per bucket, when built in this run; else read back from the group's files."""

    def record(self) -> dict:
        """What the manifest keeps of a part: everything but its blobs."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "blobs"}


@dataclass
class Built:
    """What building one part produced: its files and its blobs for the group files."""

    keys: list[int]
    first: str
    last: str
    files: dict[str, bytes]
    docs: str
    text: str
    blobs: list[bytes]


def _name(kind: str, data: bytes) -> str:
    """A file's name under /search/: its kind and its content's digest."""
    return f"{ROOT}{kind}/{digest(data)[:16]}"


def build_part(articles: list[Article], tz: ZoneInfo) -> Built:
    """Articles newest first; ordinals are their places in that order."""
    docs, texts = [], []
    lists: defaultdict[int, bytearray] = defaultdict(bytearray)
    residues: defaultdict[int, bytearray] = defaultdict(bytearray)
    for ordinal, a in enumerate(articles):
        local = a.published.astimezone(tz)
        docs.append([article_path(a.category, a.published, a.code, tz), a.title, a.outlet or a.category,
                     a.category, f"{local:%Y-%m-%d %H:%M}", a.stocks])
        text = a.search_text
        texts.append(text)
        for code, residue in code_residues(text).items():
            lists[code].append(ordinal)
            residues[code].append(residue)
    files: dict[str, bytes] = {}
    packed_docs = _deflated(json.dumps(docs, ensure_ascii=False).encode())
    docs_name = _name("d", packed_docs) + ".bin"
    files[docs_name] = packed_docs
    chunks = [_deflated(json.dumps(texts[i : i + CHUNK], ensure_ascii=False).encode())
              for i in range(0, len(texts), CHUNK)]
    text_name = _name("t", b"".join(chunks))
    files.update((f"{text_name}-{i}.bin", chunk) for i, chunk in enumerate(chunks))
    by_bucket: list[list[int]] = [[] for _ in range(BUCKETS)]
    for code in sorted(lists, key=lambda c: c & 0xFFFFFFFF):
        by_bucket[bucket_of(code)].append(code)
    blobs = [_blob(codes, lists, residues) for codes in by_bucket]
    dates = [d[4] for d in docs]
    return Built([a.key for a in articles], min(dates, default=""), max(dates, default=""),
                 files, docs_name, text_name, blobs)


def build_parts(articles: list[Article], tz: ZoneInfo) -> list[Built]:
    """Articles newest first, as parts of at most ``PART``: full ones from the oldest on,
    so that the newest keeps room for what comes next."""
    if not articles:
        return []
    newest = len(articles) % PART or PART
    pieces = [articles[:newest]] + [articles[i : i + PART] for i in range(newest, len(articles), PART)]
    return [build_part(piece, tz) for piece in reversed(pieces)]


def _blob(codes: list[int], lists: dict[int, bytearray], residues: dict[int, bytearray]) -> bytes:
    """Codes in unsigned order: the page reads their varint deltas and the lengths of
    their lists without inflating anything, and inflates the lists only where every code
    of a term is present (a made-up term inflates nothing). Every list of ordinals, then
    every list of residues, so that like bytes sit together for deflate."""
    unsigned = [c & 0xFFFFFFFF for c in codes]
    head = _varints([b - a for a, b in zip([0, *unsigned], unsigned, strict=False)])
    head += _varints([len(lists[c]) for c in codes])
    postings = _deflated(b"".join([*(lists[c] for c in codes), *(residues[c] for c in codes)]))
    return struct.pack("<II", len(codes), len(head)) + head + postings


def _varints(numbers: list[int]) -> bytes:
    out = bytearray()
    for n in numbers:
        while n >= 0x80:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


def _read_varints(data: bytes, count: int, at: int) -> tuple[list[int], int]:
    numbers = []
    for _ in range(count):
        n = shift = 0
        while True:
            byte = data[at]
            at += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        numbers.append(n)
    return numbers, at


def group_file(blobs: list[tuple[int, bytes]]) -> bytes:
    """One bucket of a group: each part's blob (newest part first) behind a header."""
    head = [struct.pack("<I", len(blobs))]
    head += [struct.pack("<II", part, len(blob)) for part, blob in blobs]
    return b"".join(head + [blob for _, blob in blobs])


def read_group_file(data: bytes) -> dict[int, bytes]:
    (count,) = struct.unpack_from("<I", data)
    at = 4 + 8 * count
    found = {}
    for i in range(count):
        part, length = struct.unpack_from("<II", data, 4 + 8 * i)
        found[part] = data[at : at + length]
        at += length
    return found


def part_lists(blob: bytes) -> dict[int, list[tuple[int, int]]]:
    """A part's blob read back: code -> (ordinal, residue bits) (for tests; the page
    reads it in JS)."""
    n, size = struct.unpack_from("<II", blob)
    deltas, at = _read_varints(blob, n, 8)
    lengths, _ = _read_varints(blob, n, at)
    postings = _inflated(blob[8 + size :])
    found, code, start, total = {}, 0, 0, sum(lengths)
    for delta, length in zip(deltas, lengths, strict=True):
        code += delta
        signed = code - (1 << 32) if code >= 1 << 31 else code
        found[signed] = list(zip(postings[start : start + length],
                                 postings[total + start : total + start + length], strict=True))
        start += length
    return found


@dataclass
class SearchReport:
    parts: int = 0
    rebuilt: int = 0


class StaticIndex:
    """Keeps ``/search/`` in step with the archive: a full build makes every part, a later
    build only the parts holding a changed, new or removed article."""

    def __init__(self, store, out: Output, tz: ZoneInfo, window: tuple[int, int], *,
                 outlets: list[tuple[str, str]], workers: int | None = None):
        self.store = store
        self.stocks = ""
        """The file of every security's names, which the stock filter reads."""
        self.out = out
        self.tz = tz
        self.window = window
        self.outlets = outlets
        self.workers = workers
        self.parts: dict[int, Part] = {}
        self.groups: dict[int, list[int]] = {}
        self.files: dict[int, list[str]] = {}
        self.next_id = 0
        self.stored: dict[int, list[str]] = {}
        """Each part's group files as the manifest named them: where its blobs are."""
        self.read: dict[str, dict[int, bytes]] = {}
        self.touched: set[int] = set()
        """Groups whose files must be written again: a part of theirs was rebuilt or dropped."""

    # -- the manifest ---------------------------------------------------------------

    def _load(self) -> bool:
        path = self.out.root / MANIFEST.lstrip("/")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT or manifest.get("buckets") != BUCKETS:
                return False
            for record in manifest["parts"]:
                part = Part(**record)
                self.parts[part.id] = part
            for group in manifest["groups"]:
                self.groups[group["id"]] = list(group["parts"])
                self.files[group["id"]] = list(group["files"])
                self.stored.update((p, self.files[group["id"]]) for p in group["parts"])
            self.next_id = manifest["next_id"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        # a file lost (by hand, a disk fault): start over
        return self._named() <= set(self._on_disk())

    def _named(self) -> set[str]:
        named = {MANIFEST, self.stocks} - {""}
        for part in self.parts.values():
            named.add(part.docs)
            named.update(f"{part.text}-{i}.bin" for i in range(-(-part.n // CHUNK)))
        for names in self.files.values():
            named.update(names)
        return named

    def _on_disk(self) -> Iterator[str]:
        """Every file under /search/, those a killed build left unnamed included."""
        root = self.out.root / ROOT.strip("/")
        yield MANIFEST
        for kind in ("d", "g", "s", "t"):
            with contextlib.suppress(FileNotFoundError), os.scandir(root / kind) as entries:
                yield from (f"{ROOT}{kind}/{entry.name}" for entry in entries)

    def _manifest(self) -> bytes:
        newest_first = sorted(self.groups, key=lambda g: -self.parts[self.groups[g][0]].hi)
        return json.dumps({
            "format": FORMAT, "buckets": BUCKETS, "bucket_bits": BUCKET_BITS, "chunk": CHUNK,
            "next_id": self.next_id, "count": sum(p.n for p in self.parts.values()),
            "outlets": self.outlets, "stocks": self.stocks,
            "groups": [{"id": g, "parts": self.groups[g], "files": self.files[g]} for g in newest_first],
            "parts": [self.parts[p].record() for g in newest_first for p in self.groups[g]],
        }, ensure_ascii=False, separators=(",", ":")).encode()

    # -- entry point ------------------------------------------------------------------

    def update(self, changed: set[int] | None) -> SearchReport:
        """``changed``: the keys of articles added, changed or removed since the last
        build; None rebuilds everything (so does a missing or older manifest)."""
        fresh = changed is None or not self._load()
        dirty = self._fresh_parts() if fresh else self._assign(changed)
        self._rebuild(dirty)
        self._split_groups()
        self._write_stocks()
        for group in sorted(self.touched):
            self._write_group(group)
        self.out.write(MANIFEST, self._manifest())
        return self._sweep(sum(p.blobs is not None for p in self.parts.values()))

    def _write_stocks(self) -> None:
        """Every security the archive names, with each name it had: the page resolves a
        code or a name as ``finews search --stock`` does."""
        names = sorted(self.store.all_security_names().items())
        data = _deflated(json.dumps(names, ensure_ascii=False).encode())
        self.stocks = _name("s", data) + ".bin"
        self.out.write(self.stocks, data)

    def _fresh_parts(self) -> set[int]:
        """Parts of ``PART`` keys from the oldest on, whatever a manifest half read said."""
        self.parts, self.groups, self.files, self.stored, self.next_id = {}, {}, {}, {}, 0
        keys = self.store.keys_in(self.window)
        for start in range(0, len(keys), PART):
            chunk = keys[start : start + PART]
            part = self._new_part(chunk[0], chunk[-1], group=(start // PART) // GROUP)
            part.n = len(chunk)
        return set(self.parts)

    def _new_part(self, lo: int, hi: int, *, group: int) -> Part:
        part = Part(self.next_id, group, lo, hi)
        self.next_id += 1
        self.parts[part.id] = part
        members = self.groups.setdefault(group, [])
        members.append(part.id)
        members.sort(key=lambda p: -self.parts[p].lo)
        self.files.setdefault(group, [])
        return part

    def _assign(self, changed: set[int]) -> set[int]:
        """The parts to rebuild: those whose range holds a changed key, the part a new key
        falls next to, and those the site's window has left or cut."""
        low = self.window[0]
        dirty = {part.id for part in self.parts.values() if part.lo < low}
        ordered = sorted((p for p in self.parts.values() if p.hi >= low), key=lambda p: p.lo)
        for key in sorted(k for k in changed if k >= low):
            dirty.add(self._owner(key, ordered).id)
        return dirty

    def _owner(self, key: int, ordered: list[Part]) -> Part:
        for part in ordered:
            if part.lo <= key <= part.hi:
                return part
        if not ordered:
            part = self._new_part(key, key, group=max(self.groups, default=-1) + 1)
            ordered.append(part)
            return part
        newest = ordered[-1]
        if key > newest.hi:
            if newest.n >= PART:
                group = newest.group if len(self.groups[newest.group]) < GROUP else max(self.groups) + 1
                newest = self._new_part(key, key, group=group)
                ordered.append(newest)
            newest.hi = key
            return newest
        if key < ordered[0].lo:
            ordered[0].lo = key
            return ordered[0]
        older = max((p for p in ordered if p.hi < key), key=lambda p: p.hi)
        older.hi = key
        return older

    # -- building parts -----------------------------------------------------------------

    def _rebuild(self, dirty: set[int]) -> None:
        """Parts the window has left are dropped; the rest are built again."""
        low = self.window[0]
        wanted = [p for p in sorted(dirty) if self.parts[p].hi >= low]
        for part_id in dirty - set(wanted):
            self._drop(part_id)
        ranges = [(self.parts[p].lo, self.parts[p].hi) for p in wanted]
        if len(ranges) > 8:
            jobs = [(self.store.archive, self.tz, lo, hi, self.window) for lo, hi in ranges]
            built = map_chunks(_build_parts, jobs, chunk_size=1, workers=self.workers)
        else:
            built = (build_parts(_articles_in(self.store, lo, hi, self.window), self.tz) for lo, hi in ranges)
        for part_id, pieces in zip(wanted, built, strict=True):
            self._take(part_id, pieces)

    def _take(self, part_id: int, pieces: list[Built]) -> None:
        """A part's range built again: none (its articles are gone), one, or, for a part
        grown past ``PART`` (a burst, old articles filled in), several, of which the
        oldest keeps the part's id."""
        if not pieces:
            self._drop(part_id)
            return
        group = self.parts[part_id].group
        for i, built in enumerate(pieces):
            part = self.parts[part_id] if i == 0 else self._new_part(
                built.keys[-1], built.keys[0], group=group)
            for name, data in built.files.items():
                self.out.write(name, data)
            self.touched.add(part.group)
            part.lo, part.hi, part.n = built.keys[-1], built.keys[0], len(built.keys)
            part.first, part.last, part.docs, part.text, part.blobs = (
                built.first, built.last, built.docs, built.text, built.blobs)

    def _drop(self, part_id: int) -> None:
        part = self.parts.pop(part_id)
        self.touched.add(part.group)
        members = self.groups[part.group]
        members.remove(part_id)
        if not members:
            del self.groups[part.group]
            del self.files[part.group]

    def _split_groups(self) -> None:
        for group, members in list(self.groups.items()):
            if len(members) > 2 * GROUP:
                new = max(self.groups) + 1
                self.groups[group], self.groups[new] = members[:GROUP], members[GROUP:]
                self.files[new] = []
                for p in self.groups[new]:
                    self.parts[p].group = new
                self.touched.update((group, new))

    def _write_group(self, group: int) -> None:
        if group not in self.groups:
            return
        names = []
        for bucket in range(BUCKETS):
            blobs = [(p, self._blob(p, bucket)) for p in self.groups[group]]
            data = group_file(blobs)
            name = _name("g", data) + ".bin"
            self.out.write(name, data)
            names.append(name)
        self.files[group] = names

    def _blob(self, part_id: int, bucket: int) -> bytes:
        """A part's blob of a bucket: built in this run, or read from the file its group
        had when the manifest was read."""
        part = self.parts[part_id]
        if part.blobs is not None:
            return part.blobs[bucket]
        files = self.stored.get(part_id)
        if not files:
            raise _Stale(part_id)
        name = files[bucket]
        if name not in self.read:
            self.read[name] = self._read(name)
        blob = self.read[name].get(part_id)
        if blob is None:
            raise _Stale(part_id)
        return blob

    def _read(self, name: str) -> dict[int, bytes]:
        try:
            return read_group_file((self.out.root / name.lstrip("/")).read_bytes())
        except (OSError, struct.error):
            return {}

    def _sweep(self, rebuilt: int) -> SearchReport:
        """Remove the files no part or group names any more (after the manifest that
        stopped naming them is written)."""
        wanted = self._named()
        for path in set(self._on_disk()) | set(self.out.paths_with_prefix(ROOT)):
            if path not in wanted:
                self.out.remove(path)
        return SearchReport(len(self.parts), rebuilt)


class _Stale(Exception):
    """A part's blobs are missing from its group's files: the index is rebuilt whole."""


def _articles_in(store, lo: int, hi: int, window: tuple[int, int]) -> list[Article]:
    keys = (max(lo, window[0]), min(hi, window[1]))
    if keys[0] > keys[1]:
        return []
    return store.summaries(keys=keys, with_body=True, with_stocks=True)


def _build_parts(jobs: list[tuple]) -> list[list[Built]]:
    """Worker process: build parts straight from the archive."""
    from finews.store import open_store

    results = []
    for archive, tz, lo, hi, window in jobs:
        store = open_store(archive)
        try:
            results.append(build_parts(_articles_in(store, lo, hi, window), tz))
        finally:
            store.close()
    return results


def update_index(store, out: Output, tz: ZoneInfo, window: tuple[int, int], changed: set[int] | None, *,
                 outlets: list[tuple[str, str]], workers: int | None = None) -> SearchReport:
    """Bring ``/search/`` up to date; a manifest that disagrees with its files (a part's
    blobs missing) is rebuilt whole."""
    try:
        return StaticIndex(store, out, tz, window, outlets=outlets, workers=workers).update(changed)
    except _Stale:
        return StaticIndex(store, out, tz, window, outlets=outlets, workers=workers).update(None)
