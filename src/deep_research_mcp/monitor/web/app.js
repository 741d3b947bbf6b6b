// The monitor page: recent runs, a run's timeline as a Gantt chart (researchers as lanes, calls as bars, the
// critical path outlined), its report with citations linked to the sources, and per-service latency and errors.
// Vanilla JS with no build step; every text from the server goes into the DOM as text, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "deep-research-monitor-token";
const page = { token: sessionStorage.getItem(TOKEN_KEY) || "", run: "" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value === 0) return "0";
  return value < 1 ? (value * 1000).toFixed(value < 0.01 ? 2 : 0) + " ms" : value.toFixed(2) + " s";
}

async function api(path) {
  const headers = page.token ? { Authorization: "Bearer " + page.token } : {};
  const response = await fetch("api/" + path, { headers });
  if (response.status === 401) {
    document.getElementById("login").hidden = false;
    throw new Error("this server wants a bearer token");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function readFragment() {
  // #run=<id>&token=<bearer>: the token never reaches the server in a URL; it is kept for this tab only.
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("token")) {
    page.token = params.get("token");
    sessionStorage.setItem(TOKEN_KEY, page.token);
    params.delete("token");
    history.replaceState(null, "", "#" + params.toString());
  }
  page.run = params.get("run") || "";
}

async function showRuns() {
  const runs = await api("runs");
  const list = document.getElementById("runs");
  list.replaceChildren(...runs.map((r) => {
    const link = el("a", { href: "#run=" + encodeURIComponent(r.run_id), "data-run": r.run_id },
      r.title || r.question, el("small", {}, `${r.status} · ${r.created_at.slice(0, 19).replace("T", " ")}`));
    if (r.run_id === page.run) link.classList.add("current");
    return el("li", {}, link);
  }));
  if (!page.run && runs.length) page.run = runs[0].run_id;
}

function ticks(wall) {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
  const step = steps.find((s) => wall / s <= 10) || 1200;
  const out = [];
  for (let t = 0; t <= wall + 1e-9; t += step) out.push(t);
  return out;
}

function gantt(timeline) {
  const lanes = timeline.lanes;
  const spans = timeline.spans;
  const wall = Math.max(timeline.wall_s, ...spans.map((s) => s.end), 1e-3);
  const width = 1000, left = 170, right = 10, top = 22, row = 26;
  const x = (t) => left + (t / wall) * (width - left - right);
  const height = top + lanes.length * row + 6;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", id: "gantt",
    "data-wall": String(timeline.wall_s), role: "img", "aria-label": "run timeline" });
  for (const t of ticks(wall)) {
    chart.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: top - 4, y2: height }),
      svg("text", { x: x(t) + 2, y: top - 8 }, seconds(t)));
  }
  lanes.forEach((lane, i) => {
    const y = top + i * row;
    const group = svg("g", { class: "lane", "data-lane": lane.id });
    const label = lane.id === "run" ? "run" : `${lane.id} ${lane.label}`;
    group.append(svg("text", { x: 4, y: y + row / 2 + 4 }, label.length > 26 ? label.slice(0, 25) + "…" : label,
      svg("title", {}, lane.label)));
    if (lane.started !== undefined && lane.started !== null && lane.started > lane.queued) {
      group.append(svg("rect", { class: "queue", x: x(lane.queued), width: Math.max(1, x(lane.started) - x(lane.queued)),
        y: y + row / 2 - 2, height: 4 }, svg("title", {}, `${lane.id} waited ${seconds(lane.started - lane.queued)} for a slot`)));
    }
    const mine = spans.filter((s) => s.lane === lane.id);
    for (const s of mine) {
      const outcome = s.outcome === "ok" ? "" : s.outcome === "cache_hit" ? "cache_hit" : "failed";
      const classes = ["bar", s.kind, outcome, s.critical ? "critical" : ""].filter(Boolean).join(" ");
      group.append(svg("rect", {
        class: classes, x: x(s.start), width: Math.max(1.5, x(s.end) - x(s.start)), y: y + 4, height: row - 8, rx: 2,
        "data-kind": s.kind, "data-stage": s.stage, "data-service": s.service, "data-critical": String(s.critical),
      }, svg("title", {}, `${s.kind} ${s.name} on ${s.service}: ${seconds(s.end - s.start)}, ${s.outcome}` +
        (s.critical ? " (critical path)" : ""))));
    }
    chart.append(group);
  });
  return chart;
}

