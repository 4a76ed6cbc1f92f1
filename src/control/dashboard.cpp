// The dashboard page (see procd/dashboard.hpp). The table is rendered from
// /status (on load, on every /events message, and every 5 s for uptime),
// the CPU and memory sparklines from /history (the supervisor's bounded
// per-service history of its resource samples). Every service name is
// inserted as text, never as HTML. The page carries the state at the time
// it was served, so its first paint needs no request. When procd accepts
// mutating requests (initial.control.mutating: a bearer token is loaded, the
// token itself is never in the page) each row gets start/stop/restart
// buttons (an instance NAME@i also "roll": a rolling restart of NAME, its
// outcome shown from the roll's event) and the header a reload button;
// the token is typed once, kept in sessionStorage and sent as
// "Authorization: Bearer"; a failure shows its HTTP status and procd's
// error code. A service with no process shows '-'
// for CPU and memory, not its last process's figures. A row's logs button
// opens a pane that follows /logs?service=NAME&follow=1 (a streaming fetch,
// the last kLogPaneLines lines kept, stderr and procd's own lines marked;
// a stream that ends is opened again, backing off from 1 s to 10 s).
#include "procd/dashboard.hpp"

namespace procd {
namespace {

constexpr std::string_view kPage = R"procd_html(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>procd</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0}
header span{opacity:.75}
#live{margin-left:auto;font-size:12px}
main{padding:16px 20px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #e6e8ec;white-space:nowrap}
th{font-size:12px;text-transform:uppercase;color:#5b6270;background:#fafbfc}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;font-size:12px;color:#fff}
.st-running{background:#1f9d55}.st-starting{background:#d69e2e}.st-restarting{background:#dd6b20}
.st-stopping{background:#718096}.st-stopped{background:#a0aec0}.st-failed{background:#e53e3e}
.h-healthy{color:#1f9d55}.h-unhealthy{color:#e53e3e;font-weight:600}
svg{display:block}
.chart polyline{fill:none;stroke-width:1.5}
.cpu polyline{stroke:#3182ce}.mem polyline{stroke:#805ad5}
.chart text{font-size:9px;fill:#5b6270}
#control{display:flex;gap:8px;align-items:center;margin-bottom:12px}
#control input{font:inherit;padding:3px 6px;width:16em}
button{font:inherit;font-size:12px;padding:2px 8px;margin-right:4px;cursor:pointer}
#result.err{color:#e53e3e;font-weight:600}
#logpane{margin-top:16px;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08);padding:8px 10px}
#logpane h2{font-size:13px;margin:0 0 6px}
#loglines{font:12px/1.35 ui-monospace,monospace;max-height:320px;overflow:auto;white-space:pre-wrap}
#loglines .stderr{color:#c53030}
#loglines .stderr::before{content:"err ";font-weight:600}
#loglines .procd{color:#2b6cb0;font-style:italic}
#loglines .procd::before{content:"procd ";font-weight:600}
</style></head>
<body>
<header><h1 id="title">procd</h1><span id="meta"></span><span id="live">connecting…</span></header>
<main>
<div id="control-slot"></div>
<table id="services"><thead><tr>
<th>service</th><th>state</th><th>pid</th><th>uptime</th><th>restarts</th><th>last exit</th><th>health</th><th>reason</th>
<th>cpu (10 min)</th><th>memory (10 min)</th><th>logs</th><th id="actions-head" hidden>actions</th></tr></thead><tbody></tbody></table>
</main>
<script>
"use strict";
const tbody = document.querySelector("#services tbody");
let history = {services: {}, window_ms: 600000};
let mutating = false;
let rolling = null;  // the NAME of the roll the status line waits on
const TOKEN_KEY = "procd-token";
function uptime(ms) {
  let s = Math.floor(ms / 1000), d = Math.floor(s / 86400); s %= 86400;
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); s %= 60;
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + (d || h || m ? m + "m " : "") + s + "s";
}
function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function cell(row, text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  row.appendChild(td);
  return td;
}
function chart(points, idx, cls, label) {
  const W = 140, H = 28, NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("class", "chart " + cls);
  const max = Math.max(1e-9, ...points.map(p => p[idx]));
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("points", points.map(p =>
    ((1 - p[0] / history.window_ms) * W).toFixed(1) + "," + (H - 2 - (p[idx] / max) * (H - 4)).toFixed(1)).join(" "));
  svg.appendChild(line);
  const t = document.createElementNS(NS, "text");
  t.setAttribute("x", 2); t.setAttribute("y", 9);
  t.textContent = points.length ? label(points[points.length - 1][idx]) : "no samples";
  svg.appendChild(t);
  return svg;
}
function render(status) {
  document.getElementById("title").textContent = status.name;
  document.getElementById("meta").textContent = "pid " + status.pid + " · up " + uptime(status.uptime_ms);
  tbody.textContent = "";
  for (const s of status.services) {
    const tr = document.createElement("tr");
    tr.dataset.service = s.name;
    cell(tr, s.name);
    const st = document.createElement("span");
    st.className = "state st-" + s.state; st.textContent = s.state;
    cell(tr, "").appendChild(st);
    cell(tr, s.pid === null ? "-" : String(s.pid), "num");
    cell(tr, s.pid === null ? "-" : uptime(s.uptime_ms), "num");
    cell(tr, String(s.restarts), "num");
    const le = s.last_exit;
    cell(tr, le ? (le.signal ? le.signal : "code " + le.code) : "-");
    cell(tr, s.health || "-", s.health ? "h-" + s.health : "");
    cell(tr, s.reason || "-");
    const pts = history.services[s.name] || [];
    // No process, no figures: the last samples belong to a process gone.
    const cpu = cell(tr, s.pid === null ? "-" : "", "chart-cell");
    const mem = cell(tr, s.pid === null ? "-" : "", "chart-cell");
    cpu.dataset.col = "cpu"; mem.dataset.col = "mem";
    if (s.pid !== null) {
      cpu.appendChild(chart(pts, 1, "cpu", v => v.toFixed(1) + " %"));
      mem.appendChild(chart(pts, 2, "mem", bytes));
    }
    const lb = document.createElement("button");
    lb.type = "button"; lb.textContent = "logs"; lb.dataset.logs = s.name;
    cell(tr, "").appendChild(lb);
    if (mutating) {
      const td = cell(tr, "");
      for (const a of ["start", "stop", "restart"]) td.appendChild(button(a, s.name));
      const group = /^(.+)@[0-9]+$/.exec(s.name);
      if (group) td.appendChild(button("roll", group[1]));
    }
    tbody.appendChild(tr);
  }
}
function button(action, name) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = action;
  b.dataset.action = action;
  if (name !== undefined) b.dataset.name = name;
  return b;
}
function setupControl() {
  const box = document.createElement("div");
  box.id = "control";
  const input = document.createElement("input");
  input.id = "token"; input.type = "password"; input.placeholder = "bearer token"; input.autocomplete = "off";
  input.value = sessionStorage.getItem(TOKEN_KEY) || "";
  input.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, input.value));
  const result = document.createElement("span");
  result.id = "result";
  box.append(input, button("reload"), result);
  document.getElementById("control-slot").appendChild(box);
  document.getElementById("actions-head").hidden = false;
  document.addEventListener("click", ev => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const name = b.dataset.name;
    if (b.dataset.action === "roll") {
      rolling = name;
      return act("services/" + encodeURIComponent(name) + "/restart?rolling=1", "roll " + name);
    }
    act(name === undefined ? "reload" : "services/" + encodeURIComponent(name) + "/" + b.dataset.action,
        name === undefined ? "reload" : b.dataset.action + " " + name);
  });
}
async function act(path, label) {
  const out = document.getElementById("result");
  out.className = ""; out.textContent = label + "…";
  try {
    const token = document.getElementById("token").value.trim();
    const r = await fetch(path, {method: "POST", cache: "no-store", headers: {"Authorization": "Bearer " + token}});
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    const err = body && body.error;
    const roll = r.ok && body && body.rolls && body.rolls[0];
    if (roll && rolling !== null)
      out.textContent = label + ": under way (" + roll.instances + " instances, up to " +
                        Math.ceil(roll.timeout_ms / 1000) + " s)\u2026";
    else if (r.ok && !roll) out.textContent = label + ": ok";
    else if (!r.ok) {
      rolling = null;
      out.className = "err";
      out.textContent = label + ": HTTP " + r.status + (err ? " error[" + err.code + "] " + err.message : "");
    }
  } catch (e) {
    rolling = null;
    out.className = "err"; out.textContent = label + ": " + e;
  }
  soon();
}
// The log pane: one followed /logs at a time; choosing another service
// aborts the previous request.
const kLogPaneLines = 500;
let logAbort = null;
async function followLogs(name) {
  if (logAbort) logAbort.abort();
  const abort = new AbortController();
  logAbort = abort;
  let pane = document.getElementById("logpane");
  if (!pane) {
    pane = document.createElement("section");
    pane.id = "logpane";
    const h = document.createElement("h2"); h.id = "logtitle";
    const lines = document.createElement("div"); lines.id = "loglines";
    pane.append(h, lines);
    document.querySelector("main").appendChild(pane);
  }
  const title = document.getElementById("logtitle"), box = document.getElementById("loglines");
  title.textContent = "logs: " + name + " (following)";
  box.textContent = "";
  const add = text => {
    let item;
    try { item = JSON.parse(text); } catch (e) { return; }
    if (!item.line && item.line !== "") return;  // the stream's header
    const div = document.createElement("div");
    if (item.stream === "stderr" || item.stream === "procd") div.className = item.stream;
    div.textContent = item.ts + " " + item.line;
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.appendChild(div);
    while (box.childElementCount > kLogPaneLines) box.firstElementChild.remove();
    if (atEnd) box.scrollTop = box.scrollHeight;
  };
  // Followed until another service is chosen: a stream that ends or fails
  // (procd restarted, a network blip) is opened again after 1, 2, 4 … 10 s,
  // with the last 100 lines again (the pane is redrawn, nothing doubled).
  for (let attempt = 0; logAbort === abort; ++attempt) {
    let got = false;
    try {
      const r = await fetch("logs?service=" + encodeURIComponent(name) + "&n=100&follow=1",
                            {cache: "no-store", signal: abort.signal});
      if (!r.ok) { title.textContent = "logs: " + name + ": HTTP " + r.status; return; }
      box.textContent = "";
      title.textContent = "logs: " + name + " (following)";
      const reader = r.body.getReader(), dec = new TextDecoder();
      let rest = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        got = true;
        rest += dec.decode(value, {stream: true});
        const parts = rest.split("\n");
        rest = parts.pop();
        parts.forEach(add);
      }
    } catch (e) {
      if (logAbort !== abort) return;
      title.textContent = "logs: " + name + ": " + e;
    }
    if (logAbort !== abort) return;
    if (got) attempt = 0;
    const wait = Math.min(10000, 1000 * 2 ** attempt);
    title.textContent = "logs: " + name + " (stream ended; reconnecting in " + wait / 1000 + " s)";
    await new Promise(done => setTimeout(done, wait));
  }
}
document.addEventListener("click", ev => {
  const b = ev.target.closest("button[data-logs]");
  if (b) followLogs(b.dataset.logs);
});
async function refresh() {
  try {
    const h = await fetch("history", {cache: "no-store"});
    if (h.ok) history = await h.json();
    const r = await fetch("status", {cache: "no-store"});
    if (r.ok) render(await r.json());
  } catch (e) {
    document.getElementById("live").textContent = "procd not reachable";
  }
}
let pending = null;
function soon() { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 100); }
const events = new EventSource("events");
events.onopen = () => { document.getElementById("live").textContent = "live"; soon(); };
// A roll's outcome arrives as an event for the rolled NAME (rolling).
events.onmessage = ev => {
  soon();
  let item;
  try { item = JSON.parse(ev.data); } catch (e) { return; }
  if (!item || item.service !== rolling || (item.state !== "rolled" && item.state !== "roll-stopped")) return;
  const out = document.getElementById("result");
  const done = item.state === "rolled";
  out.className = done ? "" : "err";
  out.textContent = "roll " + rolling + ": " + (done ? "done: " : "stopped: ") +
                    (item.reason_code ? "error[" + item.reason_code + "] " : "") + (item.reason || "");
  rolling = null;
};
events.onerror = () => { document.getElementById("live").textContent = "reconnecting…"; };
// The first paint needs no request: procd puts the state it had when it
// served the page here (dashboard_page()).
const initial = /*PROCD_INITIAL*/null;
if (initial && initial.control && initial.control.mutating) { mutating = true; setupControl(); }
if (initial) { history = initial.history; render(initial.status); }
refresh();
setInterval(refresh, 5000);
</script>
</body></html>
)procd_html";

}  // namespace

std::string_view dashboard_html() { return kPage; }

std::string dashboard_page(const nlohmann::json& initial) {
  constexpr std::string_view kSlot = "/*PROCD_INITIAL*/null";
  std::string data = initial.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Inside a <script>, "</script>" in a service name must not end it: '<'
  // occurs only inside JSON strings, where \u003c means the same.
  std::string safe;
  safe.reserve(data.size());
  for (char c : data) safe += c == '<' ? std::string("\\u003c") : std::string(1, c);
  std::string page(kPage);
  page.replace(page.find(kSlot), kSlot.size(), safe);
  return page;
}

}  // namespace procd
