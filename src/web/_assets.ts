/**
 * The dashboard's stylesheet and script, shipped as strings: no build step, no CDN, nothing
 * fetched from elsewhere. The script sets only `textContent` and attributes from data (never
 * markup from task data), and replaces a live region with HTML the server escaped.
 *
 * @module
 */

/** The stylesheet. */
export const CSS =
  `:root{--bg:#f6f7f9;--fg:#1d2330;--muted:#6b7280;--line:#e2e5ea;--panel:#fff;--accent:#2563eb;
--ok:#15803d;--err:#b91c1c;--warn:#b45309;--run:#7c3aed;--q:#0369a1;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#0f1218;--fg:#e5e7eb;--muted:#9ca3af;--line:#262c36;--panel:#161b23;--accent:#60a5fa}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg)}
header{display:flex;gap:18px;align-items:center;padding:10px 20px;background:var(--panel);border-bottom:1px solid var(--line)}
.brand{font-weight:700;color:var(--accent);text-decoration:none;font-size:16px}
nav a{color:var(--fg);text-decoration:none;padding:6px 10px;border-radius:6px}nav a[aria-current]{background:var(--bg);font-weight:600}
.app{margin-left:auto;color:var(--muted)}.dot{color:var(--muted)}.dot.on{color:var(--ok)}
main{padding:16px 20px;max-width:1400px;margin:0 auto}h1{font-size:20px;margin:4px 0 14px}h1 small,h2 small{color:var(--muted);font-weight:400;font-size:13px}
h2{font-size:15px;margin:4px 0 10px}h3{font-size:13px;margin:10px 0 4px}
.cards{display:grid;grid-template-columns:repeat(7,1fr);gap:10px;margin-bottom:14px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:12px;text-decoration:none;color:var(--fg);display:flex;flex-direction:column}
.card .n{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums}.card .l{color:var(--muted)}
.row{display:flex;gap:14px;align-items:flex-start;margin-bottom:14px}.grow{flex:1;min-width:0}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px;margin-bottom:14px}
table{border-collapse:collapse;width:100%}td,th{padding:5px 8px;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:500}.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{background:var(--panel);border:1px solid var(--line);border-radius:10px}
.mono,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.cut{max-width:420px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
pre{background:var(--bg);padding:10px;border-radius:8px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-word}
pre.error,.error{color:var(--err)}.muted{color:var(--muted)}
.status{padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;background:var(--bg)}
.s-success{color:var(--ok)}.s-error{color:var(--err)}.s-running{color:var(--run)}.s-queued{color:var(--q)}.s-scheduled{color:var(--muted)}.s-cancel,.s-retry{color:var(--warn)}
.badge{font-size:12px;padding:1px 8px;border-radius:999px;border:1px solid var(--line);color:var(--muted);font-weight:500}.badge.warn{color:var(--warn);border-color:var(--warn)}
form.inline{display:inline}button,.button{font:inherit;padding:4px 10px;border-radius:6px;border:1px solid var(--line);background:var(--panel);color:var(--fg);cursor:pointer;text-decoration:none}
button.primary{background:var(--accent);color:#fff;border-color:var(--accent)}button.danger{color:var(--err)}button.warn{color:var(--warn)}
.actions{display:flex;gap:6px;flex-wrap:wrap;margin:6px 0}td.actions{margin:0}
.filters,.enqueue{display:flex;gap:12px;align-items:end;flex-wrap:wrap;margin-bottom:12px}label{display:flex;flex-direction:column;color:var(--muted);font-size:12px;gap:2px}
input,select{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:6px;background:var(--panel);color:var(--fg)}input[name=args]{min-width:320px}
#flash{position:fixed;right:16px;bottom:16px;max-width:480px}#flash div{padding:10px 14px;border-radius:8px;margin-top:8px;background:var(--panel);border:1px solid var(--line);box-shadow:0 4px 14px #0002}
#flash .bad{border-color:var(--err);color:var(--err)}
.chart svg{width:100%;height:160px;display:block}.chart .p{fill:var(--accent)}.chart .f{fill:var(--err)}.chart text{fill:var(--muted);font-size:10px}
tr.current td{font-weight:600}.attempts td{padding:3px 6px}
.lv-warn{color:var(--warn)}.lv-error{color:var(--err)}.lv-debug{color:var(--muted)}
@media (max-width:900px){.cards{grid-template-columns:repeat(4,1fr)}.row{flex-direction:column}}
`;

