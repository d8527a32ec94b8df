/**
 * The self-contained HTML report of `agentpool stress --report FILE.html`: verdict, criteria, key
 * numbers, and inline SVG charts over the run (throughput, acquire wait p50/p99, pool
 * used/idle/pending with server sessions, per-agent completions). No scripts, no CDN.
 *
 * @module
 */

import { fmtInt, fmtMs, type StressReport } from "./stress_report.ts";
import type { Percentiles } from "./stress_split.ts";
import { barChart, esc, lineChart } from "./stress_svg.ts";

const COLORS = {
  blue: "#2563eb",
  green: "#16a34a",
  orange: "#ea580c",
  red: "#dc2626",
  purple: "#7c3aed",
  grey: "#6b7280",
  teal: "#0d9488",
};

const CSS = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;background:#f3f4f6}
main{max-width:1160px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 2px}.sub{color:#4b5563;margin:0}
.head{display:flex;justify-content:space-between;align-items:flex-start;gap:16px;margin-bottom:16px}
.verdict{font-weight:700;font-size:20px;padding:8px 18px;border-radius:8px;color:#fff;white-space:nowrap}
.pass{background:#16a34a}.fail{background:#dc2626}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:16px 18px;margin-bottom:16px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-bottom:16px}
.kpi{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:12px 14px}
.kpi b{display:block;font-size:22px}.kpi span{color:#6b7280;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi small{color:#4b5563}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:6px 8px;border-bottom:1px solid #f0f0f0}
th{color:#6b7280;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.ok{color:#16a34a;font-weight:700}.bad{color:#dc2626;font-weight:700}
.note{color:#6b7280;font-size:12.5px;margin:2px 0 8px}
svg{width:100%;height:auto;display:block}
.grid{stroke:#eef0f3}.axisline{stroke:#9ca3af}.tick{fill:#6b7280;font-size:11px}.axis{fill:#4b5563;font-size:12px}.ref{font-size:11px;fill:#111827}
.legend{display:flex;gap:16px;margin:6px 0 2px;font-size:12.5px;color:#374151}.key i{display:inline-block;width:14px;height:3px;margin-right:6px;vertical-align:middle;border-radius:2px}
.meta td:first-child{color:#6b7280;width:220px}
.diagnosis{background:#fff;border-left:4px solid #2563eb;border-radius:6px;padding:10px 14px;margin-bottom:16px;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
`;

function kpi(label: string, value: string, detail: string): string {
  return `<div class="kpi"><span>${esc(label)}</span><b>${esc(value)}</b><small>${esc(detail)}</small></div>`;
}

function card(title: string, note: string, body: string): string {
  return `<section class="card"><h2>${esc(title)}</h2><p class="note">${esc(note)}</p>${body}</section>`;
}

/**
 * Renders the report as one HTML document.
 *
 * @example
 * ```ts
 * import { writeFile } from "node:fs/promises";
 * import { renderHtmlReport } from "./stress_html.ts";
 * import type { StressReport } from "./stress_report.ts";
 * declare const report: StressReport;
 * await writeFile("stress.html", renderHtmlReport(report));
 * ```
 */
export function renderHtmlReport(r: StressReport): string {
  const w = r.acquireWaitMs;
  const t = r.timeline;
  const criteria = r.criteria.map((c) =>
    `<tr><td class="${c.pass ? "ok" : "bad"}">${c.pass ? "PASS" : "FAIL"}</td><td>${esc(c.name)}</td><td>${esc(c.actual)}</td><td>${esc(c.limit)}</td></tr>`
  ).join("");
  const throughput = lineChart([
    { name: "transactions / s", color: COLORS.blue, points: t.map((s) => [s.t, s.transactions]), area: true },
    { name: "tasks completed / s", color: COLORS.green, points: t.map((s) => [s.t, s.completions]) },
  ], { yUnit: "per second" });
  const waits = lineChart([
    { name: "wait p50", color: COLORS.blue, points: t.map((s) => [s.t, s.waitP50]) },
    { name: "wait p99", color: COLORS.orange, points: t.map((s) => [s.t, s.waitP99]) },
    { name: "pool adds p99", color: COLORS.green, points: t.map((s) => [s.t, s.poolAddedP99]), dashed: true },
  ], { yUnit: "milliseconds", refs: [{ y: 10, label: "limit 10 ms (pool adds p99)", color: COLORS.red }], yMaxAtLeast: 2 });
  const saturation = lineChart([
    { name: "share of the second with every connection held (%)", color: COLORS.red, points: t.map((s) => [s.t, s.allHeld * 100]), area: true },
  ], { yUnit: "percent", yMaxAtLeast: 100 });
  const sp = r.split;
  const db = r.database;
  const parts: [string, Percentiles][] = [
    ["acquire wait (request → code runs)", sp.wait],
    ["pool adds (the two below)", sp.poolAdded],
    ["· hand-off (release → the waiter's code runs)", sp.handoff],
    ["· idle or openable (a connection idle, being reset or opened, or openable)", sp.idleOrOpenable],
    ["every connection held (the database and the workload)", sp.busyWait],
  ];
  const splitRows = parts.map(([name, p]) =>
    `<tr><td>${esc(name)}</td><td class="num">${fmtInt(p.count)}</td><td class="num">${fmtMs(p.p50)}</td><td class="num">${fmtMs(p.p99)}</td><td class="num">${fmtMs(p.p999)}</td><td class="num">${fmtMs(p.max)}</td></tr>`
  ).join("");
  const peerRows = r.comparison.results.map((c) =>
    `<tr><td>${esc(c.name)}</td><td class="num">${fmtInt(c.transactionsPerS)}</td><td class="num">${fmtMs(c.split.wait.p50)}</td><td class="num">${fmtMs(c.split.wait.p99)}</td><td class="num">${fmtMs(c.split.wait.p999)}</td><td class="num">${fmtMs(c.split.poolAdded.p99)}</td><td class="num">${(c.split.allHeldShare * 100).toFixed(0)} %</td><td class="num">${Math.round(c.cpuUsPerTx)} µs</td><td class="num">${c.errors}</td><td>${esc(c.config)}</td></tr>`
  ).join("") + r.comparison.skipped.map((c) => `<tr><td>${esc(c.name)}</td><td colspan="9">skipped: ${esc(c.skipped)}</td></tr>`).join("");
  const gauges = lineChart([
    { name: "held (used)", color: COLORS.blue, points: r.gauges.map((g) => [g.t, g.used]), area: true },
    { name: "idle", color: COLORS.green, points: r.gauges.map((g) => [g.t, g.idle]) },
    { name: "pending acquires", color: COLORS.orange, points: r.gauges.map((g) => [g.t, g.pending]) },
    { name: "server sessions (pg_stat_activity)", color: COLORS.purple, points: r.gauges.map((g) => [g.t, g.server]), dashed: true },
    { name: "sessions running a statement", color: COLORS.teal, points: r.gauges.map((g) => [g.t, g.active ?? 0]), dashed: true },
  ], { yUnit: "connections", refs: [{ y: r.run.pool.cap, label: `cap ${r.run.pool.cap}`, color: COLORS.red }, { y: r.run.pool.max, label: `max ${r.run.pool.max}`, color: COLORS.grey }] });
  const agents = barChart(r.agents.map((a) => ({
    label: a.agentId.replace(/^.*-/, ""),
    value: a.completions,
    color: a.longHolder ? COLORS.orange : COLORS.teal,
    title: `${a.agentId}: ${a.completions} tasks, ${a.transactions} transactions${a.longHolder ? `, long holder (${a.longHolds} long holds)` : ""}`,
  })), { yUnit: "tasks completed", mean: r.fairness.meanCompletions });
  const errorRows = r.errors.samples.slice(0, 10).map((e) =>
    `<tr><td class="${e.expected ? "" : "bad"}">${e.expected ? "expected" : "unexpected"}</td><td>${esc(e.agentId)}</td><td>${esc(`${e.name}${e.code ? ` ${e.code}` : ""}`)}</td><td>${esc(e.message.slice(0, 200))}</td></tr>`
  ).join("");
  const run = r.run;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>agentpool stress — ${r.pass ? "PASS" : "FAIL"} — ${esc(run.runtime)}</title><style>${CSS}</style></head>
<body><main>
<div class="head"><div><h1>agentpool stress report</h1>
<p class="sub">${run.agents} agents · ${run.durationS.toFixed(1)} s measured · pool ${run.pool.min} min / ${run.pool.max} max / +${run.pool.overflow} overflow (cap ${run.pool.cap})</p>
<p class="sub">${esc(run.runtime)} · ${esc(run.database)} · ${esc(run.machine)} · ${esc(run.startedAt)}</p></div>
<div class="verdict ${r.pass ? "pass" : "fail"}">${r.pass ? "PASS" : "FAIL"}</div></div>
<div class="diagnosis">${esc(db.bottleneck)}</div>
<div class="cards">
${kpi("throughput", `${Math.round(r.throughput.transactionsPerS).toLocaleString("en-US")} tx/s`, `${r.transactions.toLocaleString("en-US")} transactions · ${r.throughput.completionsPerS.toFixed(1)} tasks/s`)}
${kpi("pool adds p99", fmtMs(sp.poolAdded.p99), `raw acquire wait p99 ${fmtMs(w.p99)} · p50 ${fmtMs(w.p50)} · max ${fmtMs(w.max)}`)}
${kpi("peak connections", `${r.peaks.concurrentHeld} held`, `${r.peaks.poolOpen} open · ${r.peaks.serverConnections} on server · cap ${run.pool.cap}`)}
${kpi("fairness (Jain)", r.fairness.jain.toFixed(3), `tasks per agent ${r.fairness.minCompletions}–${r.fairness.maxCompletions}, mean ${r.fairness.meanCompletions.toFixed(1)}`)}
</div>
${card("Criteria", "The product's pass/fail criteria, checked on this run.", `<table><tr><th></th><th>criterion</th><th>measured</th><th>limit</th></tr>${criteria}</table>`)}
${card("What the pool adds, what the database costs", "Every acquire wait split by what the pool was doing meanwhile: waiting while every connection was held is the database's (and the workload's) time; the rest is the pool's.", `<table><tr><th>part of the wait</th><th class="num">acquires</th><th class="num">p50</th><th class="num">p99</th><th class="num">p99.9</th><th class="num">max</th></tr>${splitRows}</table>
<p class="note">All connections held ${(sp.allHeldShare * 100).toFixed(0)} % of the window; ${(sp.busyShareOfWaiting * 100).toFixed(0)} % of all waiting happened then. Database: ${fmtInt(db.transactionsPerS)} tx/s, sessions running a statement mean ${db.activeMean.toFixed(1)}, peak ${db.activePeak}.${db.calibration ? ` Calibrated: probed ${fmtInt(db.calibration.capacityTxPerS)} tx/s, offered ${fmtInt(db.calibration.offeredTxPerS)} tx/s (${(db.calibration.fraction * 100).toFixed(0)} %).` : ""}</p>`)}
${peerRows ? card("Peers on the same workload", `agentpool and its peers one after another on the same neutral agent workload (plain SQL, same agents, think time, in-transaction work and cap), ${r.comparison.durationS} s each in ${r.comparison.rounds} turn(s), timed the same way.`, `<table><tr><th>pool</th><th class="num">tx/s</th><th class="num">acquire p50</th><th class="num">p99</th><th class="num">p99.9</th><th class="num">pool adds p99</th><th class="num">all held</th><th class="num">CPU / tx</th><th class="num">errors</th><th>configuration</th></tr>${peerRows}</table>`) : ""}
${card("Saturation", "Share of each second during which every connection up to the cap was held: 100 % means the pool had nothing to give and waits were the database's.", saturation)}
${card("Throughput", "Committed transactions and completed tasks per second of the measured window.", throughput)}
${card("Acquire wait", "Time from acquire() to the caller's code running, per second: median and 99th percentile of that second's acquires, and the 99th percentile of the part the pool added.", waits)}
${card("Pool connections", "Sampled every 100 ms: connections held by agents, idle in the pool, acquires waiting; dashed: this pool's sessions on the server and those of them running a statement.", gauges)}
${card("Completions per agent", "Tasks each agent completed; orange bars are the long holders (they sometimes keep a transaction open 100–500 ms).", agents)}
${card("Run details", "", `<table class="meta">
<tr><td>transactions</td><td>${r.transactions.toLocaleString("en-US")} (${Math.round(r.throughput.transactionsPerS)}/s)</td></tr>
<tr><td>tasks completed</td><td>${r.completions.toLocaleString("en-US")}</td></tr>
<tr><td>acquire wait</td><td>p50 ${fmtMs(w.p50)} · p99 ${fmtMs(w.p99)} · p99.9 ${fmtMs(w.p999)} · max ${fmtMs(w.max)} · mean ${fmtMs(w.mean)} over ${w.count.toLocaleString("en-US")} acquires</td></tr>
<tr><td>connection held</td><td>p50 ${fmtMs(r.holdMs.p50)} · p99 ${fmtMs(r.holdMs.p99)} · max ${fmtMs(r.holdMs.max)}</td></tr>
<tr><td>connection churn</td><td>${r.churn.created} opened · ${r.churn.destroyed} closed during the window · opening one took p50 ${fmtMs(r.churn.createMsP50)} · p99 ${fmtMs(r.churn.createMsP99)}</td></tr>
<tr><td>after shutdown</td><td>${r.leaks.usedAfterStop} used · ${r.leaks.acquired.toLocaleString("en-US")} acquired / ${r.leaks.released.toLocaleString("en-US")} released / ${r.leaks.reclaimed.toLocaleString("en-US")} reclaimed · ${r.leaks.detected} leak reports · ${Number.isFinite(r.leaks.serverAfterClose) ? r.leaks.serverAfterClose : "unknown"} server sessions after close</td></tr>
<tr><td>errors</td><td>${r.errors.unexpected} unexpected · ${r.errors.expected} expected</td></tr>
<tr><td>heap</td><td>${r.heapMB.before.toFixed(1)} MB before → ${r.heapMB.after.toFixed(1)} MB after${r.heapMB.afterGc ? " (after GC)" : ""}</td></tr>
<tr><td>think · in-transaction work · long holders</td><td>${run.thinkMs[0]}–${run.thinkMs[1]} ms · ${run.workMs[0]}–${run.workMs[1]} ms · ${run.longHolders}</td></tr>
</table>${errorRows ? `<h2 style="margin-top:12px">Errors (first ${Math.min(10, r.errors.samples.length)})</h2><table>${errorRows}</table>` : ""}`)}
</main></body></html>
`;
}
