// The stock directory's own search: narrows the list as the reader types a name or a code.
const form = document.getElementById("stock-filter");
const input = document.getElementById("stock-query");
const status = document.getElementById("stock-status");
const items = [...document.querySelectorAll("ul.stocks li")];
const sections = [...document.querySelectorAll("section.market")];

function filter() {
  const query = input.value.trim().toLowerCase();
  let shown = 0;
  for (const item of items) {
    const match = !query || item.dataset.search.toLowerCase().includes(query);
    item.hidden = !match;
    if (match) shown += 1;
  }
  for (const section of sections) {
    section.hidden = !section.querySelector("li:not([hidden])");
  }
  status.textContent = query ? `找到 ${shown} 只` : "";
}

form.hidden = false;
form.addEventListener("submit", (event) => event.preventDefault());
input.addEventListener("input", filter);
const initial = new URLSearchParams(location.search).get("q");
if (initial) {
  input.value = initial;
  filter();
}
