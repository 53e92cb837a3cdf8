// The status page: one self-contained HTML document (inline CSS and script, no external
// asset: monitors often have no internet access). It renders /api/status and follows
// /events (server-sent events) to update live. Data is inserted with textContent only.
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgaf status</title>
<style>
:root {
  --bg: #f5f6f8; --panel: #ffffff; --ink: #1d2330; --muted: #6b7385; --line: #e3e6ec;
  --green: #1f9d57; --green-bg: #e5f6ec; --blue: #2f6fde; --blue-bg: #e6eefc;
  --amber: #c27803; --amber-bg: #fdf3e1; --red: #d2383b; --red-bg: #fce9e9; --grey-bg: #eef0f3;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #11141a; --panel: #1a1e26; --ink: #e8ebf1; --muted: #8e96a8; --line: #2a303b;
    --green-bg: #143524; --blue-bg: #172a4d; --amber-bg: #3a2c10; --red-bg: #43191b; --grey-bg: #242a34; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; align-items: center; gap: 14px; padding: 18px 28px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0; font-size: 18px; font-weight: 650; letter-spacing: .2px; }
header .sub { color: var(--muted); }
.live { margin-left: auto; display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 13px; }
.live i { width: 9px; height: 9px; border-radius: 50%; background: var(--muted); display: inline-block; }
.live.on i { background: var(--green); box-shadow: 0 0 0 0 rgba(31,157,87,.6); animation: ping 2s infinite; }
.live.off i { background: var(--red); }
@keyframes ping { 0% { box-shadow: 0 0 0 0 rgba(31,157,87,.55); } 70% { box-shadow: 0 0 0 8px rgba(31,157,87,0); } 100% { box-shadow: 0 0 0 0 rgba(31,157,87,0); } }
main { max-width: 1240px; margin: 0 auto; padding: 22px 28px 40px; }
.banner { display: none; margin-bottom: 18px; padding: 12px 16px; border-radius: 10px; font-weight: 550; }
.banner.show { display: block; }
.banner.failover { background: var(--amber-bg); color: var(--amber); border: 1px solid var(--amber); }
.banner.switchover { background: var(--blue-bg); color: var(--blue); border: 1px solid var(--blue); }
.banner.nopri { background: var(--red-bg); color: var(--red); border: 1px solid var(--red); }
.summary { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 14px; margin-bottom: 22px; }
.stat { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.stat .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
.stat .v { font-size: 22px; font-weight: 650; margin-top: 2px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .8px; color: var(--muted); margin: 8px 0 12px; font-weight: 600; }
.group { margin-bottom: 24px; }
.nodes { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 14px; }
.node { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px; position: relative; }
.node.primary { border-color: var(--green); box-shadow: inset 4px 0 0 var(--green); }
.node.moving { border-color: var(--amber); box-shadow: inset 4px 0 0 var(--amber); }
.node.down { border-color: var(--red); box-shadow: inset 4px 0 0 var(--red); }
.node .top { display: flex; align-items: center; gap: 8px; }
.node .name { font-size: 16px; font-weight: 650; }
.node .addr { color: var(--muted); font-size: 12px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.dot { width: 10px; height: 10px; border-radius: 50%; display: inline-block; flex: none; }
.dot.good { background: var(--green); } .dot.bad { background: var(--red); } .dot.unknown { background: var(--muted); }
.role { margin-left: auto; font-size: 11px; font-weight: 700; letter-spacing: .6px; padding: 2px 8px; border-radius: 20px; }
.role.primary { background: var(--green-bg); color: var(--green); }
.role.standby { background: var(--blue-bg); color: var(--blue); }
.role.other { background: var(--grey-bg); color: var(--muted); }
.states { margin: 10px 0 8px; display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.pill { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; padding: 2px 8px; border-radius: 6px; background: var(--grey-bg); }
.pill.goal { background: var(--amber-bg); color: var(--amber); animation: pulse 1.2s ease-in-out infinite; }
@keyframes pulse { 50% { opacity: .55; } }
.arrow { color: var(--muted); }
dl { display: grid; grid-template-columns: auto 1fr; gap: 3px 12px; margin: 0; font-size: 12.5px; }
dt { color: var(--muted); } dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; text-align: right; }
.lagbar { height: 5px; background: var(--grey-bg); border-radius: 3px; margin-top: 10px; overflow: hidden; }
.lagbar span { display: block; height: 100%; background: var(--green); border-radius: 3px; transition: width .4s; }
.timeline { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 6px 0; }
.ev { display: grid; grid-template-columns: 92px 110px 1fr; gap: 12px; padding: 9px 16px; border-bottom: 1px solid var(--line); align-items: baseline; }
.ev:last-child { border-bottom: 0; }
.ev.new { animation: flash 2.5s ease-out; }
@keyframes flash { from { background: var(--amber-bg); } to { background: transparent; } }
.ev .t { color: var(--muted); font-size: 12px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.ev .n { font-weight: 600; }
.ev .d { color: var(--ink); }
.ev.minor { padding-top: 6px; padding-bottom: 6px; }
.ev.minor .d, .ev.minor .n { color: var(--muted); font-weight: 400; font-size: 13px; }
.ev .meta { display: flex; gap: 6px; align-items: center; margin-bottom: 2px; flex-wrap: wrap; }
.tag { font-size: 11px; font-weight: 700; letter-spacing: .5px; padding: 1px 7px; border-radius: 20px; }
.tag.failover { background: var(--amber-bg); color: var(--amber); }
.tag.switchover { background: var(--blue-bg); color: var(--blue); }
.tag.rule { background: var(--grey-bg); color: var(--muted); font-weight: 600; }
.ev.promotion { background: linear-gradient(90deg, var(--amber-bg), transparent 60%); }
.ev.promotion.switchover { background: linear-gradient(90deg, var(--blue-bg), transparent 60%); }
.empty { color: var(--muted); padding: 18px 16px; }
footer { color: var(--muted); font-size: 12px; margin-top: 18px; }
</style>
</head>
<body>
<header>
  <h1>pgaf</h1><span class="sub" id="sub">connecting…</span>
  <span class="live" id="live"><i></i><span id="livetext">connecting</span></span>
</header>
<main>
  <div class="banner" id="banner"></div>
  <section class="summary">
    <div class="stat"><div class="k">Primary</div><div class="v" id="s-primary">–</div></div>
    <div class="stat"><div class="k">Healthy nodes</div><div class="v" id="s-healthy">–</div></div>
    <div class="stat"><div class="k">Failovers</div><div class="v" id="s-failovers">–</div></div>
    <div class="stat"><div class="k">Switchovers</div><div class="v" id="s-switchovers">–</div></div>
  </section>
  <div id="groups"></div>
  <h2>Timeline</h2>
  <div class="timeline" id="timeline"><div class="empty">No events yet.</div></div>
  <footer id="footer"></footer>
</main>
<script>
"use strict";
const PRIMARY = ["single", "wait_primary", "primary", "join_primary", "apply_settings"];
const STANDBY = ["secondary", "catchingup", "report_lsn", "fast_forward", "prepare_promotion", "stop_replication", "wait_standby"];
let seen = new Set();
let first = true;
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function bytes(n) {
  if (n === null || n === undefined) return "n/a";
  const u = ["B", "kB", "MB", "GB", "TB"]; let i = 0; let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + " " + u[i];
}
function age(s) {
  if (s === null || s === undefined) return "n/a";
  if (s < 1) return "now";
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}
function clock(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour12: false });
}
function nodeCard(n) {
  const moving = n.state !== n.goal;
  const card = el("div", "node" + (n.primary && !moving ? " primary" : "") + (moving ? " moving" : "") + (n.health === "bad" ? " down" : ""));
  card.dataset.node = n.name;
  card.dataset.state = n.state;
  card.dataset.goal = n.goal;
  const top = el("div", "top");
  top.append(el("span", "dot " + n.health), el("span", "name", n.name));
  const role = PRIMARY.includes(n.state) && PRIMARY.includes(n.goal) ? ["primary", "PRIMARY"]
    : PRIMARY.includes(n.state) ? ["other", "DEMOTING"]
    : PRIMARY.includes(n.goal) ? ["standby", "PROMOTING"]
    : STANDBY.includes(n.state) ? ["standby", "STANDBY"] : ["other", n.state.toUpperCase()];
  top.append(el("span", "role " + role[0], role[1]));
  card.append(top, el("div", "addr", n.host + ":" + n.port + "  ·  node " + n.nodeId));
  const st = el("div", "states");
  st.append(el("span", "pill state", n.state));
  if (moving) st.append(el("span", "arrow", "→"), el("span", "pill goal", n.goal));
  card.append(st);
  const dl = el("dl");
  const row = (k, v) => dl.append(el("dt", "", k), el("dd", "", v));
  row("health", n.health === "good" ? "good" : n.health === "bad" ? "unreachable" : "not checked yet");
  row("LSN · timeline", n.lsn + " · " + n.timeline);
  row("lag", n.primary ? "—" : bytes(n.lagBytes));
  row("last heartbeat", age(n.heartbeatAgeSec));
  row("priority · quorum", n.candidatePriority + " · " + (n.replicationQuorum ? "yes" : "no"));
  card.append(dl);
  if (!n.primary) {
    const bar = el("div", "lagbar"); const fill = el("span");
    const pct = n.lagBytes === null ? 0 : Math.max(2, 100 - Math.min(100, Math.log2(1 + n.lagBytes) * 3));
    fill.style.width = pct + "%";
    if (n.lagBytes !== null && n.lagBytes > 16 * 1048576) fill.style.background = "var(--amber)";
    bar.append(fill); bar.title = "replication lag: " + bytes(n.lagBytes);
    card.append(bar);
  }
  return card;
}
function render(v) {
  const formations = [...new Set(v.nodes.map((n) => n.formation))];
  document.getElementById("sub").textContent = "monitor " + v.monitor + " · formation" + (formations.length > 1 ? "s " : " ") + (formations.join(", ") || "none");
  const primaries = v.nodes.filter((n) => n.primary);
  document.getElementById("s-primary").textContent = primaries.map((n) => n.name).join(", ") || "none";
  document.getElementById("s-healthy").textContent = v.nodes.filter((n) => n.health === "good").length + " / " + v.nodes.length;
  document.getElementById("s-failovers").textContent = v.counts.reduce((a, c) => a + c.failovers, 0);
  document.getElementById("s-switchovers").textContent = v.counts.reduce((a, c) => a + c.switchovers, 0);
  const groups = document.getElementById("groups");
  groups.replaceChildren();
  const keys = [...new Set(v.nodes.map((n) => n.formation + "/" + n.group))];
  for (const k of keys) {
    const [f, g] = k.split("/");
    const sec = el("section", "group");
    sec.append(el("h2", "", "Formation " + f + " · group " + g));
    const grid = el("div", "nodes");
    for (const n of v.nodes.filter((x) => x.formation + "/" + x.group === k)) grid.append(nodeCard(n));
    sec.append(grid);
    groups.append(sec);
  }
  if (keys.length === 0) groups.append(el("div", "empty", "No node is registered yet."));
  const tl = document.getElementById("timeline");
  tl.replaceChildren();
  for (const e of v.events) {
    // reports (R0) and health changes (HC) are context; goal changes carry the decisions
    const minor = e.rule === "R0" || e.rule === "HC";
    const row = el("div", "ev" + (minor ? " minor" : "") + (e.promotion ? " promotion " + e.promotion : "") + (!first && !seen.has(e.id) ? " new" : ""));
    row.dataset.event = e.id;
    const meta = el("div", "meta");
    if (e.promotion) meta.append(el("span", "tag " + e.promotion, e.promotion.toUpperCase()));
    meta.append(el("span", "pill", e.state), el("span", "arrow", "→"), el("span", "pill", e.goal));
    if (e.rule) meta.append(el("span", "tag rule", e.rule));
    const body = el("div");
    body.append(meta, el("div", "d", e.description));
    const t = el("div", "t", clock(e.time)); t.title = e.time;
    row.append(t, el("div", "n", e.node), body);
    tl.append(row);
  }
  if (v.events.length === 0) tl.append(el("div", "empty", "No events yet."));
  seen = new Set(v.events.map((e) => e.id));
  first = false;
  const banner = document.getElementById("banner");
  const last = v.events.find((e) => e.promotion);
  const recent = last && Date.now() - new Date(last.time).getTime() < 10 * 60 * 1000;
  if (primaries.length === 0 && v.nodes.length > 0) {
    banner.className = "banner show nopri";
    banner.textContent = "No primary right now: " + (v.nodes.filter((n) => n.state !== n.goal).map((n) => n.name + " " + n.state + " → " + n.goal).join(", ") || "waiting for the monitor");
  } else if (recent) {
    banner.className = "banner show " + last.promotion;
    banner.textContent = (last.promotion === "failover" ? "Failover" : "Switchover") + " at " + clock(last.time) + ": " + last.node + " is the new primary. " + last.description;
  } else {
    banner.className = "banner";
  }
  document.getElementById("footer").textContent = "Updated " + new Date(v.generatedAt).toLocaleTimeString([], { hour12: false }) + " · read-only view of the monitor";
  document.body.dataset.generated = v.generatedAt;
}
function live(on, text) {
  const l = document.getElementById("live");
  l.className = "live " + (on ? "on" : "off");
  document.getElementById("livetext").textContent = text;
}
function poll() {
  fetch("/api/status", { cache: "no-store" }).then((r) => r.ok ? r.json() : null).then((v) => v && render(v)).catch(() => undefined);
}
if (window.EventSource) {
  const es = new EventSource("/events");
  es.addEventListener("status", (m) => { live(true, "live"); render(JSON.parse(m.data)); });
  es.onopen = () => live(true, "live");
  es.onerror = () => live(false, "reconnecting");
} else {
  live(true, "polling");
  setInterval(poll, 2000);
}
poll();
</script>
</body>
</html>
`;
