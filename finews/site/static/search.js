// Search over the site's Pagefind shards (one per month), merged in the browser.
const config = document.getElementById("search-config");
const prefix = config ? config.dataset.prefix : "";
const form = document.getElementById("search-form");
const input = document.getElementById("search-input");
const status = document.getElementById("search-status");
const results = document.getElementById("search-results");
let pagefind = null;

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
    if (m) { const mark = document.createElement("mark"); mark.textContent = m[1]; excerpt.append(mark); }
    else { excerpt.append(document.createTextNode(part.replace(/<[^>]*>/g, ""))); }
  }
  li.append(a, " ", meta, excerpt);
  return li;
}

async function run(query) {
  results.replaceChildren();
  if (!query.trim()) { status.textContent = ""; return; }
  status.textContent = "搜索中…";
  try {
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
