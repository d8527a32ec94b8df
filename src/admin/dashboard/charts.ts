/**
 * The dashboard's two charts as SVG strings, drawn by the shared chart module from a snapshot:
 * used / idle / waiting over the last minutes against the cap, and the wait-time distribution.
 * Pure functions (no DOM), so they run and are tested outside a browser too.
 *
 * @module
 */

import { type AxisTick, barChart, lineChart, type Point } from "../chart.ts";
import type { PoolSnapshot } from "../snapshot.ts";
import { formatCount } from "../../core/format.ts";

/** The history window grows with the samples: 30 s, 1, 2, 5, 10 min. */
const SPANS_MS = [30000, 60000, 120000, 300000, 600000];
/** Time ticks, chosen to keep about six per window. */
const TICKS_MS = [5000, 10000, 15000, 30000, 60000, 120000];

/**
 * The window the connections chart shows for a history that reaches `haveMs` back.
 *
 * @example
 * ```ts
 * import { historySpan } from "./charts.ts";
 * historySpan(45_000); // { spanMs: 60000, label: "last 1 min" }
 * ```
 */
export function historySpan(haveMs: number): { spanMs: number; label: string } {
  const spanMs = SPANS_MS.find((span) => span >= haveMs) ?? SPANS_MS[SPANS_MS.length - 1];
  return { spanMs, label: `last ${spanMs < 60000 ? `${spanMs / 1000} s` : `${spanMs / 60000} min`}` };
}

function agoTicks(now: number, spanMs: number): AxisTick[] {
  const tickMs = TICKS_MS.find((tick) => spanMs / tick <= 6) ?? TICKS_MS[TICKS_MS.length - 1];
  const ticks: AxisTick[] = [];
  for (let ago = spanMs; ago >= 0; ago -= tickMs) {
    const label = ago === 0 ? "now" : ago < 60000 ? `-${ago / 1000}s` : `-${ago / 60000}m`;
    ticks.push({ at: now - ago, label, anchor: ago === spanMs ? "start" : ago === 0 ? "end" : "middle" });
  }
  return ticks;
}

/**
 * Used and idle (stacked areas) and waiting (a line) over the history window, against the cap.
 *
 * @example
 * ```ts
 * import type { PoolSnapshot } from "agentpool/hono";
 * import { connectionsChart } from "./charts.ts";
 * declare const snap: PoolSnapshot;
 * const { svg, spanLabel } = connectionsChart(snap, 800, 230);
 * ```
 */
export function connectionsChart(snap: PoolSnapshot, width: number, height: number): { svg: string; spanLabel: string } {
  const h = snap.history;
  const { spanMs, label } = historySpan(h.length ? snap.time - h[0].t : 0);
  const t0 = snap.time - spanMs;
  const pts = h.filter((p) => p.t >= t0);
  const at = (value: (p: (typeof pts)[number]) => number): Point[] => pts.map((p) => [p.t, value(p)]);
  const svg = lineChart([
    { name: "idle", className: "area-idle", area: true, points: at((p) => p.used + p.idle), base: pts.map((p) => p.used) },
    { name: "used", className: "area-used", area: true, points: at((p) => p.used) },
    { name: "waiting", className: "line-pending", points: at((p) => p.pending) },
  ], {
    width,
    height,
    padding: { left: 34, right: 10, top: 10, bottom: 24 },
    yTicks: 4,
    // The axis is the pool's size, so a burst of waiters is drawn at the top, not rescaling it away.
    yMax: Math.max(snap.stats.cap * 1.15, 1),
    refs: [{ y: snap.stats.cap, className: "cap" }],
    x: { min: t0, max: snap.time, ticks: agoTicks(snap.time, spanMs) },
    emptyText: "collecting samples…",
  });
  return { svg, spanLabel: label };
}

function boundLabel(b: number): string {
  return b >= 1000 ? `${b / 1000}s` : b < 1 ? String(b).replace(/^0/, "") : String(b);
}

/**
 * The wait-time distribution since start, one bar per bucket on a log scale (slow buckets marked).
 *
 * @example
 * ```ts
 * import type { PoolSnapshot } from "agentpool/hono";
 * import { waitChart } from "./charts.ts";
 * declare const snap: PoolSnapshot;
 * const svg = waitChart(snap, 400, 230);
 * ```
 */
export function waitChart(snap: PoolSnapshot, width: number, height: number): string {
  const frame = { width, height, padding: { left: 8, right: 8, top: 18, bottom: 38 } };
  const w = snap.wait;
  if (!w) return barChart([], { ...frame, emptyText: "metrics off: pass createMetrics() to the pool" });
  const top = w.boundsMs[w.boundsMs.length - 1];
  const labels = ["0", ...w.boundsMs.map((b) => `≤${boundLabel(b)}`), `>${boundLabel(top)}`];
  let last = 9;
  w.counts.forEach((c, i) => {
    if (c > 0) last = Math.max(last, i);
  });
  const total = w.counts.reduce((a, b) => a + b, 0);
  const bars = w.counts.slice(0, last + 1).map((c, j) => {
    const bound = j === 0 ? 0 : j <= w.boundsMs.length ? w.boundsMs[j - 1] : Infinity;
    const pct = total === 0 ? 0 : (100 * c) / total;
    return {
      label: labels[j].replace("≤", ""),
      value: c,
      className: j === 0 ? "zero" : bound > 1000 ? "very-slow" : bound > 100 ? "slow" : undefined,
      title: `${labels[j]} ms: ${formatCount(c)} (${pct.toFixed(1)}%)`,
      note: pct >= 10 ? `${Math.round(pct)}%` : pct >= 1 ? `${pct.toFixed(0)}%` : "",
    };
  });
  return barChart(bars, {
    ...frame,
    logScale: true,
    maxLabels: Math.floor((width - 16) / 18), // a label under every bar down to 18 px per bar
    caption: `bucket upper bound, ms · ${formatCount(total)} acquires`,
    emptyText: "no acquires yet",
  });
}
