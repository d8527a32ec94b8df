/**
 * The text screen of `agentpool monitor`: a pure function from a `/snapshot` body to lines, so it
 * is tested without a terminal.
 *
 * @module
 */

import { formatDuration } from "../core/format.ts";
import type { PoolSnapshot } from "../admin/snapshot.ts";
import { budgetLines } from "./monitor_budget.ts";

/** The duration format the dashboard uses too. */
export { formatDuration };

/** How to draw. */
export interface ViewOptions {
  /** The admin URL shown in the title line. */
  readonly url: string;
  /** ANSI colours. */
  readonly color: boolean;
  /** Terminal width; lines are cut to it. */
  readonly width: number;
  /** Rows available for the two tables together; Infinity lists everything. */
  readonly rows: number;
  /** A problem to show under the title (e.g. "connection lost, retrying"). */
  readonly notice?: string;
}

const ANSI = { reset: "\x1b[0m", bold: "\x1b[1m", dim: "\x1b[2m", red: "\x1b[31m", green: "\x1b[32m", yellow: "\x1b[33m", blue: "\x1b[34m", cyan: "\x1b[36m" };
type Paint = keyof typeof ANSI;

function count(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * Acquires per second over the last few history samples, or undefined with too few.
 *
 * @example
 * ```ts
 * import type { PoolSnapshot } from "agentpool/hono";
 * import { acquireRate } from "./monitor_view.ts";
 * declare const snapshot: PoolSnapshot;
 * acquireRate(snapshot)?.toFixed(1); // "38.6"
 * ```
 */
export function acquireRate(snapshot: PoolSnapshot): number | undefined {
  const h = snapshot.history;
  if (h.length < 2) return undefined;
  const a = h[Math.max(0, h.length - 6)];
  const b = h[h.length - 1];
  return b.t > a.t ? (b.acquired - a.acquired) / ((b.t - a.t) / 1000) : undefined;
}

interface Column {
  readonly title: string;
  readonly width: number;
  readonly right?: boolean;
}

function cell(text: string, column: Column): string {
  const cut = text.length > column.width ? `${text.slice(0, column.width - 1)}…` : text;
  return column.right ? cut.padStart(column.width) : cut.padEnd(column.width);
}

/**
 * Renders one screen of the monitor.
 *
 * @example
 * ```ts
 * import type { PoolSnapshot } from "agentpool/hono";
 * import { renderMonitor } from "./monitor_view.ts";
 * declare const snapshot: PoolSnapshot;
 * const text = renderMonitor(snapshot, { url: "http://localhost:8787/pool", color: false, width: 120, rows: Infinity });
 * ```
 */
export function renderMonitor(snapshot: PoolSnapshot, options: ViewOptions): string {
  const paint = (style: Paint, text: string): string => (options.color ? `${ANSI[style]}${text}${ANSI.reset}` : text);
  const s = snapshot.stats;
  const lat = s.latency;
  const status = snapshot.health.status;
  const statusPaint: Paint = status === "healthy" ? "green" : status === "degraded" ? "yellow" : "red";
  const lines: string[] = [];
  const time = new Date(snapshot.time).toISOString().slice(11, 19);
  lines.push(`${paint("bold", "agentpool monitor")} · ${paint("bold", snapshot.name)} · ${paint(statusPaint, status.toUpperCase())} · ${options.url} · ${time} UTC`);
  if (options.notice !== undefined) lines.push(paint("red", options.notice));
  if (snapshot.health.lastError !== undefined) {
    lines.push(paint("red", `cannot open connections (${snapshot.health.failures ?? "?"} failures): ${snapshot.health.lastError}`));
  }
  const gauge = "■".repeat(s.used) + "□".repeat(s.idle) + "·".repeat(Math.max(0, s.cap - s.used - s.idle));
  lines.push(
    `connections ${s.total}/${s.cap} (max ${s.maxConnections} + overflow ${s.cap - s.maxConnections}) ${paint("blue", gauge.slice(0, 40))}  ` +
      `used ${paint("blue", String(s.used))}  idle ${paint("cyan", String(s.idle))}  waiting ${paint(s.pending > 0 ? "yellow" : "dim", String(s.pending))}  opening ${s.creating}`,
  );
  const rate = acquireRate(snapshot);
  lines.push(
    `agents ${s.activeAgents} active / ${snapshot.agentCount} seen   acquires ${count(s.acquired)}${rate === undefined ? "" : ` (${rate.toFixed(1)}/s)`}   ` +
      `timeouts ${paint(s.timeouts > 0 ? "red" : "dim", count(s.timeouts))}   rejected ${count(s.rejected)}   leaks ${count(s.leaks ?? 0)}`,
  );
  lines.push(
    lat === undefined
      ? paint("dim", "latency: metrics off (pass createMetrics() to the pool)")
      : `wait p50 ${formatDuration(lat.wait.p50)}  p99 ${formatDuration(lat.wait.p99)}  max ${formatDuration(lat.wait.max)}   ` +
        `hold p50 ${formatDuration(lat.use.p50)}  p99 ${formatDuration(lat.use.p99)}  max ${formatDuration(lat.use.max)}`,
  );
  lines.push(...budgetLines(snapshot.budget));

  const agentColumns: Column[] = [
    { title: "AGENT", width: 24 },
    { title: "STATE", width: 8 },
    { title: "HELD", width: 5, right: true },
    { title: "WAIT", width: 5, right: true },
    { title: "ACQUIRED", width: 9, right: true },
    { title: "TIMEOUTS", width: 9, right: true },
    { title: "AVG WAIT", width: 9, right: true },
    { title: "MAX WAIT", width: 9, right: true },
    { title: "AVG HOLD", width: 9, right: true },
    { title: "HOLDING", width: 9, right: true },
  ];
  const connectionColumns: Column[] = [
    { title: "CONN", width: 6, right: true },
    { title: "STATE", width: 10 },
    { title: "AGENT", width: 24 },
    { title: "HELD FOR", width: 9, right: true },
    { title: "IDLE FOR", width: 9, right: true },
    { title: "USES", width: 6, right: true },
    { title: "AGE", width: 9, right: true },
    { title: "KIND", width: 8 },
  ];
  const header = (columns: Column[]): string => paint("dim", columns.map((c) => cell(c.title, c)).join(" "));
  // Split the rows between the tables: agents get what connections leave, at least a third.
  const budget = options.rows;
  const connectionRows = Math.min(snapshot.connections.length, Math.max(Math.floor(budget / 2), budget - snapshot.agents.length - 4));
  const agentRows = Math.max(0, Math.min(snapshot.agents.length, budget - connectionRows - 4));

  lines.push("", header(agentColumns));
  for (const a of snapshot.agents.slice(0, agentRows)) {
    const state = a.revoked ? "revoked" : a.pending > 0 ? "waiting" : a.held > 0 ? "holding" : "quiet";
    const returned = a.acquired - a.held;
    const row = [
      a.agentId,
      state,
      String(a.held),
      String(a.pending),
      count(a.acquired),
      count(a.timeouts),
      a.acquired > 0 ? formatDuration(a.totalWaitMs / a.acquired) : "–",
      formatDuration(a.maxWaitMs),
      returned > 0 ? formatDuration(a.totalHoldMs / returned) : "–",
      a.held > 0 ? formatDuration(a.longestHeldMs) : "–",
    ].map((text, i) => cell(text, agentColumns[i])).join(" ");
    const style: Paint | undefined = state === "revoked" ? "red" : state === "waiting" ? "yellow" : state === "quiet" ? "dim" : undefined;
    lines.push(style === undefined ? row : paint(style, row));
  }
  const hiddenAgents = snapshot.agentCount - Math.min(agentRows, snapshot.agents.length);
  if (hiddenAgents > 0) lines.push(paint("dim", `… ${hiddenAgents} more agent(s)`));

  lines.push("", header(connectionColumns));
  for (const c of snapshot.connections.slice(0, connectionRows)) {
    const row = [
      String(c.id),
      c.state,
      c.agentId ?? "–",
      c.agentId === null ? "–" : formatDuration(c.heldMs),
      c.state === "idle" ? formatDuration(c.idleMs) : "–",
      count(c.uses),
      formatDuration(c.ageMs),
      c.overflow ? "overflow" : "steady",
    ].map((text, i) => cell(text, connectionColumns[i])).join(" ");
    lines.push(c.state === "used" ? paint("blue", row) : c.state === "idle" ? row : paint("dim", row));
  }
  const hiddenConnections = snapshot.connections.length - connectionRows;
  if (hiddenConnections > 0) lines.push(paint("dim", `… ${hiddenConnections} more connection(s)`));
  return lines.map((line) => fit(line, options.width).replace(/ +$/, "")).join("\n") + "\n";
}

/** Cuts a line to `width` visible characters, keeping ANSI codes intact. */
function fit(line: string, width: number): string {
  let visible = 0;
  let out = "";
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\x1b") {
      const end = line.indexOf("m", i);
      out += line.slice(i, end + 1);
      i = end;
      continue;
    }
    if (visible >= width) continue;
    out += line[i];
    visible++;
  }
  return out;
}
