// Search over the site's Pagefind shards (one per month), merged in the browser; under
// `finews serve` (its latest.json names the live stream) the archive's exact /api/search.
const config = document.getElementById("search-config");
const prefix = config ? config.dataset.prefix : "";
const form = document.getElementById("search-form");
const input = document.getElementById("search-input");
const status = document.getElementById("search-status");
const results = document.getElementById("search-results");
let pagefind = null;
let served = null;

async function underServe() {
  if (served !== null) return served;
  try {
    const response = await fetch(`${prefix}/latest.json`, { cache: "no-store" });
    served = response.ok && Boolean((await response.json()).live);
  } catch { served = false; }
  return served;
}

function decoded(html) {
  return new DOMParser().parseFromString(html, "text/html").body.textContent;
}

async function archiveSearch(query) {
  const response = await fetch(`${prefix}/api/search?${new URLSearchParams({ q: query, limit: "50" })}`);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error);
  const found = data.articles.map((a) => ({
    url: a.page, excerpt: a.snippet,
    meta: { title: a.title, outlet: a.outlet, date: a.published.slice(0, 16).replace("T", " ") },
  }));
  return { found, more: Boolean(data.next_cursor) };
}

async function load() {
  if (pagefind) return pagefind;
  const response = await fetch(`${prefix}/pagefind/shards.json`);
  const shards = await response.json();
  if (!shards.length) throw new Error("empty index");
  pagefind = await import(`${prefix}/pagefind/${shards[0]}/pagefind.js`);
  await pagefind.options({ basePath: `${prefix}/pagefind/${shards[0]}/`, baseUrl: `${prefix}/` });
  for (const shard of shards.slice(1)) {
    await pagefind.mergeIndex(`${prefix}/pagefind/${shard}/`);
  }
  return pagefind;
}

function item(data) {
  const li = document.createElement("li");
  const a = document.createElement("a");
  a.href = data.url;
  a.textContent = (data.meta && data.meta.title) || data.url;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = [data.meta && data.meta.outlet, data.meta && data.meta.date].filter(Boolean).join(" ");
  const excerpt = document.createElement("p");
  excerpt.className = "sub";
  // Pagefind's excerpt is built from our own index: keep only its <mark> highlights.
  const parts = (data.excerpt || "").split(/(<mark>[^<]*<\/mark>)/);
  for (const part of parts) {
    const m = part.match(/^<mark>([^<]*)<\/mark>$/);
    if (m) { const mark = document.createElement("mark"); mark.textContent = decoded(m[1]); excerpt.append(mark); }
    else { excerpt.append(document.createTextNode(decoded(part.replace(/<[^>]*>/g, "")))); }
  }
  li.append(a, " ", meta, excerpt);
  return li;
}

async function run(query) {
  results.replaceChildren();
  if (!query.trim()) { status.textContent = ""; return; }
  status.textContent = "搜索中…";
  try {
    if (await underServe()) {
      const { found, more } = await archiveSearch(query);
      results.replaceChildren(...found.map(item));
      status.textContent = `“${query}”：${more ? "至少 " : ""}${found.length} 条结果`;
      return;
    }
    const pf = await load();
    const search = await pf.search(query);
    const top = await Promise.all(search.results.slice(0, 50).map((r) => r.data()));
    results.replaceChildren(...top.map(item));
    status.textContent = `“${query}”：${search.results.length} 条结果`;
  } catch (error) {
    status.textContent = `搜索不可用（${error.message}）`;
  }
}

if (form) {
  const initial = new URLSearchParams(location.search).get("q") || "";
  input.value = initial;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    history.replaceState(null, "", `?q=${encodeURIComponent(input.value)}`);
    run(input.value);
  });
  if (initial) run(initial);
}
