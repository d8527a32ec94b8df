/**
 * The `agentpool stress` report: the numbers, the product's pass/fail criteria, and the text form
 * printed at the end of a run.
 *
 * @module
 */

import type { GaugeSample, SecondSample } from "./stress_sampler.ts";
import type { ErrorSample } from "./workload.ts";

/** Percentiles of the acquire waits, in ms. */
export interface WaitSummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** One criterion of the product, checked on the run. */
export interface Criterion {
  name: string;
  pass: boolean;
  /** The measured value and the limit, as text. */
  actual: string;
  limit: string;
}

/** Everything `agentpool stress` reports (also its `--json` output). */
export interface StressReport {
  pass: boolean;
  criteria: Criterion[];
  run: {
    runtime: string;
    machine: string;
    database: string;
    startedAt: string;
    durationS: number;
    agents: number;
    pool: { min: number; max: number; overflow: number; cap: number };
    thinkMs: [number, number];
    workMs: [number, number];
    longHolders: number;
  };
  transactions: number;
  completions: number;
  throughput: { transactionsPerS: number; completionsPerS: number };
  acquireWaitMs: WaitSummary;
  /** How long connections were held (from the pool's tracker), ms. */
  holdMs: { p50: number; p99: number; max: number };
  fairness: { jain: number; minCompletions: number; maxCompletions: number; meanCompletions: number };
  peaks: {
    /** Most connections held by agents at the same moment (exact, from every acquire/release). */
    concurrentHeld: number;
    /** Most open pool connections in a 100 ms sample. */
    poolOpen: number;
    pending: number;
    /** Most server sessions of this pool's application_name in pg_stat_activity (100 ms samples). */
    serverConnections: number;
    /** Most client sessions on the whole server in the same samples. */
    serverAllClients: number;
  };
  /** Connections opened and closed during the measured window, and how long opening one took. */
  churn: { created: number; destroyed: number; createMsP50: number; createMsP99: number };
  leaks: {
    /** `stats().used` after the team stopped. */
    usedAfterStop: number;
    acquired: number;
    released: number;
    /** Leases neither released, reclaimed nor still held (`acquired − released − reclaimed − used`, src/core/invariants.ts). */
    unaccounted: number;
    /** Leases the pool's leak detector reported. */
    detected: number;
    /** Server sessions of this pool left after `pool.close()`. */
    serverAfterClose: number;
  };
  errors: { expected: number; unexpected: number; samples: ErrorSample[] };
  heapMB: { before: number; after: number; afterGc: boolean };
  agents: { agentId: string; completions: number; transactions: number; longHolder: boolean; longHolds: number }[];
  timeline: SecondSample[];
  gauges: GaugeSample[];
}

/**
 * Jain's fairness index of `xs`: 1 when all are equal, 1/n when one got everything.
 *
 * @example
 * ```ts
 * jainIndex([5, 5, 5]); // 1
 * ```
 */
export function jainIndex(xs: readonly number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const squares = xs.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares);
}

/** The most concurrent connections the run is required to reach (20, unless it cannot). */
export function concurrencyTarget(agents: number, cap: number): number {
  return Math.min(20, cap, agents);
}

/**
 * Checks the product's criteria on a report (everything but `criteria`/`pass` filled in).
 *
 * @example
 * ```ts
 * import { evaluate, type StressReport } from "./stress_report.ts";
 * declare const report: StressReport;
 * const criteria = evaluate(report);
 * const pass = criteria.every((c) => c.pass);
 * ```
 */
export function evaluate(r: Omit<StressReport, "criteria" | "pass">): Criterion[] {
  const target = concurrencyTarget(r.run.agents, r.run.pool.cap);
  const leaked = r.leaks.usedAfterStop + r.leaks.unaccounted + r.leaks.detected + r.leaks.serverAfterClose;
  return [
    {
      name: "concurrent connections reached",
      pass: r.peaks.concurrentHeld >= target,
      actual: `${r.peaks.concurrentHeld} held at once`,
      limit: `>= ${target}${target < 20 ? " (20, capped by agents/cap)" : ""}`,
    },
    {
      name: "zero leaks",
      pass: leaked === 0,
      actual: `${r.leaks.usedAfterStop} used after stop, ${r.leaks.unaccounted} unaccounted, ${r.leaks.detected} detected, ${r.leaks.serverAfterClose} server sessions after close`,
      limit: "all 0",
    },
    {
      name: "acquire wait p99",
      pass: r.acquireWaitMs.count > 0 && r.acquireWaitMs.p99 < 10,
      actual: `${fmtMs(r.acquireWaitMs.p99)} over ${r.acquireWaitMs.count} acquires`,
      limit: "< 10 ms",
    },
    {
      name: "peak server connections within cap",
      pass: r.peaks.serverConnections <= r.run.pool.cap,
      actual: `${r.peaks.serverConnections}`,
      limit: `<= ${r.run.pool.cap}`,
    },
    {
      name: "no unexpected errors",
      pass: r.errors.unexpected === 0,
      actual: `${r.errors.unexpected} (${r.errors.expected} expected)`,
      limit: "0",
    },
  ];
}

