// Exact search over the site's static index (finews/site/search.py describes its files):
// a term's character pairs pick candidates, and each candidate is confirmed against the
// article's text before it is shown. Under `finews serve` (its latest.json names the live
// stream) the archive's own /api/search answers instead.
const config = document.getElementById("search-config");
const prefix = config ? config.dataset.prefix : "";
const form = document.getElementById("search-form");
const input = document.getElementById("search-input");
const status = document.getElementById("search-status");
const results = document.getElementById("search-results");
const moreButton = document.getElementById("search-more");
const filters = {
  outlet: document.getElementById("search-outlet"),
  stock: document.getElementById("search-stock"),
  since: document.getElementById("search-since"),
  until: document.getElementById("search-until"),
};
const PAGE = 20;
const FETCHES = 6; // text files fetched at once, at most: a browser's connections to one host
const SNIPPET = 80;

// -- text as the index sees it: finews/fulltext.py, character for character --------------
const FULLWIDTH = /[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]/g;
const SPACE = "\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPACES = new RegExp(`[${SPACE}]+`, "g");
const RUN_BREAK = new RegExp(`[\\x00-/:-@\\[-\`{-\\x7f${SPACE}\\ue000]+`, "g");
const GAP = "\ue000";

export function normalize(text) {
  const folded = text.replace(FULLWIDTH, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
  return folded.toLowerCase().split(SPACES).filter(Boolean).join(" ");
}

/** A term's gram codes, each with where it stands in the term: its pairs at offsets
 * 0, 1, …, or for a one-character term its character (fulltext.term_codes). */
export function termGrams(term) {
  const s = term.replace(RUN_BREAK, GAP);
  const single = [...s].length === 1;
  const grams = [];
  for (let i = 0; i < s.length; i++) {
    if (single) grams.push([s.charCodeAt(i), 0]);
    if (i + 1 < s.length) grams.push([(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)) | 0, single ? 0 : i]);
  }
  return grams;
}

export function termCodes(term) {
  return [...new Set(termGrams(term).map(([code]) => code))];
}

class QueryError extends Error {}
/** A file the manifest named is gone: the site was rebuilt since the page read it. */
class StaleIndex extends Error {}

/** The query language of `finews search` (fulltext.Query.parse): every term, `A OR B`,
 * and `-term` to exclude (not before a digit: -3.5% is a figure). */
export function parse(raw) {
  const clauses = [];
  const excluded = [];
  let joining = false;
  for (const word of raw.split(SPACES).filter(Boolean)) {
    if (word === "OR") {
      if (!clauses.length || joining) throw new QueryError("“OR” 两边都要有词");
      joining = true;
      continue;
    }
    const negative = "-－".includes(word[0]) && word.length > 1 && !/\d/.test(word[1]);
    const term = normalize(negative ? word.slice(1) : word);
    if (!term.replace(RUN_BREAK, "")) continue;
    if (negative && joining) throw new QueryError("“OR” 不能连接排除的词");
    if (negative) { if (!excluded.includes(term)) excluded.push(term); }
    else if (joining) { if (!clauses.at(-1).includes(term)) clauses.at(-1).push(term); }
    else clauses.push([term]);
    joining = false;
  }
  if (joining) throw new QueryError("“OR” 两边都要有词");
  if (!clauses.length) throw new QueryError(excluded.length ? "只有排除的词：请给出要找的词" : "请输入要找的字词");
  return { clauses, excluded, terms: [...new Set(clauses.flat())] };
}

export function matches(query, text) {
  return query.clauses.every((clause) => clause.some((t) => text.includes(t)))
    && !query.excluded.some((t) => text.includes(t));
}

// -- the index's files ------------------------------------------------------------------
const fetched = new Map();
function bytes(name) {
  if (!fetched.has(name)) {
    fetched.set(name, fetch(prefix + name).then((r) => {
      if (r.status === 404) throw new StaleIndex(name);
      if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
      return r.arrayBuffer();
    }).catch((error) => { fetched.delete(name); throw error; }));
  }
  return fetched.get(name);
}

