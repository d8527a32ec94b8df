/**
 * `npm run bench`: runs the benchmarks on Node, Deno and Bun, one fresh process per peer and round,
 * writes `benchmarks/results/<date>-<runtime>.json` and the summary `benchmarks/results/README.md`.
 *
 * ```sh
 * npm run bench                                   # everything, 3 rounds (~8 min)
 * npm run bench -- --quick                        # 1 short round (~1.5 min)
 * npm run bench -- --runtime node --suite pool    # pool-only suites on Node
 * npm run bench -- --suite e2e --peer agentpool,minimal --rounds 5
 * ```
 *
 * The end-to-end suite uses DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres, else
 * an embedded PostgreSQL (src/cli/embedded_postgres.ts) started for the run.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import process from "node:process";
import postgres from "postgres";
import type { BenchOutput, BenchResult } from "../benchmarks/lib/harness.ts";
import { flagOption, integer, listOption, oneOf, parseCommandLine, UsageError, valueOption } from "../src/cli/args.ts";
import { startEmbeddedPostgres } from "../src/cli/embedded_postgres.ts";
import { TX_PEERS as E2E_PEERS } from "../benchmarks/peers/pg_peers.ts";
import { aggregate, evaluateTargets, type MachineInfo, markdownSummary, type RuntimeReport } from "../benchmarks/lib/report.ts";

const RUNTIMES = ["node", "deno", "bun"] as const;
type Runtime = typeof RUNTIMES[number];
const POOL_SUITES = ["uncontended", "contended", "waiters", "agents"];
const POOL_PEERS = ["agentpool", "agentpool-coarse", "minimal", "generic-pool", "tarn"];
// The end-to-end suite's own peer list (one place to add a peer), plus its ceiling row.
const TX_PEERS: string[] = [...E2E_PEERS, "pgbench"];
const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const RESULTS = "benchmarks/results";
const CHILD_TIMEOUT_MS = 5 * 60_000;

const USAGE = `Usage: npm run bench -- [options]

  --runtime, -r NAME   node, deno, bun (repeatable or comma-separated; default all three)
  --suite, -s NAME     pool (= uncontended,contended,waiters,agents), e2e, or single suites
  --peer, -p NAME      only these peers (pool: ${POOL_PEERS.join(", ")}; e2e: ${TX_PEERS.join(", ")})
  --rounds N           fresh-process rounds per peer; the median is reported (default 3, quick 1)
  --clock cpu|wall     pool-only timing: process CPU time (default; robust when other work shares
                       the machine) or wall-clock time. End to end always uses wall-clock time.
  --quick              short budgets and one round (< 2 min for everything)
  --report             run nothing: re-check the targets of the latest results and rewrite the summary
  --help, -h           this text`;

const METHOD = [
  "Method: pool-only suites use mitata's `measure()` on an async iteration of many acquire+release cycles",
  "(after a warm-up, one iteration per sample, GC between benchmarks) and divide by the cycles per iteration;",
  "each peer runs alone in its process so the benchmark's call sites stay monomorphic. Pool-only times are",
  "process CPU time (user + system, all threads; `--clock wall` for wall-clock time), so other processes",
  "competing for the 2 cores do not inflate them; the pool's own GC work is included. The end-to-end suite",
  "runs 50 workers in a closed loop for a fixed time after a warm-up and counts committed transactions;",
  "acquire latency is request → connection in hand (for `sql.begin()` / `adapter.transaction()`: → callback starts).",
  "The machine is a shared 2-core VM: compare peers within one runtime and one run; the load averages below",
  "show how busy it was.",
].join("\n");

interface Options {
  runtimes: Runtime[];
  poolSuites: string[];
  e2e: boolean;
  peers: string[];
  rounds: number;
  quick: boolean;
  clock: "cpu" | "wall";
  /** Only re-check the targets of the latest results files and rewrite the summary. */
  reportOnly: boolean;
}