/** `1.234 ms` / `0.012 ms` / `123 ms`. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  return `${ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(3)} ms`;
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/**
 * The human-readable report printed at the end of a run.
 *
 * @example
 * ```ts
 * import { formatReport, type StressReport } from "./stress_report.ts";
 * declare const report: StressReport;
 * console.log(formatReport(report));
 * ```
 */
export function formatReport(r: StressReport): string {
  const w = r.acquireWaitMs;
  const lines = [
    `agentpool stress — ${r.run.agents} agents, ${r.run.durationS.toFixed(1)} s, pool min ${r.run.pool.min} / max ${r.run.pool.max} / overflow ${r.run.pool.overflow} (cap ${r.run.pool.cap})`,
    `  ${r.run.runtime} · ${r.run.machine} · ${r.run.database}`,
    "",
    `  transactions        ${fmtInt(r.transactions)} (${fmtInt(r.throughput.transactionsPerS)}/s)`,
    `  tasks completed     ${fmtInt(r.completions)} (${r.throughput.completionsPerS.toFixed(1)}/s)`,
    `  acquire wait        p50 ${fmtMs(w.p50)} · p99 ${fmtMs(w.p99)} · p99.9 ${fmtMs(w.p999)} · max ${fmtMs(w.max)} (${fmtInt(w.count)} acquires)`,
    `  connection held     p50 ${fmtMs(r.holdMs.p50)} · p99 ${fmtMs(r.holdMs.p99)} · max ${fmtMs(r.holdMs.max)}`,
    `  fairness (Jain)     ${r.fairness.jain.toFixed(3)} over per-agent completions (min ${r.fairness.minCompletions}, mean ${r.fairness.meanCompletions.toFixed(1)}, max ${r.fairness.maxCompletions})`,
    `  peak connections    ${r.peaks.concurrentHeld} held at once · ${r.peaks.poolOpen} open in the pool · ${r.peaks.serverConnections} on the server (${r.peaks.serverAllClients} client sessions in all) · ${r.peaks.pending} pending`,
    `  connection churn    ${r.churn.created} opened · ${r.churn.destroyed} closed during the window (open p50 ${fmtMs(r.churn.createMsP50)} · p99 ${fmtMs(r.churn.createMsP99)})`,
    `  after shutdown      ${r.leaks.usedAfterStop} used · ${fmtInt(r.leaks.acquired)} acquired / ${fmtInt(r.leaks.released)} released · ${r.leaks.serverAfterClose} server sessions`,
    `  errors              ${r.errors.unexpected} unexpected · ${r.errors.expected} expected`,
    `  heap                ${r.heapMB.before.toFixed(1)} MB before → ${r.heapMB.after.toFixed(1)} MB after${r.heapMB.afterGc ? " (after GC)" : ""}`,
    "",
    ...r.criteria.map((c) => `  ${c.pass ? "PASS" : "FAIL"}  ${c.name.padEnd(36)} ${c.actual}  (${c.limit})`),
    "",
    r.pass ? "  RESULT: PASS" : "  RESULT: FAIL",
  ];
  for (const e of r.errors.samples.filter((s) => !s.expected).slice(0, 5)) {
    lines.push(`  unexpected: [${e.agentId}] ${e.name}${e.code ? ` ${e.code}` : ""}: ${e.message}`);
  }
  return lines.join("\n");
}

/**
 * The live progress line for one second.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import type { AsyncConnectionPool } from "agentpool";
 * import { liveLine } from "./stress_report.ts";
 * import type { Sampler } from "./stress_sampler.ts";
 * import type { AgentTeam } from "./workload.ts";
 * declare const sampler: Sampler, pool: AsyncConnectionPool<unknown>, team: AgentTeam;
 * sampler.onSecond = (s) => process.stderr.write(liveLine(s, pool.stats(), team.totals(), 60) + "\n");
 * ```
 */
export function liveLine(
  s: SecondSample,
  stats: { used: number; idle: number; pending: number; total: number },
  totals: { unexpectedErrors: number; expectedErrors: number },
  durationS: number,
): string {
  const t = `${Math.min(Math.round(s.t), durationS).toFixed(0).padStart(3)}/${durationS.toFixed(0)} s`;
  return `${t}  ${fmtInt(s.transactions).padStart(6)} tx/s  ${fmtInt(s.completions).padStart(5)} tasks/s  wait p99 ${fmtMs(s.waitP99).padStart(9)}  ` +
    `held ${String(stats.used).padStart(2)} idle ${String(stats.idle).padStart(2)} pending ${String(stats.pending).padStart(2)} open ${stats.total}  ` +
    `errors ${totals.unexpectedErrors} unexpected / ${totals.expectedErrors} expected`;
}