async function inflate(data) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Response(stream).arrayBuffer();
}

const decoded = new Map();
function json(name) {
  if (!decoded.has(name)) {
    decoded.set(name, bytes(name).then(inflate).then((b) => JSON.parse(new TextDecoder().decode(b))));
  }
  return decoded.get(name);
}

let manifest = null;
let manifestText = "";
/** The manifest, asked again at every search (a revalidation: cheap when it did not
 * change), so that a page left open finds what the site's rebuilds added. */
async function index() {
  const r = await fetch(`${prefix}/search/index.json`, { cache: "no-cache" });
  if (!r.ok) throw new Error(`index.json: HTTP ${r.status}`);
  const text = await r.text();
  if (text !== manifestText || !manifest) {
    manifest = JSON.parse(text);
    manifest.groupsById = new Map(manifest.groups.map((g) => [g.id, g]));
    manifestText = text;
  }
  return manifest;
}

/** A group's bucket file, split into its parts' (still deflated) blobs. */
const groupFiles = new Map();
function groupFile(name) {
  if (!groupFiles.has(name)) {
    groupFiles.set(name, bytes(name).then((buffer) => {
      const view = new DataView(buffer);
      const count = view.getUint32(0, true);
      const blobs = new Map();
      let at = 4 + 8 * count;
      for (let i = 0; i < count; i++) {
        const part = view.getUint32(4 + 8 * i, true);
        const length = view.getUint32(8 + 8 * i, true);
        blobs.set(part, { data: new Uint8Array(buffer, at, length) });
        at += length;
      }
      return blobs;
    }));
  }
  return groupFiles.get(name);
}

