/**
 * End-to-end on a real PostgreSQL: 50 agents (one worker each) share 20 connections, each running
 * `begin; select 1; commit` back to back. A closed loop for a fixed time after a warm-up: reports
 * transactions per second, the acquire latency (request → connection held) p50 / p99, the client's
 * CPU per transaction and, when the server runs on this Linux machine, the server's CPU per
 * transaction for the peer's sessions (lib/server_cpu.ts).
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
 *   node --import tsx benchmarks/end_to_end.ts [--peer agentpool,minimal] [--quick] [--json out.json]
 * node_modules/.bin/deno run -A benchmarks/end_to_end.ts
 * node_modules/.bin/bun run benchmarks/end_to_end.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { type BenchResult, parseBenchArgs, report, select, writeResults } from "./lib/harness.ts";
import { openTxPeer, TX_PEERS, type TxPeer } from "./peers/pg_peers.ts";
import { findPgbench, runPgbench } from "./peers/pgbench.ts";
import { serverCpuProbe, withApplicationName } from "./lib/server_cpu.ts";
import { nearestRank } from "../src/core/percentile.ts";

const AGENTS = 50;
const CONNECTIONS = 20;
const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** Runs 50 workers for `ms`; returns completed transactions and the acquire latencies (ms). */
async function closedLoop(
  peer: TxPeer,
  agents: unknown[],
  ms: number,
): Promise<{ count: number; elapsedMs: number; acquireMs: number[]; cpuUs: number }> {
  const acquireMs: number[] = [];
  let count = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const until = start + ms;
  const worker = async (agent: unknown): Promise<void> => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await peer.tx(agent, () => void acquireMs.push(performance.now() - t0));
      count++;
    }
  };
  await Promise.all(agents.map(worker));
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { count, elapsedMs, acquireMs, cpuUs: cpu.user + cpu.system };
}

/** The machine's ceiling: pgbench on the same workload with as many connections (see peers/pgbench.ts). */
async function ceiling(base: Pick<BenchResult, "suite" | "peer" | "params">, url: string, runMs: number): Promise<BenchResult> {
  const empty = { ...base, config: "", opsPerIteration: 0, samples: 0, nsPerOp: NaN, p50NsPerOp: NaN, p99NsPerOp: NaN };
  const binary = findPgbench();
  if (binary === undefined) {
    const row = { ...empty, skipped: "pgbench is not installed (Debian: apt-get install postgresql-client or postgresql-contrib)" };
    report(row);
    return row;
  }
  const result = await runPgbench(binary, url, CONNECTIONS, Math.max(1, runMs / 1000));
  const row: BenchResult = {
    ...empty,
    config: result.config,
    opsPerIteration: result.transactions,
    nsPerOp: 1e9 / result.txPerSec,
    txPerSec: result.txPerSec,
    // pgbench has no acquire: its latency average is the whole transaction's.
    acquireP50Ms: NaN,
    acquireP99Ms: NaN,
  };
  report(row);
  return row;
}

async function run(): Promise<void> {
  const args = parseBenchArgs();
  const url = process.env.DATABASE_URL ?? DEFAULT_URL;
  const { warmupMs, runMs } = args.quick ? { warmupMs: 300, runMs: 800 } : { warmupMs: 700, runMs: 2500 };
  const rows: BenchResult[] = [];
  for (const name of select("peer", [...TX_PEERS, "pgbench"] as const, args.peers)) {
    const base = { suite: "e2e", peer: name, params: { agents: AGENTS, connections: CONNECTIONS } };
    if (name === "pgbench") {
      rows.push(await ceiling(base, url, runMs));
      continue;
    }
    // Each peer's sessions carry their own application_name, so the server's CPU for them can be read.
    const applicationName = `agentpool-bench-${name.replace(/[^a-z0-9]+/gi, "-")}-${process.pid}`;
    const opened = await openTxPeer(name, withApplicationName(url, applicationName), CONNECTIONS);
    if ("skipped" in opened) {
      const row = { ...base, config: "", opsPerIteration: 0, samples: 0, nsPerOp: NaN, p50NsPerOp: NaN, p99NsPerOp: NaN, skipped: opened.skipped };
      report(row);
      rows.push(row);
      continue;
    }
    const agents = Array.from({ length: AGENTS }, (_, i) => opened.agent(`agent-${i}`));
    await closedLoop(opened, agents, warmupMs);
    const server = serverCpuProbe(url, applicationName);
    await server.start();
    const { count, elapsedMs, acquireMs, cpuUs } = await closedLoop(opened, agents, runMs);
    const serverUs = await server.stop();
    await opened.close();
    acquireMs.sort((a, b) => a - b);
    const row: BenchResult = {
      ...base,
      config: opened.config,
      opsPerIteration: count,
      samples: acquireMs.length,
      nsPerOp: (elapsedMs * 1e6) / count,
      p50NsPerOp: NaN,
      p99NsPerOp: NaN,
      txPerSec: (count * 1000) / elapsedMs,
      acquireP50Ms: nearestRank(acquireMs, 0.5),
      acquireP99Ms: nearestRank(acquireMs, 0.99),
      clientCpuUsPerTx: cpuUs / count,
      ...(serverUs === undefined ? {} : { serverCpuUsPerTx: serverUs / count }),
    };
    report(row);
    rows.push(row);
  }
  writeResults(args, rows);
}

await run();
