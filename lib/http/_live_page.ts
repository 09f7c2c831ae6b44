/**
 * The live page (`GET /`), its script (`/live.js`) and style (`/live.css`):
 * plain HTML, CSS and browser JavaScript kept as strings, so there is no
 * build step and the compiled binary carries them. The script follows
 * `/events` with an `EventSource`: the `state` event fills the table, the
 * `lines` event the tail. It writes what the server sent only through
 * `textContent` (never `innerHTML`), so nothing a peer sent can become
 * markup; the server has escaped control and invisible characters already.
 *
 * @module
 */

/** The page. */
export const LIVE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>linehub</title>
<link rel="stylesheet" href="/live.css">
<script src="/live.js" defer></script>
</head>
<body>
<header>
  <h1>linehub <span id="node"></span></h1>
  <span id="health" class="badge">connecting</span>
  <span id="totals"></span>
</header>
<main>
<section id="clients-section">
  <h2>Connected clients <span id="client-count"></span></h2>
  <table id="clients">
    <thead><tr>
      <th class="num">client</th><th>name</th><th>address</th><th>certificate</th>
      <th class="num">lines</th><th class="num">bytes</th><th class="num">lines/s</th>
      <th class="num">connected for</th>
    </tr></thead>
    <tbody></tbody>
  </table>
  <p id="more" hidden></p>
</section>
<section id="tail-section">
  <h2>Live tail
    <label>client <select id="filter"><option value="">all</option></select></label>
    <span id="sampled" class="note" hidden></span>
  </h2>
  <p id="no-tail" class="note" hidden></p>
  <ol id="tail"></ol>
  <button id="resume" type="button" hidden></button>
</section>
</main>
</body>
</html>
`;

/** The page's style. */
export const LIVE_PAGE_STYLE =
  `:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0; display: flex; flex-direction: column; height: 100vh; }