function parse(argv: string[]): Options | null {
  const { values } = parseCommandLine("npm run bench --", argv, {
    runtime: listOption(oneOf(RUNTIMES), { short: "r" }),
    suite: listOption(oneOf(["pool", ...POOL_SUITES, "e2e"]), { short: "s" }),
    peer: listOption(oneOf([...new Set([...POOL_PEERS, ...TX_PEERS])]), { short: "p" }),
    rounds: valueOption(integer(1)),
    clock: valueOption(oneOf(["cpu", "wall"] as const)),
    quick: flagOption(),
    report: flagOption(),
    help: flagOption("h"),
  });
  if (values.help) return null;
  const runtimes = values.runtime ?? [];
  const suites = (values.suite ?? []).flatMap((s) => (s === "pool" ? POOL_SUITES : [s]));
  const quick = values.quick ?? false;
  return {
    reportOnly: values.report ?? false,
    clock: values.clock ?? "cpu",
    runtimes: RUNTIMES.filter((r) => runtimes.length === 0 || runtimes.includes(r)),
    poolSuites: POOL_SUITES.filter((s) => suites.length === 0 || suites.includes(s)),
    e2e: suites.length === 0 || suites.includes("e2e"),
    peers: values.peer ?? [],
    rounds: values.rounds ?? (quick ? 1 : 3),
    quick,
  };
}

function command(runtime: Runtime, file: string, args: string[]): [string, string[]] {
  switch (runtime) {
    case "node":
      return [process.execPath, ["--expose-gc", "--import", "tsx", file, ...args]];
    case "deno":
      return ["node_modules/.bin/deno", ["run", "-A", "--v8-flags=--expose-gc", file, ...args]];
    case "bun":
      return ["node_modules/.bin/bun", ["run", file, ...args]];
  }
}

