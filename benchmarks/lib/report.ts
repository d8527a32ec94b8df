/**
 * Turns benchmark rows into verdicts and the markdown summary (benchmarks/results/README.md).
 * Pure functions: `scripts/bench.ts` does the I/O.
 *
 * @module
 */

import type { BenchResult } from "./harness.ts";

/** A result row after merging rounds: the median of each number, plus every round's value. */
export interface AggregatedResult extends BenchResult {
  /** `nsPerOp` (pool-only) or `txPerSec` (end-to-end) of each round, in run order. */
  rounds: number[];
  /** Set on a row kept from an earlier run by a partial run (`--suite`/`--peer`): when that run started. */
  keptFrom?: string;
}

/** The machine a run happened on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  /** Linux's clock source (`tsc`, `kvm-clock`, …), when the machine tells. */
  clocksource?: string;
}

/** One runtime's results file, `benchmarks/results/<date>-<runtime>.json`. */
export interface RuntimeReport {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  rounds: number;
  /** How pool-only suites were timed. */
  clock: "cpu" | "wall";
  runtime: { name: string; version: string };
  machine: MachineInfo;
  /** 1-, 5-, 15-minute load averages before and after (other work on the machine skews numbers). */
  load: { before: number[]; after: number[] };
  database: { url: string; server: string } | null;
  results: AggregatedResult[];
  targets: TargetVerdict[];
  /** Set when a partial run kept rows of an earlier run. */
  merged?: string;
}

/** One target checked on one runtime. */
export interface TargetVerdict {
  id: string;
  /** What the target says, e.g. "uncontended: agentpool ≤ 2× minimal". */
  label: string;
  /** The measured ratio (or `null` when a side is missing). */
  value: number | null;
  verdict: "PASS" | "MISS" | "N/A";
  /** One line: the numbers behind the verdict and, for a miss, why. */
  why: string;
}

/** Median of `values` (NaN when empty). */
export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const keyOf = (row: BenchResult): string => `${row.suite}|${row.peer}|${JSON.stringify(row.params)}`;

/** Merges the rows of several rounds: one row per (suite, peer, params), medians of the numbers. */
export function aggregate(rounds: BenchResult[][]): AggregatedResult[] {
  const groups = new Map<string, BenchResult[]>();
  for (const rows of rounds) {
    for (const row of rows) {
      const list = groups.get(keyOf(row)) ?? [];
      list.push(row);
      groups.set(keyOf(row), list);
    }
  }
  const out: AggregatedResult[] = [];
  for (const rows of groups.values()) {
    const ran = rows.filter((r) => r.skipped === undefined);
    if (ran.length === 0) {
      out.push({ ...rows[0], rounds: [] });
      continue;
    }
    const m = (pick: (r: BenchResult) => number | undefined): number => median(ran.map((r) => pick(r) ?? NaN));
    const e2e = ran[0].txPerSec !== undefined;
    out.push({
      ...ran[0],
      samples: ran.reduce((n, r) => n + r.samples, 0),
      opsPerIteration: ran[0].opsPerIteration,
      nsPerOp: m((r) => r.nsPerOp),
      p50NsPerOp: m((r) => r.p50NsPerOp),
      p99NsPerOp: m((r) => r.p99NsPerOp),
      ...(e2e
        ? {
          txPerSec: m((r) => r.txPerSec),
          acquireP50Ms: m((r) => r.acquireP50Ms),
          acquireP99Ms: m((r) => r.acquireP99Ms),
          ...(ran.some((r) => r.clientCpuUsPerTx !== undefined) ? { clientCpuUsPerTx: m((r) => r.clientCpuUsPerTx) } : {}),
          ...(ran.some((r) => r.serverCpuUsPerTx !== undefined) ? { serverCpuUsPerTx: m((r) => r.serverCpuUsPerTx) } : {}),
        }
        : {}),
      rounds: ran.map((r) => (e2e ? r.txPerSec! : r.nsPerOp)),
    });
  }
  return out;
}

function find(rows: AggregatedResult[], suite: string, peer: string, params?: Record<string, number>): AggregatedResult | undefined {
  return rows.find((r) =>
    r.suite === suite && r.peer === peer && r.skipped === undefined &&
    (params === undefined || Object.entries(params).every(([k, v]) => r.params[k] === v))
  );
}