/** A blob's codes and where each one's list ends, read without inflating anything. */
function head(blob) {
  if (!blob.codes) {
    const data = blob.data;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const n = view.getUint32(0, true);
    const codes = new Uint32Array(n);
    const ends = new Uint32Array(n);
    let at = 8;
    const varint = () => {
      let value = 0;
      let shift = 0;
      let byte;
      do { byte = data[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
      return value;
    };
    let code = 0;
    for (let i = 0; i < n; i++) { code += varint(); codes[i] = code; }
    let end = 0;
    for (let i = 0; i < n; i++) { end += varint(); ends[i] = end; }
    blob.codes = codes;
    blob.ends = ends;
    blob.lists = null;
    blob.listsAt = 8 + view.getUint32(4, true);
  }
  return blob;
}

function find(blob, code) {
  const { codes } = head(blob);
  const wanted = code >>> 0;
  let low = 0;
  let high = codes.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (codes[mid] < wanted) low = mid + 1;
    else if (codes[mid] > wanted) high = mid - 1;
    else return mid;
  }
  return -1;
}

async function lists(blob) {
  if (!blob.lists) blob.lists = inflate(blob.data.subarray(blob.listsAt)).then((b) => new Uint8Array(b));
  return blob.lists;
}

function bucketOf(code, bits) {
  return (Math.imul(code, 0x9e3779b1) >>> 0) >>> (32 - bits);
}

async function blobOf(data, group, part, code) {
  return (await groupFile(group.files[bucketOf(code, data.bucket_bits)])).get(part.id) || null;
}

/** The part's articles that may hold the term, as a 256-bit mask: those with every one
 * of its codes, each at a position that fits (fulltext.code_residues: its pairs must
 * stand at r, r+1, … modulo 8 for some r). Empty at once, without inflating a list, when
 * one of the codes is not in the part. */
async function termMask(data, group, part, grams) {
  const mask = new Uint32Array(8);
  const blobs = await Promise.all(grams.map(([code]) => blobOf(data, group, part, code)));
  const places = blobs.map((blob, i) => (blob ? find(blob, grams[i][0]) : -1));
  if (places.includes(-1)) return mask;
  const fits = new Uint8Array(256).fill(0xff);
  for (let i = 0; i < grams.length; i++) {
    const blob = blobs[i];
    const body = await lists(blob);
    const residues = blob.ends[blob.ends.length - 1];
    const shift = grams[i][1] % 8;
    const here = new Uint8Array(256);
    for (let k = places[i] ? blob.ends[places[i] - 1] : 0; k < blob.ends[places[i]]; k++) {
      const bits = body[residues + k];
      here[body[k]] = ((bits >> shift) | (bits << (8 - shift))) & 0xff;
    }
    for (let o = 0; o < 256; o++) fits[o] &= here[o];
  }
  for (let o = 0; o < 256; o++) if (fits[o]) mask[o >> 5] |= 1 << (o & 31);
  return mask;
}

function and(a, b) { return a.map((x, i) => x & b[i]); }
function or(a, b) { return a.map((x, i) => x | b[i]); }

async function candidates(data, part, codes) {
  const group = data.groupsById.get(part.group);
  let all = new Uint32Array(8).fill(0xffffffff);
  for (const clause of codes) {
    let any = new Uint32Array(8);
    for (const term of clause) {
      any = or(any, await termMask(data, group, part, term));
    }
    all = and(all, any);
  }
  const found = [];
  for (let i = 0; i < Math.min(part.n, 256); i++) if (all[i >> 5] & (1 << (i & 31))) found.push(i);
  return found;
}

/** Fetch, ahead of need, a group's bucket files for the query's codes. */
function prefetch(data, group, codes) {
  const bits = data.bucket_bits;
  for (const [code] of codes.flat(2)) groupFile(group.files[bucketOf(code, bits)]).catch(() => {});
}

/** A security given by its secid (1.600519), its code (600519) or a name it had, as
 * `finews search --stock` reads it: one exact match, or the only one that contains it. */
async function resolveStock(data, value) {
  const wanted = value.trim();
  if (!wanted) return null;
  const stocks = await json(data.stocks);
  const upper = wanted.toUpperCase();
  const code = (secid) => secid.slice(secid.indexOf(".") + 1).toUpperCase();
  const found = stocks.filter(([secid, names]) => secid.toUpperCase() === upper || code(secid) === upper
    || names.some((n) => n.includes(wanted)));
  const exact = found.filter(([secid, names]) => secid.toUpperCase() === upper || code(secid) === upper
    || names[0] === wanted);
  if (exact.length === 1 || found.length === 1) return (exact.length === 1 ? exact : found)[0][0];
  if (!found.length) throw new QueryError(`没有这只股票：${wanted}`);
  throw new QueryError(`“${wanted}”对应多只股票，请输入代码，例如 ${found[0][0]}`);
}

function textFile(part, ordinal, chunk) {
  return `${part.text}-${Math.floor(ordinal / chunk)}.bin`;
}

/** A search over the static index, newest first, taken PAGE results at a time. */
class StaticSearch {
  constructor(data, query, chosen) {
    this.data = data;
    this.query = query;
    this.codes = query.clauses.map((clause) => clause.map(termGrams));
    this.chosen = chosen;
    this.stock = null;
    this.parts = data.parts.filter((p) => (!chosen.since || p.last.slice(0, 10) >= chosen.since)
      && (!chosen.until || p.first.slice(0, 10) <= chosen.until));
    this.at = 0;
    this.pending = [];
    this.shown = 0;
    this.width = 1;
    this.prefetched = new Set();
  }

  get done() { return this.at >= this.parts.length && !this.pending.length; }

  wanted(doc) {
    const day = doc[4].slice(0, 10);
    const c = this.chosen;
    return (!c.outlet || doc[3] === c.outlet) && (!c.since || day >= c.since) && (!c.until || day <= c.until)
      && (!this.stock || doc[5].includes(this.stock));
  }

  /** Fetch, ahead of need, the bucket files of this part's group and of the next two. */
  prefetchFrom(index) {
    const seen = new Set();
    for (let i = index; i < this.parts.length && seen.size < 3; i++) {
      const group = this.parts[i].group;
      seen.add(group);
      if (!this.prefetched.has(group)) prefetch(this.data, this.data.groupsById.get(group), this.codes);
      this.prefetched.add(group);
    }
  }

  async next() {
    if (this.chosen.stock && !this.stock) this.stock = await resolveStock(this.data, this.chosen.stock);
    const found = [];
    while (found.length < PAGE && !this.done) {
      if (!this.pending.length) {
        if (!this.at || this.parts[this.at].group !== this.parts[this.at - 1].group) this.prefetchFrom(this.at);
        const part = this.parts[this.at++];
        const ordinals = await candidates(this.data, part, this.codes);
        if (!ordinals.length) continue;
        const docs = await json(part.docs);
        this.pending = ordinals.filter((o) => this.wanted(docs[o])).map((o) => ({ part, docs, o }));
        continue;
      }
      const chunk = this.data.chunk;
      const batch = [];
      const files = new Set();
      for (const c of this.pending) {  // the next candidates, over at most `width` text files
        const file = textFile(c.part, c.o, chunk);
        if (!files.has(file) && files.size >= this.width) break;
        files.add(file);
        batch.push(c);
      }
      this.pending = this.pending.slice(batch.length);
      this.width = Math.min(FETCHES, this.width * 2);  // one file first: a common term needs no more
      const texts = await Promise.all(batch.map((c) => json(textFile(c.part, c.o, chunk))));
      for (let i = 0; i < batch.length; i++) {
        if (found.length >= PAGE) { this.pending = batch.slice(i).concat(this.pending); break; }
        const text = texts[i][batch[i].o % chunk];
        if (matches(this.query, text)) found.push({ doc: batch[i].docs[batch[i].o], text });
      }
    }
    this.shown += found.length;
    return found;
  }
}

// -- the page ---------------------------------------------------------------------------
let served = null;
async function underServe() {
  if (served !== null) return served;
  try {
    const response = await fetch(`${prefix}/latest.json`, { cache: "no-store" });
    served = response.ok && Boolean((await response.json()).live);
  } catch { served = false; }
  return served;
}

/** The same search answered by `finews serve`, page after page through its cursor. */
class ServedSearch {
  constructor(raw, chosen) { this.raw = raw; this.chosen = chosen; this.cursor = ""; this.done = false; this.shown = 0; }

  async next() {
    const params = new URLSearchParams({ q: this.raw, limit: String(PAGE) });
    for (const [name, value] of Object.entries(this.chosen)) if (value) params.set(name, value);
    if (this.cursor) params.set("cursor", this.cursor);
    const response = await fetch(`${prefix}/api/search?${params}`);
    const data = await response.json();
    if (!response.ok) throw new QueryError(data.error);
    this.cursor = data.next_cursor || "";
    this.done = !this.cursor;
    const found = data.articles.map((a) => ({
      doc: [a.page, a.title, a.outlet, a.category, a.published.slice(0, 16).replace("T", " "), []],
      snippetHtml: a.snippet,
    }));
    this.shown += found.length;
    return found;
  }
}

function marked(window, terms, into) {
  const sorted = [...terms].sort((a, b) => b.length - a.length);
  let at = 0;
  while (at < window.length) {
    let hit = -1;
    let term = "";
    for (const t of sorted) {
      const i = window.indexOf(t, at);
      if (i >= 0 && (hit < 0 || i < hit)) { hit = i; term = t; }
    }
    if (hit < 0) break;
    into.append(document.createTextNode(window.slice(at, hit)));
    const mark = document.createElement("mark");
    mark.textContent = term;
    into.append(mark);
    at = hit + term.length;
  }
  into.append(document.createTextNode(window.slice(at)));
}

/** A window of the body around the first hit (its start when only the title matched). */
function snippet(text, terms, into) {
  const body = text.slice(text.indexOf("\n") + 1);
  const hits = terms.map((t) => body.indexOf(t)).filter((i) => i >= 0);
  const start = hits.length ? Math.max(0, Math.min(...hits) - SNIPPET / 4) : 0;
  if (start) into.append("…");
  marked(body.slice(start, start + SNIPPET), terms, into);
  if (start + SNIPPET < body.length) into.append("…");
}

function fromServer(html, into) {
  const parsed = new DOMParser().parseFromString(html, "text/html").body;
  for (const node of parsed.childNodes) {
    if (node.nodeName === "MARK") { const m = document.createElement("mark"); m.textContent = node.textContent; into.append(m); }
    else into.append(document.createTextNode(node.textContent));
  }
}

function item(result, terms) {
  const [path, title, outlet, , when] = result.doc;
  const li = document.createElement("li");
  const a = document.createElement("a");
  a.href = prefix + path;
  a.textContent = title;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${outlet} ${when}`;
  const excerpt = document.createElement("p");
  excerpt.className = "sub";
  if (result.snippetHtml !== undefined) fromServer(result.snippetHtml, excerpt);
  else snippet(result.text, terms, excerpt);
  li.append(a, " ", meta, excerpt);
  return li;
}

let current = null;

function chosenFilters() {
  const chosen = {};
  for (const [name, field] of Object.entries(filters)) if (field && field.value) chosen[name] = field.value;
  return chosen;
}

async function page(search, raw, terms, started) {
  status.textContent = "搜索中…";
  moreButton.hidden = true;
  const found = await search.next();
  if (search !== current) return;
  results.append(...found.map((r) => item(r, terms)));
  const count = search.shown;
  status.textContent = search.done ? `“${raw}”：${count} 条结果` : `“${raw}”：至少 ${count} 条结果`;
  status.dataset.ms = String(Math.round(performance.now() - started));
  status.dataset.state = search.done ? "done" : "more";
  moreButton.hidden = search.done;
}

async function run(raw) {
  results.replaceChildren();
  moreButton.hidden = true;
  delete status.dataset.state;
  if (!raw.trim()) { status.textContent = ""; current = null; return; }
  const started = performance.now();
  try {
    const query = parse(raw);
    const chosen = chosenFilters();
    const start = async () => {
      current = (await underServe()) ? new ServedSearch(raw, chosen) : new StaticSearch(await index(), query, chosen);
      await page(current, raw, query.terms, started);
    };
    try {
      await start();
    } catch (error) {
      if (!(error instanceof StaleIndex)) throw error;
      for (const cache of [fetched, decoded, groupFiles]) cache.clear();
      results.replaceChildren();
      await start();
    }
  } catch (error) {
    status.textContent = error instanceof QueryError ? error.message : `搜索不可用（${error.message}）`;
    status.dataset.state = "error";
  }
}

async function fillOutlets() {
  if (!filters.outlet) return;
  try {
    const data = await index();
    for (const [slug, name] of data.outlets) filters.outlet.append(new Option(name, slug));
  } catch { /* the outlet menu stays at "all"; the search itself reports the error */ }
}

if (form) {
  const params = new URLSearchParams(location.search);
  input.value = params.get("q") || "";
  for (const [name, field] of Object.entries(filters)) if (field) field.value = params.get(name) || "";
  fillOutlets().then(() => { if (filters.outlet) filters.outlet.value = params.get("outlet") || ""; });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams({ q: input.value, ...chosenFilters() });
    history.replaceState(null, "", `?${query}`);
    run(input.value);
  });
  moreButton.addEventListener("click", () => {
    if (current) page(current, input.value, parse(input.value).terms, performance.now()).catch((error) => {
      status.textContent = `搜索不可用（${error.message}）`;
    });
  });
  if (input.value) run(input.value);
}