/** The script: live updates over one EventSource, confirmations and actions over fetch. */
export const JS = `(() => {
"use strict";
const meta = (n) => document.querySelector('meta[name="' + n + '"]').content;
const base = meta("qtasks-base"), csrf = meta("qtasks-csrf");
const main = document.querySelector("main");
const flash = (text, bad) => {
  const box = document.createElement("div");
  box.textContent = text;
  if (bad) box.className = "bad";
  document.getElementById("flash").append(box);
  setTimeout(() => box.remove(), bad ? 8000 : 4000);
};
const NS = "http://www.w3.org/2000/svg";
const svg = (name, attrs) => {
  const el = document.createElementNS(NS, name);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  return el;
};
function chart(points) {
  const box = document.getElementById("chart");
  if (!box) return;
  const w = 720, h = 160, pad = 18, n = Math.max(points.length, 1), bw = (w - pad) / n;
  const max = Math.max(1, ...points.map((p) => p.processed));
  const el = svg("svg", { viewBox: "0 0 " + w + " " + h, role: "img", "aria-label": "tasks per minute" });
  points.forEach((p, i) => {
    const ph = (h - 2 * pad) * p.processed / max, fh = (h - 2 * pad) * p.failed / max;
    const r = svg("rect", { class: "p", x: pad + i * bw, y: h - pad - ph, width: Math.max(1, bw - 2), height: ph });
    const t = svg("title", {});
    t.textContent = new Date(p.at).toLocaleTimeString() + ": " + p.processed + " processed, " + p.failed + " failed";
    r.append(t);
    el.append(r, svg("rect", { class: "f", x: pad + i * bw, y: h - pad - fh, width: Math.max(1, bw - 2), height: fh }));
  });
  const top = svg("text", { x: 0, y: pad - 6 }); top.textContent = max + "/min";
  const left = svg("text", { x: pad, y: h - 4 }); left.textContent = "-60 min";
  const right = svg("text", { x: w - 28, y: h - 4 }); right.textContent = "now";
  el.append(top, left, right);
  box.replaceChildren(el);
}
const initial = document.getElementById("chart");
if (initial) chart(JSON.parse(initial.dataset.points || "[]"));
const set = (k, v) => document.querySelectorAll('[data-k="' + CSS.escape(k) + '"]').forEach((el) => el.textContent = String(v));
function overview(d) {
  for (const s in d.byStatus) set("count-" + s, d.byStatus[s]);
  set("last-processed", d.lastMinute.processed); set("last-failed", d.lastMinute.failed);
  set("total-processed", d.totals.processed); set("total-failed", d.totals.failed);
  set("workers", d.workers.length);
  set("queue-scheduled", d.queue.scheduled); set("queue-inflight", d.queue.inFlight);
  set("queue-held", Math.max(0, d.byStatus.queued - d.queue.queued));
  const body = document.querySelector('[data-k="priorities"]');
  if (body) {
    body.replaceChildren(...(d.byPriority.length ? d.byPriority : [null]).map((p) => {
      const tr = document.createElement("tr");
      const a = document.createElement("td"), b = document.createElement("td");
      if (p) { a.textContent = "priority " + p.priority; b.textContent = p.count; b.className = "num"; }
      else { a.textContent = "empty"; a.className = "muted"; }
      tr.append(a, b); return tr;
    }));
  }
  for (const name in d.byTaskName) {
    for (const s in d.byTaskName[name]) set("n:" + name + ":" + s, d.byTaskName[name][s] || "");
  }
  chart(d.throughput);
  workers(d);
}
const ago = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 1) return Math.max(0, Math.round(ms)) + " ms";
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"], [Math.floor(s / 60) % 60, "m"], [s % 60, "s"]];
  const i = parts.findIndex((p) => p[0] > 0);
  return parts.slice(i, i + 2).map((p) => p[0] + p[1]).join(" ");
};
function workers(d) {
  const body = document.querySelector('[data-k="workers-table"]');
  if (!body || d.workers.length === 0) return;
  body.replaceChildren(...d.workers.map((w) => {
    const tr = document.createElement("tr");
    const cells = [w.host, w.pid, w.runtime, w.concurrency, w.active, w.processed, w.failed, ago(d.now - w.startedAt), ago(d.now - w.seenAt) + " ago"];
    cells.forEach((v, i) => {
      const td = document.createElement("td");
      td.textContent = String(v);
      if (i >= 3 && i <= 6) td.className = "num";
      tr.append(td);
    });
    return tr;
  }));
}
let pending = false, last = 0;
async function refresh() {
  if (pending) return;
  pending = true;
  const wait = Math.max(0, 1000 - (Date.now() - last));
  setTimeout(async () => {
    try {
      const url = new URL(location.href);
      url.searchParams.set("fragment", "1");
      const res = await fetch(url, { headers: { accept: "text/html" } });
      if (res.ok) { main.innerHTML = await res.text(); wire(); }
    } finally { pending = false; last = Date.now(); }
  }, wait);
}
function wire() {
  const c = document.getElementById("chart");
  if (c && !c.firstChild) chart(JSON.parse(c.dataset.points || "[]"));
  main.querySelectorAll("form[data-action]").forEach((form) => form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const question = form.dataset.confirm;
    if (question && !confirm(question)) return;
    const body = new URLSearchParams(new FormData(form));
    try {
      const res = await fetch(form.action, { method: "POST", body, headers: { "x-csrf-token": csrf, accept: "application/json" } });
      const out = await res.json().catch(() => ({ message: res.statusText }));
      flash(out.message || res.statusText, !res.ok);
      if (res.ok && out.uuid && form.action.endsWith("/enqueue")) location.href = base + "/tasks/" + out.uuid;
      else if (res.ok) refresh();
    } catch (err) { flash(String(err), true); }
  }));
}
wire();
const live = main.dataset.live;
const dot = document.getElementById("live");
const source = new EventSource(base + "/events");
source.onopen = () => dot.classList.add("on");
source.onerror = () => dot.classList.remove("on");
source.addEventListener("overview", (e) => { if (live === "overview" || live === "workers") overview(JSON.parse(e.data)); });
source.addEventListener("changed", (e) => {
  const d = JSON.parse(e.data);
  if (live === "overview") { if (d.taskNames.some((n) => !document.querySelector('tr[data-name="' + CSS.escape(n) + '"]'))) refresh(); }
  else if (live === "tasks" && !new URL(location.href).searchParams.has("cursor")) refresh();
  else if (live.startsWith("task:")) { if (d.uuids.includes(live.slice(5))) refresh(); }
});
source.addEventListener("gap", () => { if (live !== "none") refresh(); });
})();
`;