const ns = (v: number): string => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ns`;
const x = (v: number): string => `${v.toFixed(2)}×`;

/**
 * Where the time goes when a target is missed: causes measured by patching a scratch copy of
 * src/core (see benchmarks/README.md, "Where agentpool's time goes"; commit noted there). Shown
 * after the measured numbers.
 */
const MISS_HINTS: Record<string, string> = {
  "uncontended-vs-minimal":
    "two clock reads per cycle for exact hold times (preciseTiming: true) cost ~75-95 ns on Node, ~180 ns on Deno, ~65 ns on Bun; compare the preciseTiming: false row; the handle allocation ~12 ns",
  "uncontended-vs-generic": "the two clock reads per cycle (see uncontended vs minimal)",
  "contended-vs-minimal":
    "each wait allocates a Waiter, a promise and its callbacks, joins the fair rotation and reads the clock (enqueue, hand-off); the minimal pool is one array push and shift",
  "contended-vs-generic":
    "the per-wait work of fair hand-off and bounded waits (see contended vs minimal); generic-pool's default has no acquire timeout at all",
  "waiters-vs-minimal":
    "per waiter: a Waiter, a promise, a deadline entry and two clock reads (Deno's performance.now() costs ~100-230 ns); the minimal pool has no timeouts",
  "agents-flat": "more distinct agents means more AgentRecords and map entries touched per cycle (cache misses)",
  "e2e-vs-minimal": "round-to-round spread here is often ±20 %; compare agentpool-noreset (the pool alone) and rerun with --rounds 7",
  "e2e-noreset-vs-minimal": "pool overhead per transaction; compare the pool-only contended suite",
  "adapter-vs-begin": "compare the adapter's round trips per transaction with sql.begin()'s three",
  "adapter-vs-pg":
    "the adapter sends BEGIN, the statement and COMMIT in one round trip (pg: three) but needs more client CPU per transaction (see the client CPU line). " +
    "Profiled on Node 20 on 2026-12-02, after src/postgres/fast_classes.ts: postgres.js's four Result constructors (Object.defineProperties) ~9 µs, " +
    "the SET LOCAL application_name tag's two ParameterStatus messages ~5 µs in postgres.js and ~2 µs in the session tracker " +
    "(end to end the tag costs 24-29 % of tx/s, mostly its SET LOCAL on the server: compare the adapter-untagged row, 2026-12-02-midday-agent-tag.md), " +
    "the pool core, adapter, scope and driver hooks ~15 µs, Node 20's AsyncLocalStorage promise hooks a few µs " +
    "(benchmarks/results/2026-12-02-morning-issue-16.md); where the client's one core is the limit, tx/s follows client CPU",
};

/** Checks every target against one runtime's aggregated rows. */
export function evaluateTargets(rows: AggregatedResult[]): TargetVerdict[] {
  const verdicts: TargetVerdict[] = [];
  const check = (id: string, label: string, value: number | null, pass: (v: number) => boolean, detail: string): void => {
    if (value === null || !Number.isFinite(value)) {
      verdicts.push({ id, label, value: null, verdict: "N/A", why: detail });
      return;
    }
    const ok = pass(value);
    verdicts.push({ id, label, value, verdict: ok ? "PASS" : "MISS", why: ok ? detail : `${detail}; ${MISS_HINTS[id] ?? ""}`.replace(/; $/, "") });
  };

  for (const pool of ["agentpool", "agentpool-coarse"] as const) {
    const label = pool === "agentpool" ? "agentpool" : "agentpool (preciseTiming: false)";
    const idSuffix = pool === "agentpool" ? "" : "-coarse";
    for (const suite of ["uncontended", "contended", "waiters"] as const) {
      const a = find(rows, suite, pool);
      const m = find(rows, suite, "minimal");
      const ratio = a && m ? a.nsPerOp / m.nsPerOp : null;
      check(
        `${suite}-vs-minimal${idSuffix}`,
        `${suite}: ${label} ≤ 2× minimal`,
        ratio,
        (v) => v <= 2,
        a && m ? `${pool} ${ns(a.nsPerOp)} vs minimal ${ns(m.nsPerOp)} per cycle = ${x(ratio!)} (+${ns(a.nsPerOp - m.nsPerOp)})` : "not measured",
      );
      if (suite === "waiters") continue;
      const g = find(rows, suite, "generic-pool");
      const speedup = a && g ? g.nsPerOp / a.nsPerOp : null;
      check(
        `${suite}-vs-generic${idSuffix}`,
        `${suite}: ${label} ≥ 3× faster than generic-pool`,
        speedup,
        (v) => v >= 3,
        a && g ? `generic-pool ${ns(g.nsPerOp)} vs ${pool} ${ns(a.nsPerOp)} = ${x(speedup!)} faster` : "not measured",
      );
    }
  }

  const sweep = rows.filter((r) => r.suite === "agents" && r.peer === "agentpool" && r.skipped === undefined)
    .sort((p, q) => p.params.agents - q.params.agents);
  const spread = sweep.length >= 2 ? Math.max(...sweep.map((r) => r.nsPerOp)) / Math.min(...sweep.map((r) => r.nsPerOp)) : null;
  check(
    "agents-flat",
    "10 → 10,000 agents: cost flat (max/min ≤ 1.5×)",
    spread,
    (v) => v <= 1.5,
    sweep.length >= 2 ? `${sweep.map((r) => `${r.params.agents}: ${ns(r.nsPerOp)}`).join(", ")} (max/min ${x(spread!)})` : "not measured",
  );

  const tx = (peer: string): AggregatedResult | undefined => find(rows, "e2e", peer);
  const e2eRatio = (id: string, label: string, left: string, right: string, limit: number): void => {
    const l = tx(left);
    const r = tx(right);
    const skipped = rows.find((row) => row.suite === "e2e" && (row.peer === left || row.peer === right) && row.skipped !== undefined);
    // Only rows of the same run: a row kept from an earlier run saw another machine and load.
    if (l && r && l.keptFrom !== r.keptFrom) {
      const when = (row: AggregatedResult): string => row.keptFrom === undefined ? "this run" : `the run of ${row.keptFrom}`;
      check(id, label, null, () => false, `${left} (${when(l)}) and ${right} (${when(r)}) were not measured in the same run: run both`);
      return;
    }
    // Each round measures every peer once, one after another: a ratio within a round saw one
    // machine load, so the verdict is the median of the per-round ratios when every round has both.
    const perRound = l && r && l.rounds.length > 1 && l.rounds.length === r.rounds.length
      ? l.rounds.map((value, i) => value / r.rounds[i])
      : null;
    const medians = l && r ? l.txPerSec! / r.txPerSec! : null;
    const ratio = perRound === null ? medians : median(perRound);
    check(
      id,
      label,
      ratio,
      (v) => v >= limit,
      l && r
        ? `${left} ${l.txPerSec!.toFixed(0)} tx/s vs ${right} ${r.txPerSec!.toFixed(0)} tx/s = ${x(medians!)}` +
          (perRound === null ? "" : `; round by round ${perRound.map((v) => v.toFixed(2)).join(" ")}: median ${x(ratio!)}`)
        : skipped?.skipped ?? "not measured (no database?)",
    );
  };
  e2eRatio("e2e-vs-minimal", "e2e: agentpool ≥ 0.97× minimal (same driver)", "agentpool", "minimal", 0.97);
  // Diagnostic: the same pool without the factory's reset(), to tell pool overhead from reset cost.
  e2eRatio("e2e-noreset-vs-minimal", "e2e (diagnostic): agentpool without reset() ≥ 0.97× minimal", "agentpool-noreset", "minimal", 0.97);
  e2eRatio("adapter-vs-begin", "e2e: adapter.transaction ≥ 1.3× sql.begin()", "adapter", "postgres.js-begin", 1.3);
  e2eRatio("adapter-vs-pg", "e2e: adapter.transaction ≥ 1.0× pg-pool + pg", "adapter", "pg-pool", 1.0);
  // Diagnostic: pg-pool sending the adapter's agent tag too, so both peers ask the server for the same work.
  e2eRatio("adapter-vs-pg-tagged", "e2e (diagnostic): adapter.transaction ≥ 1.0× pg-pool + pg with the same agent tag", "adapter", "pg-pool-tagged", 1.0);
  // Diagnostic: the adapter without its agent tag against plain pg-pool, the same server work the other way round.
  e2eRatio("adapter-untagged-vs-pg", "e2e (diagnostic): adapter.transaction with tagTransactions: false ≥ 1.0× pg-pool + pg", "adapter-untagged", "pg-pool", 1.0);
  return verdicts;
}

const fmtNs = (row: AggregatedResult | undefined): string =>
  row === undefined ? "—" : row.skipped !== undefined ? "skipped" : row.nsPerOp.toFixed(row.nsPerOp >= 100 ? 0 : 1);

/** The markdown summary over the latest report of each runtime. */
export function markdownSummary(reports: RuntimeReport[], method: string): string {
  const out: string[] = [];
  const names = reports.map((r) => r.runtime.name);
  const head = (cols: string[]): void => {
    out.push(`| ${cols.join(" | ")} |`);
    out.push(`|${cols.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  };
  out.push("# agentpool benchmarks", "");
  out.push("Generated by `npm run bench` (scripts/bench.ts); do not edit by hand. Numbers are medians over rounds;");
  out.push("each round runs every peer in a fresh process. Lower ns/op is better; higher tx/s is better.");
  out.push("An end-to-end target is the median of the per-round ratios of two peers measured in the same run.", "");
  out.push(method, "");

  out.push("## Machine and runtimes", "");
  const m = reports[0]?.machine;
  if (m) out.push(`- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB.toFixed(1)} GiB; ${m.os} (kernel ${m.kernel}${m.clocksource ? `, clock source ${m.clocksource}` : ""})`);
  for (const r of reports) {
    const load = `load average ${r.load.before.map((v) => v.toFixed(2)).join(" / ")} before, ${r.load.after.map((v) => v.toFixed(2)).join(" / ")} after`;
    out.push(
      `- ${r.runtime.name} ${r.runtime.version}: ${r.startedAt.slice(0, 16).replace("T", " ")} UTC, ${r.quick ? "**quick run**" : "full run"}, ${r.rounds} round(s), ${r.clock} clock, ${load}${r.merged ? ` (${r.merged})` : ""}`,
    );
  }
  const db = reports.find((r) => r.database !== null)?.database;
  out.push(`- PostgreSQL: ${db ? `${db.server} at ${db.url}` : "none reachable (end-to-end skipped)"}`, "");

  out.push("## Targets", "");
  head(["Target", ...names]);
  const ids = reports[0]?.targets.map((t) => t.id) ?? [];
  for (const id of ids) {
    const label = reports[0].targets.find((t) => t.id === id)!.label;
    const cells = reports.map((r) => {
      const t = r.targets.find((v) => v.id === id);
      return t === undefined ? "—" : t.value === null ? t.verdict : `**${t.verdict}** ${t.value.toFixed(2)}×`;
    });
    out.push(`| ${label} | ${cells.join(" | ")} |`);
  }
  out.push("");
  for (const r of reports) {
    for (const t of r.targets) {
      if (t.verdict !== "PASS") out.push(`- ${r.runtime.name} — ${t.verdict} ${t.label}: ${t.why}`);
    }
  }
  out.push("");

  out.push(`## Pool only (no database): ns per acquire+release cycle (${reports[0]?.clock ?? "cpu"} time)`, "");
  head(["Suite", "Peer", ...names, ...names.map((n) => `${n} ÷ minimal`)]);
  for (const suite of ["uncontended", "contended", "waiters"]) {
    for (const peer of ["agentpool", "agentpool-coarse", "minimal", "generic-pool", "tarn"]) {
      const cells = reports.map((r) => fmtNs(find(r.results, suite, peer)));
      const ratios = reports.map((r) => {
        const row = find(r.results, suite, peer);
        const floor = find(r.results, suite, "minimal");
        return row && floor ? x(row.nsPerOp / floor.nsPerOp) : "—";
      });
      out.push(`| ${suite} | ${peer} | ${cells.join(" | ")} | ${ratios.join(" | ")} |`);
    }
  }
  out.push("");
  out.push("Workloads: uncontended = one caller, `await acquire(); release()` × 2,000 per iteration on 10 connections;");
  out.push("contended = 50 agents (one worker each), 20 acquire / `await` / release cycles each per iteration, 20 connections;");
  out.push("waiters = 10,000 acquires from 10,000 agents queued at once on 10 connections, 30 s acquire timeout (minimal: none).");
  out.push("");

  out.push("### Distinct agents (agentpool, uncontended, round-robin over N agents)", "");
  head(["Agents", ...names]);
  for (const agents of [10, 100, 1_000, 10_000]) {
    out.push(`| ${agents.toLocaleString("en-US")} | ${reports.map((r) => fmtNs(find(r.results, "agents", "agentpool", { agents }))).join(" | ")} |`);
  }
  out.push("");

  out.push("## End to end (PostgreSQL): 50 agents, 20 connections, `begin; select 1; commit`", "");
  out.push("tx/s: median (min–max over rounds). Round-to-round spread on this shared machine is often ±20 %, so");
  out.push("ratios near a limit need more rounds (`--suite e2e --rounds 7`) before they mean anything.", "");
  head(["Peer", ...names.map((n) => `${n} tx/s`), ...names.map((n) => `${n} acquire p99 ms`)]);
  const e2ePeers = [...new Set(reports.flatMap((r) => r.results.filter((row) => row.suite === "e2e").map((row) => row.peer)))];
  for (const peer of e2ePeers) {
    const rows = reports.map((r) => r.results.find((row) => row.suite === "e2e" && row.peer === peer));
    const tps = rows.map((row) => {
      if (row === undefined) return "—";
      if (row.skipped !== undefined) return "skipped";
      const spread = row.rounds.length > 1 ? ` (${Math.min(...row.rounds).toFixed(0)}–${Math.max(...row.rounds).toFixed(0)})` : "";
      return `${row.txPerSec!.toFixed(0)}${spread}`;
    });
    const p99 = rows.map((row) => (row === undefined || row.skipped !== undefined || !Number.isFinite(row.acquireP99Ms ?? NaN) ? "—" : row.acquireP99Ms!.toFixed(2)));
    out.push(`| ${peer} | ${tps.join(" | ")} | ${p99.join(" | ")} |`);
  }
  out.push("");
  // The machine's ceiling: every pool's tx/s as a share of pgbench's on the same workload.
  for (const r of reports) {
    const pgbench = find(r.results, "e2e", "pgbench");
    if (pgbench === undefined || pgbench.skipped !== undefined || !(pgbench.txPerSec! > 0)) continue;
    // A ceiling kept from an earlier run saw another machine load: no share of it means anything.
    if (pgbench.keptFrom !== undefined) continue;
    // Only rows of the same run: a row kept from an earlier run saw another machine load.
    const shares = r.results.filter((row) => row.suite === "e2e" && row.peer !== "pgbench" && row.skipped === undefined && row.txPerSec !== undefined && row.keptFrom === undefined)
      .map((row) => `${row.peer} ${((row.txPerSec! / pgbench.txPerSec!) * 100).toFixed(0)} %`);
    out.push(`- ${r.runtime.name}: ceiling (pgbench, same workload and connections) ${pgbench.txPerSec!.toFixed(0)} tx/s; share of it: ${shares.join(", ")}`);
  }
  out.push("");
  // Client CPU per transaction: what each pool and its driver cost, barely moved by the machine's load.
  for (const r of reports) {
    const cpu = r.results.filter((row) => row.suite === "e2e" && row.skipped === undefined && row.clientCpuUsPerTx !== undefined && row.keptFrom === undefined)
      .map((row) => `${row.peer} ${row.clientCpuUsPerTx!.toFixed(1)}`);
    if (cpu.length > 0) out.push(`- ${r.runtime.name}: client CPU per transaction (this process, user + system, µs, median of rounds): ${cpu.join(", ")}`);
    // The server shares the cores: what each peer makes it do per transaction.
    const server = r.results.filter((row) => row.suite === "e2e" && row.skipped === undefined && row.serverCpuUsPerTx !== undefined && row.keptFrom === undefined)
      .map((row) => `${row.peer} ${row.serverCpuUsPerTx!.toFixed(1)}`);
    if (server.length > 0) out.push(`- ${r.runtime.name}: server CPU per transaction (the peer's backends, /proc schedstat, µs, median of rounds): ${server.join(", ")}`);
  }
  out.push("");
  const configs = new Map<string, string>();
  for (const r of reports) for (const row of r.results) if (row.suite === "e2e") configs.set(row.peer, row.skipped ?? row.config);
  for (const [peer, config] of configs) out.push(`- ${peer}: ${config}`);
  out.push("");
  return out.join("\n");
}