/** Runs one benchmark process; its progress goes to our stderr, its rows come back through a file. */
function runChild(runtime: Runtime, file: string, args: string[], env: Record<string, string>): Promise<BenchOutput> {
  const dir = mkdtempSync(join(tmpdir(), "agentpool-bench-"));
  const out = join(dir, "out.json");
  const [exe, argv] = command(runtime, file, [...args, "--json", out]);
  return new Promise<BenchOutput>((resolve, reject) => {
    const child = spawn(exe, argv, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, RUST_BACKTRACE: "0", ...env } });
    const timer = setTimeout(() => child.kill("SIGTERM"), CHILD_TIMEOUT_MS);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`${runtime} ${file} ${args.join(" ")} exited with ${signal ?? code}`);
        resolve(JSON.parse(readFileSync(out, "utf8")) as BenchOutput);
      } catch (error) {
        reject(error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

function machine(): MachineInfo {
  const read = (path: string): string => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  const cpu = /^model name\s*:\s*(.+)$/m.exec(read("/proc/cpuinfo"))?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const os = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(read("/etc/os-release"))?.[1] ?? process.platform;
  // The clock source decides what a clock read costs (tsc: a few ns in the vDSO; others can be a
  // system call), and the pool reads the clock per acquire: a ratio can move with it between hosts.
  const clocksource = read("/sys/devices/system/clocksource/clocksource0/current_clocksource").trim();
  return { cpu, cores: cpus().length, memoryGiB: totalmem() / 2 ** 30, os, kernel: release(), ...(clocksource ? { clocksource } : {}) };
}

const mask = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");

/** A reachable database for the end-to-end suite, starting an embedded one if needed. */
async function database(): Promise<{ url: string; server: string; stop(): Promise<void> } | null> {
  const probe = async (url: string): Promise<string | null> => {
    const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      const [row] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
      return `PostgreSQL ${row.v}`;
    } catch {
      return null;
    } finally {
      await sql.end({ timeout: 1 });
    }
  };
  const url = process.env.DATABASE_URL ?? DEFAULT_URL;
  const server = await probe(url);
  if (server !== null) return { url, server, stop: async () => {} };
  if (process.env.DATABASE_URL !== undefined) {
    console.error(`DATABASE_URL ${mask(url)} is unreachable: end-to-end suite skipped`);
    return null;
  }
  try {
    const embedded = await startEmbeddedPostgres({ persistent: false, maxConnections: 200 });
    console.error(`${mask(url)} unreachable: started an embedded PostgreSQL`);
    return { url: embedded.url, server: (await probe(embedded.url)) ?? "embedded PostgreSQL", stop: () => embedded.remove() };
  } catch (error) {
    console.error(`No database (${mask(url)} unreachable, embedded PostgreSQL failed: ${String(error)}): end-to-end suite skipped`);
    return null;
  }
}

/** `rotate([a,b,c], 1)` = [b,c,a]: each round starts with a different peer. */
const rotate = <T>(items: T[], by: number): T[] => items.map((_, i) => items[(i + by) % items.length]);

async function runRuntime(runtime: Runtime, o: Options, db: Awaited<ReturnType<typeof database>>): Promise<RuntimeReport> {
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg();
  const rounds: BenchResult[][] = [];
  let version = "";
  const quick = o.quick ? ["--quick"] : [];
  const poolPeers = POOL_PEERS.filter((p) => o.peers.length === 0 || o.peers.includes(p));
  const txPeers = TX_PEERS.filter((p) => o.peers.length === 0 || o.peers.includes(p));
  for (let round = 0; round < o.rounds; round++) {
    console.error(`\n== ${runtime}: round ${round + 1} of ${o.rounds}`);
    const rows: BenchResult[] = [];
    if (o.poolSuites.length > 0) {
      for (const peer of rotate(poolPeers, round)) {
        // The agent-count sweep runs on agentpool only.
        const suites = o.poolSuites.filter((s) => s !== "agents" || peer === "agentpool");
        if (suites.length === 0) continue;
        const out = await runChild(runtime, "benchmarks/pool_only.ts", ["--peer", peer, "--suite", suites.join(","), ...quick], {
          BENCH_CLOCK: o.clock,
        });
        version = out.runtime.version;
        rows.push(...out.rows);
      }
    }
    if (o.e2e && db !== null) {
      for (const peer of rotate(txPeers, round)) {
        const out = await runChild(runtime, "benchmarks/end_to_end.ts", ["--peer", peer, ...quick], { DATABASE_URL: db.url });
        version = out.runtime.version;
        rows.push(...out.rows);
      }
    }
    rounds.push(rows);
  }
  const results = aggregate(rounds);
  return {
    schema: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    quick: o.quick,
    rounds: o.rounds,
    clock: o.clock,
    runtime: { name: runtime, version },
    machine: machine(),
    load: { before: loadBefore, after: loadavg() },
    database: db === null ? null : { url: mask(db.url), server: db.server },
    results,
    targets: evaluateTargets(results),
  };
}

/** The newest results file of each runtime (so a run of one runtime keeps the others in the summary). */
function latestReports(): RuntimeReport[] {
  const latest = new Map<string, RuntimeReport>();
  for (const file of readdirSync(RESULTS).filter((f) => f.endsWith(".json")).sort()) {
    const report = JSON.parse(readFileSync(join(RESULTS, file), "utf8")) as RuntimeReport;
    if (report.schema !== 1) continue;
    const seen = latest.get(report.runtime.name);
    if (seen === undefined || seen.startedAt < report.startedAt) latest.set(report.runtime.name, report);
  }
  return RUNTIMES.flatMap((r) => latest.get(r) ?? []);
}

/**
 * A run limited by --suite or --peer keeps the rows it did not measure from the runtime's previous
 * report, so the summary stays complete; `merged` says so.
 */
function mergePrevious(report: RuntimeReport, partial: boolean): RuntimeReport {
  const previous = partial ? latestReports().find((r) => r.runtime.name === report.runtime.name) : undefined;
  if (previous === undefined) return report;
  const key = (r: { suite: string; peer: string; params: Record<string, number> }): string => `${r.suite}|${r.peer}|${JSON.stringify(r.params)}`;
  const fresh = new Set(report.results.map(key));
  const kept = previous.results.filter((r) => !fresh.has(key(r))).map((r) => ({ ...r, keptFrom: r.keptFrom ?? previous.startedAt }));
  if (kept.length === 0) return report;
  const results = [...kept, ...report.results];
  return { ...report, results, targets: evaluateTargets(results), merged: `${kept.length} rows kept from the run of ${previous.startedAt}` };
}

async function main(): Promise<void> {
  let o: Options | null;
  try {
    o = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`npm run bench: ${error.message}`);
    process.exit(2);
  }
  if (o === null) return void console.log(USAGE);
  if (o.reportOnly) return writeSummary(latestReports().map((r) => ({ ...r, targets: evaluateTargets(r.results) })));
  const began = performance.now();
  const db = o.e2e ? await database() : null;
  const partial = o.peers.length > 0 || o.poolSuites.length < POOL_SUITES.length || !o.e2e;
  try {
    for (const runtime of o.runtimes) {
      const report = mergePrevious(await runRuntime(runtime, o, db), partial);
      const file = join(RESULTS, `${report.startedAt.slice(0, 10)}-${runtime}.json`);
      writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
      console.error(`\nwrote ${file}`);
      for (const t of report.targets) console.error(`  ${t.verdict.padEnd(4)} ${t.label}: ${t.why}`);
    }
  } finally {
    await db?.stop();
  }
  writeSummary(latestReports());
  console.error(`done in ${((performance.now() - began) / 1000).toFixed(0)} s`);
}

function writeSummary(reports: RuntimeReport[]): void {
  writeFileSync(join(RESULTS, "README.md"), markdownSummary(reports, METHOD));
  console.error(`wrote ${join(RESULTS, "README.md")}`);
}

await main();