function legend() {
  const item = (kind, text) => el("span", {}, el("i", { class: "swatch " + kind }), text);
  return el("p", { class: "legend" }, item("model", "model call"), item("tool", "tool call"),
    item("failed", "failed"), item("cache_hit", "cache hit"), item("queue", "queued for a slot"),
    item("critical", "critical path"));
}

function inline(text) {
  // Citations [1] / [1, 2] link to the numbered sources below; markdown links only when http(s).
  const out = [];
  const pattern = /\[(\d+(?:,\s*\d+)*)\]|\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)|`([^`]+)`/g;
  let at = 0;
  for (const m of text.matchAll(pattern)) {
    out.push(text.slice(at, m.index));
    if (m[1]) {
      const refs = m[1].split(/,\s*/);
      out.push("[");
      refs.forEach((n, i) => {
        out.push(el("a", { href: "#src-" + n, class: "cite" }, n));
        if (i < refs.length - 1) out.push(", ");
      });
      out.push("]");
    } else if (m[3]) {
      out.push(el("a", { href: m[3], rel: "noopener noreferrer" }, m[2]));
    } else {
      const code = el("code", {}, m[4]);
      out.push(/^https?:\/\/\S+$/.test(m[4]) ? el("a", { href: m[4], rel: "noopener noreferrer" }, code) : code);
    }
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

function renderReport(markdown) {
  // The report's own "Sources" list is numbered as its citations are: its items are the citations' targets.
  const root = el("div", { class: "report" });
  let list = null, inSources = false, sourceNumber = 0;
  for (const line of markdown.split("\n")) {
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    const item = line.match(/^\s*(?:[-*]|\d+\.)\s+(.*)$/);
    if (!item) list = null;
    if (heading) {
      inSources = /^sources$/i.test(heading[2].trim());
      root.append(el("h" + Math.min(heading[1].length + 1, 5), {}, ...inline(heading[2])));
    } else if (item) {
      if (!list) root.append((list = el(inSources ? "ol" : "ul", inSources ? { class: "sources" } : {})));
      list.append(el("li", inSources ? { id: "src-" + ++sourceNumber } : {}, ...inline(item[1])));
    } else if (line.startsWith(">")) root.append(el("blockquote", {}, ...inline(line.replace(/^>\s?/, ""))));
    else if (line.trim()) root.append(el("p", {}, ...inline(line)));
  }
  return root;
}

function sourcesList(sources) {
  return el("ol", { class: "sources" }, ...sources.map((s, i) => {
    const safe = /^https?:\/\//.test(s.locator);
    return el("li", { id: "src-" + (i + 1) }, safe ? el("a", { href: s.locator, rel: "noopener noreferrer" },
      s.title || s.locator) : (s.title || s.locator), " ", el("small", {}, s.locator));
  }));
}

async function showRun() {
  const section = document.getElementById("run");
  if (!page.run) return;
  const run = await api("runs/" + encodeURIComponent(page.run));
  const t = run.timeline || {};
  const parts = [el("h2", {}, run.question), el("p", { class: "hint" }, `${run.run_id} · ${run.message || run.status}`)];
  if (t.spans) {
    const totals = t.totals;
    parts.push(el("div", { class: "numbers" },
      ...[["wall", seconds(t.wall_s)], ["critical-path floor", seconds(t.floor_s)],
        ["wall / floor", t.ratio === null ? "–" : t.ratio.toFixed(3)], ["model calls", totals.model_calls],
        ["tool calls", totals.tool_calls], ["errors", totals.errors],
        ["tokens", totals.input_tokens + totals.output_tokens],
        ["cost", totals.cost_usd === null ? "unknown" : "$" + totals.cost_usd.toFixed(4)]]
        .map(([k, v]) => el("span", { "data-number": k }, el("b", {}, String(v)), k))));
    parts.push(gantt(t), legend(), runServices(t.spans));
    if (t.dropped) parts.push(el("p", { class: "hint" }, `${t.dropped} calls past the cap of ${t.max_spans} are not drawn.`));
  } else {
    parts.push(el("p", { class: "hint" }, "No timeline: it is kept for finished runs."));
  }
  const report = run.report ? renderReport(run.report) : null;
  if (report) parts.push(report);
  if (run.sources && run.sources.length && !(report && report.querySelector("#src-1"))) {
    parts.push(el("h2", {}, "Sources"), sourcesList(run.sources));
  }
  section.replaceChildren(...parts);
}

function barChart(title, rows, series, unit) {
  // rows: [{label, values: {series: number}}]; one group of horizontal bars per row.
  const width = 480, left = 210, row = 14 * series.length + 10;
  const max = Math.max(1e-9, ...rows.flatMap((r) => series.map((s) => r.values[s.key] || 0)));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${rows.length * row + 24}`, width: width, class: "service-chart" });
  rows.forEach((r, i) => {
    const y = 20 + i * row;
    chart.append(svg("text", { x: 0, y: y + row / 2 }, r.label.length > 34 ? r.label.slice(0, 33) + "…" : r.label,
      svg("title", {}, r.label)));
    series.forEach((s, j) => {
      const v = r.values[s.key] || 0;
      const w = (v / max) * (width - left - 70);
      chart.append(svg("rect", { x: left, y: y + j * 14, width: Math.max(v ? 1 : 0, w), height: 12, fill: s.color },
        svg("title", {}, `${s.key}: ${unit(v)}`)), svg("text", { x: left + w + 4, y: y + j * 14 + 10 }, unit(v)));
    });
  });
  chart.prepend(svg("text", { x: 0, y: 12 }, title + " (" + series.map((s) => s.key).join(", ") + ")"));
  return el("div", { class: "chart" }, chart);
}

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] : 0;
}