header { display: flex; gap: 1em; align-items: baseline; padding: .5em 1em;
  border-bottom: 1px solid #8884; }
h1 { font-size: 1.2em; margin: 0; }
h1 span { font-weight: normal; opacity: .7; }
h2 { font-size: 1em; margin: .5em 0; display: flex; gap: 1em; align-items: baseline; }
main { flex: 1; display: flex; flex-direction: column; min-height: 0; padding: 0 1em; }
#clients-section { max-height: 40vh; overflow: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .15em .6em; text-align: left; white-space: nowrap; }
th { position: sticky; top: 0; background: Canvas; border-bottom: 1px solid #8886; }
.num { text-align: right; }
tbody tr { cursor: pointer; }
tbody tr:hover, tbody tr.chosen { background: #8882; }
#tail-section { flex: 1; display: flex; flex-direction: column; min-height: 0; }
#tail { flex: 1; overflow: auto; margin: 0; padding: .3em; list-style: none;
  font-family: ui-monospace, monospace; font-size: .9em; border: 1px solid #8884; }
#tail li { white-space: pre-wrap; overflow-wrap: anywhere; }
#tail .who { opacity: .6; margin-right: .6em; }
#tail .flag { color: #c60; margin-left: .6em; }
.badge { padding: .1em .5em; border-radius: .3em; background: #8883; }
.badge.ok { background: #2a73; }
.badge.bad { background: #d335; }
.note { font-weight: normal; font-size: .9em; opacity: .8; }
#resume { position: sticky; bottom: 0; align-self: center; margin: .3em; }
`;

/** The page's script. */
export const LIVE_PAGE_SCRIPT = `"use strict";
// Most lines kept in the tail, and kept aside while it is paused.
const MAX_TAIL = 1000;
const byId = (id) => document.getElementById(id);
const tail = byId("tail");
const filter = byId("filter");
let source = null;
let paused = false;
let held = [];
let heldCount = 0;
let lastState = null;
let previous = new Map();
// Lines received and when, for the sampling note: [time, count] per event,
// since countingSince (the page's start, or the last change of client).
let shownRecently = [];
let countingSince = Date.now();

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className !== undefined) node.className = className;
  return node;
}

function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m" + String(s % 60).padStart(2, "0") + "s";
  const h = Math.floor(m / 60);
  return h + "h" + String(m % 60).padStart(2, "0") + "m";
}

function follow() {
  if (source !== null) source.close();
  const client = filter.value;
  source = new EventSource("/events" + (client === "" ? "" : "?client=" + client));
  source.addEventListener("state", (event) => showState(JSON.parse(event.data)));
  source.addEventListener("lines", (event) => showLines(JSON.parse(event.data)));
  source.onerror = () => {
    const health = byId("health");
    health.textContent = "reconnecting";
    health.className = "badge bad";
  };
}

function showState(state) {
  const now = state.time;
  byId("node").textContent = state.node + " " + state.version;
  const health = byId("health");
  health.textContent = state.health === "ok" ? "accepting" : state.health;
  health.className = "badge " + (state.health === "ok" ? "ok" : "bad");
  const rate = lastState === null ? null
    : (state.lines - lastState.lines) / Math.max(0.001, (now - lastState.time) / 1000);
  byId("totals").textContent = state.connected + " connected, " + state.served + " served, " +
    state.lines + " lines, " + state.bytes + " bytes" +
    (rate === null ? "" : ", " + Math.round(rate) + " lines/s");
  byId("client-count").textContent = "(" + state.connected + ")";
  const rows = [];
  const seen = new Map();
  for (const client of state.clients) {
    const before = previous.get(client.id);
    const perSecond = before === undefined ? client.lines / Math.max(1, (now - client.connectedAt) / 1000)
      : (client.lines - before.lines) / Math.max(0.001, (now - before.time) / 1000);
    seen.set(client.id, { lines: client.lines, time: now, rate: perSecond });
    const row = element("tr");
    row.dataset.client = String(client.id);
    if (filter.value === String(client.id)) row.className = "chosen";
    row.append(
      element("td", String(client.id), "num"),
      element("td", client.name ?? ""),
      element("td", client.address),
      element("td", client.identity ?? ""),
      element("td", String(client.lines), "num"),
      element("td", String(client.bytes), "num"),
      element("td", perSecond.toFixed(1), "num"),
      element("td", age(now - client.connectedAt), "num"),
    );
    rows.push(row);
  }
  previous = seen;
  byId("clients").tBodies[0].replaceChildren(...rows);
  const more = byId("more");
  more.hidden = state.more === 0;
  more.textContent = "and " + state.more + " more clients, not listed (the table shows " +
    state.clients.length + ")";
  updateFilter(state.clients);
  const noTail = byId("no-tail");
  noTail.hidden = state.tail;
  noTail.textContent = "This server runs its clients in Workers (--workers): their lines are " +
    "not followed here. The table and totals are.";
  showSampling(state, rate);
  lastState = state;
}

function updateFilter(clients) {
  const chosen = filter.value;
  const options = [element("option", "all")];
  options[0].value = "";
  const ids = clients.map((client) => client.id);
  if (chosen !== "" && !ids.includes(Number(chosen))) ids.push(Number(chosen));
  for (const id of ids) {
    const client = clients.find((c) => c.id === id);
    const option = element("option", "client " + id + (client?.name ? " " + client.name : ""));
    option.value = String(id);
    options.push(option);
  }
  filter.replaceChildren(...options);
  filter.value = chosen;
}

// Compares the lines shown in the last seconds with the lines that arrived
// (all clients, or the one followed), and says when the tail is a sample.
function showSampling(state, rate) {
  const note = byId("sampled");
  const now = Date.now();
  const since = Math.max(countingSince, now - 3000);
  shownRecently = shownRecently.filter(([time]) => time >= since);
  const seconds = (now - since) / 1000;
  const shown = shownRecently.reduce((sum, [, count]) => sum + count, 0) / Math.max(seconds, 0.001);
  let arriving = rate;
  if (filter.value !== "") arriving = previous.get(Number(filter.value))?.rate ?? 0;
  // Judged over a second and a half at least, so that a change of client
  // or a new page does not read as a sample.
  const sampled = seconds >= 1.5 && arriving !== null && arriving > 1 && shown < arriving * 0.9;
  note.hidden = !sampled;
  note.textContent = sampled
    ? "sampled: showing about " + Math.round(shown) + " of " + Math.round(arriving) +
      " lines/s (lines arrive faster than a page can show them)"
    : "";
}

function lineItem(line) {
  const item = element("li");
  item.dataset.client = String(line.client);
  const who = "client " + line.client + (line.name === undefined ? "" : " " + line.name);
  item.append(element("span", new Date(line.time).toLocaleTimeString() + " [" + who + "]", "who"));
  item.append(document.createTextNode(line.text));
  const flags = [];
  if (line.truncated) flags.push("truncated");
  if (line.partial) flags.push("partial");
  if (line.cut !== undefined) flags.push("cut for the page: " + line.cut + " bytes");
  if (flags.length > 0) item.append(element("span", flags.join(", "), "flag"));
  return item;
}

function showLines(lines) {
  shownRecently.push([Date.now(), lines.length]);
  if (paused) {
    held.push(...lines);
    heldCount += lines.length;
    if (held.length > MAX_TAIL) held = held.slice(-MAX_TAIL);
    const resume = byId("resume");
    resume.hidden = false;
    resume.textContent = "paused: " + heldCount + " new lines; click to follow again";
    return;
  }
  append(lines);
}

function append(lines) {
  tail.append(...lines.map(lineItem));
  while (tail.childElementCount > MAX_TAIL) tail.firstElementChild.remove();
  tail.scrollTop = tail.scrollHeight;
}

function resume() {
  paused = false;
  byId("resume").hidden = true;
  const lines = held;
  held = [];
  heldCount = 0;
  append(lines);
}

// Scrolling up pauses the tail; scrolling back to the bottom follows again.
tail.addEventListener("scroll", () => {
  const atBottom = tail.scrollHeight - tail.scrollTop - tail.clientHeight < 8;
  if (!atBottom && !paused) {
    paused = true;
    const resumeButton = byId("resume");
    resumeButton.hidden = false;
    resumeButton.textContent = "paused: scroll to the bottom or click to follow again";
  } else if (atBottom && paused) {
    resume();
  }
});
byId("resume").addEventListener("click", resume);
filter.addEventListener("change", () => {
  tail.replaceChildren();
  held = [];
  heldCount = 0;
  shownRecently = [];
  countingSince = Date.now();
  for (const row of byId("clients").tBodies[0].rows) {
    row.className = row.dataset.client === filter.value ? "chosen" : "";
  }
  follow();
});
byId("clients").tBodies[0].addEventListener("click", (event) => {
  const row = event.target.closest("tr");
  if (row === null) return;
  filter.value = filter.value === row.dataset.client ? "" : row.dataset.client;
  filter.dispatchEvent(new Event("change"));
});
follow();
`;
