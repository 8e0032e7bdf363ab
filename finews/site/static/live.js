// The 7×24 stream: new items slide in at the top without moving what the reader looks at.
// Under `finews serve`, latest.json names an event stream (/api/live), which pushes each
// new article as it is stored; on a static host the page polls latest.json every 30 s.
const root = document.getElementById("live");
const prefix = root.dataset.prefix;
const zone = root.dataset.timezone || "Asia/Shanghai";
const status = document.getElementById("live-status");
const pollSeconds = Math.max(2, Number(new URLSearchParams(location.search).get("poll")) || 30);
let newest = BigInt(root.dataset.newest || "0");

function dayOf(date) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}

function label(day) {
  const today = dayOf(new Date());
  const yesterday = dayOf(new Date(Date.now() - 86400000));
  if (day === today) return "今天";
  if (day === yesterday) return "昨天";
  const [y, m, d] = day.split("-");
  return `${y}年${Number(m)}月${Number(d)}日`;
}

function relabel() {
  for (const section of root.querySelectorAll("section.live-day")) {
    section.querySelector("h2").textContent = label(section.dataset.day);
  }
}

function element(item) {
  const li = document.createElement("li");
  li.dataset.key = item.key;
  if (item.important) li.className = "important";
  const time = document.createElement("time");
  time.dateTime = item.iso;
  time.textContent = item.time;
  const body = document.createElement("div");
  body.className = "live-body";
  const a = document.createElement("a");
  a.href = item.href;
  a.textContent = item.title;
  body.append(a);
  if (item.important) {
    const mark = document.createElement("span");
    mark.className = "red-mark";
    mark.textContent = "重要";
    body.append(" ", mark);
  }
  if (item.text && item.text !== item.title) {
    const text = document.createElement("span");
    text.className = "live-text";
    text.textContent = item.text;
    body.append(" ", text);
  }
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = item.outlet;
  for (const stock of item.stocks || []) {
    const chip = document.createElement("a");
    chip.className = "chip";
    chip.href = stock.href;
    chip.textContent = stock.name;
    meta.append(" ", chip);
  }
  body.append(" ", meta);
  li.append(time, " ", body);
  return li;
}

function listFor(day) {
  let section = root.querySelector(`section.live-day[data-day="${day}"]`);
  if (!section) {
    section = document.createElement("section");
    section.className = "live-day";
    section.dataset.day = day;
    const h2 = document.createElement("h2");
    h2.textContent = label(day);
    section.append(h2, Object.assign(document.createElement("ol"), { className: "live" }));
    const first = root.querySelector("section.live-day");
    if (first) first.before(section); else root.replaceChildren(section);
  }
  return section.querySelector("ol");
}

function add(items) {
  const fresh = items.filter((item) => BigInt(item.key) > newest)
    .sort((a, b) => (BigInt(a.key) < BigInt(b.key) ? -1 : 1));
  if (!fresh.length) return;
  const before = document.documentElement.scrollHeight;
  for (const item of fresh) {
    const li = element(item);
    li.classList.add("arrived");
    listFor(item.day).prepend(li);
    newest = BigInt(item.key);
  }
  if (window.scrollY > 0) window.scrollBy(0, document.documentElement.scrollHeight - before);
  status.textContent = `新到 ${fresh.length} 条 · ${new Date().toLocaleTimeString("zh-CN", { timeZone: zone })}`;
}

async function latest() {
  const response = await fetch(`${prefix}/latest.json`, { cache: "no-store" });  // 10 KB: never a stale 304
  return response.ok ? response.json() : { items: [] };
}

function poll() {
  setInterval(async () => {
    try { add((await latest()).items); } catch { /* offline: try again next time */ }
  }, pollSeconds * 1000);
}

function stream(url) {
  const source = new EventSource(`${url}?after=${newest}`);
  source.onmessage = (event) => add([JSON.parse(event.data)]);
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) poll();  // it reconnects by itself otherwise
  };
}

relabel();
setInterval(relabel, 60000);
latest().then((data) => {
  add(data.items);
  if (data.live && "EventSource" in window) stream(data.live); else poll();
}).catch(poll);
