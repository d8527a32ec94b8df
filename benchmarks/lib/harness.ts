/**
 * What every benchmark script shares: command-line flags, a mitata `measure` wrapper that turns one
 * timed iteration of N operations into ns per operation, and the JSON result rows.
 *
 * Runs on Node (tsx), Deno and Bun: only `node:` built-ins that all three provide.
 *
 * @module
 */

import { writeFileSync } from "node:fs";
import process from "node:process";
import { measure } from "mitata";
import { flagOption, listOption, parseCommandLine, splitList, text, UsageError, valueOption } from "../../src/cli/args.ts";

/** One measured case, as written to the JSON results. */
export interface BenchResult {
  suite: string;
  peer: string;
  /** Case parameters, e.g. `{ agents: 1000 }`. */
  params: Record<string, number>;
  /** Pool settings that differ from defaults. */
  config: string;
  /** Operations (acquire+release cycles, or transactions) in one timed iteration. */
  opsPerIteration: number;
  /** Timed iterations mitata kept (it drops the 2 fastest and 2 slowest). */
  samples: number;
  /** Mean ns per operation over the kept iterations (mitata `avg` / ops). */
  nsPerOp: number;
  /** Median and 99th percentile of the per-iteration time, per operation. */
  p50NsPerOp: number;
  p99NsPerOp: number;
  /** End-to-end only: transactions per second and acquire latency in ms. */
  txPerSec?: number;
  acquireP50Ms?: number;
  acquireP99Ms?: number;
  /**
   * End-to-end only: this process's CPU time (user + system) per transaction, µs: the pool, its
   * driver and the loop. Barely moved by other processes competing for the cores, unlike tx/s.
   */
  clientCpuUsPerTx?: number;
  /**
   * End-to-end only, when the server runs on this Linux machine: the CPU time its backends spent
   * on this peer's sessions per transaction, µs (lib/server_cpu.ts). The server shares the cores.
   */
  serverCpuUsPerTx?: number;
  /** Set when the case could not run (peer missing, database unreachable). */
  skipped?: string;
}

/** Flags every benchmark script understands. */
export interface BenchArgs {
  /** Suites to run (empty: all). */
  suites: string[];
  /** Peers to run (empty: all). */
  peers: string[];
  /** Short run: smaller time budget per case. */
  quick: boolean;
  /** Write the result rows as JSON here. */
  json: string | undefined;
}

/** Prints a bad command line's message and exits 2, like the `agentpool` commands. */
function usageExit(error: unknown): never {
  if (!(error instanceof UsageError)) throw error;
  const script = (process.argv[1] ?? "benchmark").replace(/^.*\//, "");
  console.error(`${script}: ${error.message}`);
  process.exit(2);
}

/** Parses `--suite a,b --peer x --quick --json FILE` (repeatable or comma-separated); bad input exits 2. */
export function parseBenchArgs(argv: string[] = process.argv.slice(2)): BenchArgs {
  try {
    const { values } = parseCommandLine("benchmark", argv, {
      suite: listOption(text),
      peer: listOption(text),
      quick: flagOption(),
      json: valueOption(text),
      help: flagOption("h"),
    });
    if (values.help) {
      console.log("Options: --suite NAME[,NAME] --peer NAME[,NAME] --quick --json FILE (see benchmarks/README.md)");
      process.exit(0);
    }
    return { suites: splitList(values.suite), peers: splitList(values.peer), quick: values.quick ?? false, json: values.json };
  } catch (error) {
    usageExit(error);
  }
}

/** Picks `wanted` from `all`; an unknown name is a bad command line (message naming it, exit 2). */
export function select<T extends string>(kind: string, all: readonly T[], wanted: string[]): T[] {
  for (const name of wanted) {
    if (!(all as readonly string[]).includes(name)) usageExit(new UsageError(`Invalid value for --${kind}: ${JSON.stringify(name)} (expected one of ${all.join(", ")})`));
  }
  return all.filter((name) => wanted.length === 0 || wanted.includes(name));
}

const gc: (() => void) | false = (() => {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun !== undefined) return () => g.Bun!.gc(true);
  if (typeof g.gc === "function") return g.gc;
  return false; // mitata would otherwise allocate 1 GiB to provoke a collection
})();