function runServices(spans) {
  // This run's calls per service, from its timeline: latency p50/p95/max and errors by kind.
  const by = new Map();
  for (const s of spans) {
    if (s.outcome === "cancelled" || s.outcome === "cache_hit") continue;
    if (!by.has(s.service)) by.set(s.service, { times: [], values: { calls: 0, 429: 0, "5xx": 0, timeout: 0, other: 0 } });
    const entry = by.get(s.service);
    entry.times.push(s.end - s.start);
    entry.values.calls += 1;
    if (s.outcome in entry.values) entry.values[s.outcome] += 1;
  }
  const rows = [...by.entries()].map(([label, e]) => {
    const sorted = e.times.sort((a, b) => a - b);
    return { label, latency: { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), max: sorted[sorted.length - 1] },
      counts: e.values };
  });
  return el("div", { class: "run-services" },
    barChart("this run: latency", rows.map((r) => ({ label: r.label, values: r.latency })),
      [{ key: "p50", color: "#4c78c8" }, { key: "p95", color: "#7e9fd8" }, { key: "max", color: "#b3c6ea" }], seconds),
    barChart("this run: calls and errors", rows.map((r) => ({ label: r.label, values: r.counts })), ERROR_SERIES,
      (v) => String(v)));
}

const ERROR_SERIES = [{ key: "calls", color: "#3a9a5b" }, { key: "429", color: "#f0a202" },
  { key: "5xx", color: "#d9534f" }, { key: "timeout", color: "#8e44ad" }, { key: "other", color: "#777" }];

async function showServices() {
  const metrics = await api("metrics");
  const services = Object.entries(metrics.services).filter(([, s]) => s.latency_s);
  const charts = document.getElementById("charts");
  if (!services.length) {
    charts.replaceChildren(el("p", { class: "hint" }, "No calls yet."));
    return;
  }
  const latency = services.map(([name, s]) => ({ label: name, values: s.latency_s }));
  const errors = services.map(([name, s]) => ({ label: name, values: { calls: s.calls, ...s.errors } }));
  charts.replaceChildren(
    barChart("latency", latency, [{ key: "p50", color: "#4c78c8" }, { key: "p95", color: "#7e9fd8" },
      { key: "p99", color: "#b3c6ea" }], seconds),
    barChart("calls and errors", errors, ERROR_SERIES, (v) => String(v)));
}

async function refresh() {
  readFragment();
  const status = document.getElementById("status");
  try {
    await showRuns();
    await Promise.all([showRun(), showServices()]);
    status.textContent = "";
    document.body.dataset.ready = "true";
  } catch (error) {
    status.textContent = error.message;
    document.body.dataset.ready = "error";
  }
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  page.token = document.getElementById("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, page.token);
  document.getElementById("login").hidden = true;
  refresh();
});
window.addEventListener("hashchange", refresh);
refresh();
