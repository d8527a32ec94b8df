/**
 * The shared chart module (src/admin/chart.ts) and the dashboard's charts drawn with it: geometry
 * of stacked areas, fixed and grown axes, log-scaled bars, label thinning, escaping, empty states;
 * the dashboard's charts from a real router's snapshot.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncConnectionPool, createMetrics } from "../mod.ts";
import { adminRouter, type PoolSnapshot } from "../src/admin/mod.ts";
import { barChart, chartLegend, lineChart, niceScale, tickLabel } from "../src/admin/chart.ts";
import { connectionsChart, historySpan, waitChart } from "../src/admin/dashboard/charts.ts";

const square = { width: 100, height: 100, padding: { left: 0, right: 0, top: 0, bottom: 0 } };
const attr = (svg: string, element: string, className: string, name: string): string[] =>
  [...svg.matchAll(new RegExp(`<${element} class="${className}"[^>]*?\\s${name}="([^"]*)"`, "g"))].map((m) => m[1]);

test("chart: round scales and short tick labels", () => {
  assert.deepEqual(niceScale(23), { top: 25, step: 5 });
  assert.deepEqual(niceScale(10), { top: 10, step: 2 });
  assert.deepEqual(niceScale(6.9, 4), { top: 8, step: 2 });
  assert.deepEqual(niceScale(0), { top: 1, step: 0.2 });
  assert.deepEqual([0, 0.25, 12, 1500, 2000].map(tickLabel), ["0", "0.25", "12", "1.5k", "2k"]);
});

test("chart: a stacked area runs along its points and back along its base", () => {
  const svg = lineChart([{ name: "idle", className: "idle", area: true, points: [[0, 2], [10, 4]], base: [1, 1] }], {
    ...square,
    yMaxAtLeast: 10, // niceScale(10): 0..10, so y(v) = 100 - 10 v
    x: { min: 0, max: 10, ticks: [] },
  });
  assert.deepEqual(attr(svg, "path", "area idle", "d"), ["M0,80L100,60L100,90L0,90Z"]);
  assert.deepEqual(attr(svg, "path", "line idle", "d"), ["M0,80L100,60"]);
  assert.equal([...svg.matchAll(/class="grid"/g)].length, 6, "gridlines at 0, 2, ..., 10");
});

test("chart: the y axis grows to the data and to 15 % above a limit, unless it is fixed", () => {
  const points: [number, number][] = [[0, 1], [5, 40]];
  const grown = lineChart([{ name: "s", className: "s", points }], { ...square, refs: [{ y: 50, label: "limit <50>" }] });
  assert.match(grown, />60</, "50 × 1.15 → the next round top, 60");
  assert.match(grown, /limit &#60;50&#62;/, "labels are escaped");
  const fixed = lineChart([{ name: "s", className: "s", points }], { ...square, yMax: 10, x: { min: 0, max: 5, ticks: [] } });
  assert.deepEqual(attr(fixed, "path", "line s", "d"), ["M0,90L100,0"], "40 on a 0..10 axis is drawn at the top");
});

test("chart: default x ticks are round seconds; given ticks keep their anchors", () => {
  const svg = lineChart([{ name: "s", points: [[0, 1], [60.01, 2]] }], { xUnit: "seconds" });
  const ticks = [...svg.matchAll(/class="tick">([^<]*)</g)].map((m) => m[1]);
  assert.ok(ticks.includes("60") && !ticks.includes("70"), `a last sample at 60.01 s keeps a 60 s axis: ${ticks}`);
  assert.match(svg, /class="axis">seconds</);
  const own = lineChart([{ name: "s", points: [[0, 1], [1, 2]] }], { x: { min: 0, max: 1, ticks: [{ at: 0, label: "-30s", anchor: "start" }] } });
  assert.match(own, /text-anchor="start" class="tick">-30s</);
});

test("chart: fewer than two points shows the empty text instead of lines", () => {
  const svg = lineChart([{ name: "s", className: "s", points: [[0, 1]] }], { emptyText: "collecting samples…" });
  assert.match(svg, /class="empty">collecting samples…</);
  assert.equal(attr(svg, "path", "line s", "d").length, 0);
});

test("chart: legend entries carry colour and escaped names", () => {
  const html = chartLegend([{ name: "a<b", color: "#123456", points: [], dashed: true }]);
  assert.equal(html, `<div class="legend"><span class="key"><i style="background:#123456;opacity:.6"></i>a&#60;b</span></div>`);
});

test("chart: bars on a log scale keep small counts visible and order heights by value", () => {
  const svg = barChart([0, 1, 10, 1000].map((value, i) => ({ label: `b${i}`, value, note: value ? "n" : "" })), { ...square, logScale: true });
  const heights = attr(svg, "rect", "bar", "height").map(Number);
  assert.equal(heights[0], 0);
  assert.ok(heights[1] >= 2, `a count of 1 stays visible: ${heights[1]}`);
  assert.ok(heights[1] < heights[2] && heights[2] < heights[3] && heights[3] === 100, `${heights}`);
  assert.equal([...svg.matchAll(/class="note"/g)].length, 3, "notes only on non-empty bars");
  assert.doesNotMatch(svg, /class="grid"/, "no linear y axis on a log scale");
});

test("chart: linear bars with a mean line; labels thinned to fit", () => {
  const bars = Array.from({ length: 50 }, (_, i) => ({ label: `agent-${i}`, value: i, title: `agent ${i} <x>` }));
  const svg = barChart(bars, { yUnit: "tasks", mean: 24.5 });
  assert.equal([...svg.matchAll(/class="tick">agent-/g)].length, 25, "at most 25 labels: every second bar");
  assert.match(svg, />mean 24\.5</);
  assert.match(svg, /<title>agent 0 &#60;x&#62;<\/title>/);
  assert.match(barChart([], { emptyText: "no acquires yet" }), /class="empty">no acquires yet</);
});

test("dashboard charts: drawn from a real router's snapshot", async () => {
  const pool = new AsyncConnectionPool({
    factory: { create: () => Promise.resolve({}), destroy: () => {} },
    minConnections: 1,
    maxConnections: 4,
    overflow: 2,
    metrics: createMetrics(),
  });
  try {
    const app = adminRouter(pool, { publicReads: true, refreshMs: 100 });
    const first = (await (await app.request("/snapshot")).json()) as PoolSnapshot;
    assert.match(connectionsChart(first, 800, 230).svg, /collecting samples/);
    assert.match(waitChart(first, 400, 230), /no acquires yet/);
    await pool.use(() => {}, { agentId: "a" });
    await new Promise((resolve) => setTimeout(resolve, 110));
    const snap = (await (await app.request("/snapshot")).json()) as PoolSnapshot;
    const chart = connectionsChart(snap, 800, 230);
    assert.equal(chart.spanLabel, "last 30 s");
    assert.match(chart.svg, /<path class="area area-used"/);
    assert.match(chart.svg, /<line [^>]*class="ref cap"/);
    assert.match(chart.svg, /text-anchor="end" class="tick">now</);
    const wait = waitChart(snap, 400, 230);
    assert.match(wait, /<rect class="bar zero"[^>]*><title>0 ms: 1 \(100\.0%\)<\/title>/);
    assert.match(wait, /bucket upper bound, ms · 1 acquires/);
    assert.match(waitChart({ ...snap, wait: null }, 400, 230), /metrics off/);
  } finally {
    await pool.close();
  }
});

test("dashboard charts: the history window grows in steps", () => {
  assert.deepEqual([0, 30_000, 45_000, 200_000, 3_600_000].map((ms) => historySpan(ms).label), [
    "last 30 s",
    "last 30 s",
    "last 1 min",
    "last 5 min",
    "last 10 min",
  ]);
});