/**
 * Process CPU time (all threads, user + system) in ns, used when `BENCH_CLOCK=cpu`: time the
 * process waits for a core taken by other work does not count; its own GC threads do.
 */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

/** Time budgets: warm-up before mitata starts, and mitata's minimum measured time per case. */
export function budget(quick: boolean): { warmupMs: number; minCpuMs: number } {
  return quick ? { warmupMs: 60, minCpuMs: 150 } : { warmupMs: 250, minCpuMs: 700 };
}

/**
 * Measures `iteration` (which performs `ops` operations) with mitata and returns ns per operation.
 * The iteration is first run for `warmupMs` so the JIT has settled; mitata then times single
 * iterations (batching off: one iteration already takes tens of microseconds or more).
 */
export async function measureOps(
  iteration: () => Promise<unknown>,
  ops: number,
  quick: boolean,
): Promise<Pick<BenchResult, "opsPerIteration" | "samples" | "nsPerOp" | "p50NsPerOp" | "p99NsPerOp">> {
  const { warmupMs, minCpuMs } = budget(quick);
  const until = performance.now() + warmupMs;
  do await iteration(); while (performance.now() < until);
  const stats = await measure(iteration, {
    gc,
    ...(process.env.BENCH_CLOCK === "cpu" ? { now: cpuNow } : {}),
    batch_threshold: 0,
    min_samples: 12,
    min_cpu_time: minCpuMs * 1e6,
  });
  return {
    opsPerIteration: ops,
    samples: stats.samples.length,
    nsPerOp: stats.avg / ops,
    p50NsPerOp: stats.p50 / ops,
    p99NsPerOp: stats.p99 / ops,
  };
}

/** Prints one row to stderr as it finishes (stdout stays free for the caller). */
export function report(row: BenchResult): void {
  const what = `${row.suite} ${row.peer}${Object.entries(row.params).map(([k, v]) => ` ${k}=${v}`).join("")}`;
  if (row.skipped !== undefined) return void console.error(`${what.padEnd(44)} skipped: ${row.skipped}`);
  if (row.txPerSec !== undefined) {
    const acquire = Number.isNaN(row.acquireP99Ms) ? "(no pool: no acquire)" : `acquire p50 ${row.acquireP50Ms!.toFixed(3)} ms  p99 ${row.acquireP99Ms!.toFixed(3)} ms`;
    const cpu = (row.clientCpuUsPerTx === undefined ? "" : `  client CPU ${row.clientCpuUsPerTx.toFixed(1)} µs/tx`) +
      (row.serverCpuUsPerTx === undefined ? "" : `  server CPU ${row.serverCpuUsPerTx.toFixed(1)} µs/tx`);
    console.error(`${what.padEnd(44)} ${row.txPerSec.toFixed(0).padStart(8)} tx/s   ${acquire}${cpu}`);
    return;
  }
  console.error(`${what.padEnd(44)} ${row.nsPerOp.toFixed(1).padStart(9)} ns/op  (p50 ${row.p50NsPerOp.toFixed(1)}, p99 ${row.p99NsPerOp.toFixed(1)}, ${row.samples} samples)`);
}

/** The runtime this process runs on. */
export function runtimeInfo(): { name: "node" | "deno" | "bun"; version: string } {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Bun !== undefined) return { name: "bun", version: g.Bun.version };
  if (g.Deno !== undefined) return { name: "deno", version: g.Deno.version.deno };
  return { name: "node", version: process.versions.node };
}

/** What a benchmark process writes to `--json FILE`. */
export interface BenchOutput {
  runtime: ReturnType<typeof runtimeInfo>;
  rows: BenchResult[];
}

/** Writes the rows to `--json FILE` when given. */
export function writeResults(args: BenchArgs, rows: BenchResult[]): void {
  const output: BenchOutput = { runtime: runtimeInfo(), rows };
  if (args.json !== undefined) writeFileSync(args.json, JSON.stringify(output, null, 2) + "\n");
}
