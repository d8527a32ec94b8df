/**
 * What a global budget costs (issue 15).
 *
 * - `acquire`: uncontended acquire + release on a pool with a stub factory (no database), in one
 *   process and one run: no budget; the budget's `guardFactory` only; and the full budget (guard,
 *   per-agent quotas set by a GlobalBudget that renews at the default tick, 1000 ms, against an
 *   in-memory table; `BENCH_TICK_MS=10` renews a hundred times as often). The budget never runs
 *   on the borrow path: the guard's clock read is the only addition.
 * - `control`: one GlobalBudget renewing against a real PostgreSQL (`DATABASE_URL`) through a
 *   byte-counting TCP forwarder for a few seconds at the default tick (1000 ms) and at 200 ms:
 *   renewal transactions, bytes each way and their latency per process per second.
 *
 * ```sh
 * node --expose-gc --import tsx benchmarks/budget.ts [--suite acquire|control] [--quick] [--json out.json]
 * ```
 *
 * @module
 */

import { createServer, type Server, type Socket, connect } from "node:net";
import process from "node:process";
import { setImmediate } from "node:timers";
import { GlobalBudget, type QuotaTarget } from "../src/budget/budget.ts";
import { guardFactory } from "../src/budget/guard.ts";
import type { BudgetStore, CommittedLeases, RenewRequest } from "../src/budget/store.ts";
import type { ConnectionFactory } from "../src/core/factory.ts";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import { PostgresBudgetStore } from "../src/postgres/budget_store.ts";
import { writeFileSync } from "node:fs";
import { type BenchResult, measureOps, parseBenchArgs, report, runtimeInfo, select } from "./lib/harness.ts";

const SUITES = ["acquire", "control"] as const;
const OPS = 2000;
/** The budget's tick in the `acquire` suite: the default (1000 ms), or BENCH_TICK_MS to stress it. */
const TICK_MS = Number(process.env.BENCH_TICK_MS ?? 1000);

/** A lease table in memory: one holder, no contention. */
function memoryStore(): BudgetStore {
  return {
    renew: (request: RenewRequest): Promise<CommittedLeases> => {
      const state = { rows: [], databaseNowMs: Date.now() };
      request.decide(state);
      return Promise.resolve(state);
    },
    release: () => Promise.resolve(),
  };
}

const stubFactory = (): ConnectionFactory<{ id: number }> => {
  let next = 0;
  return { create: () => Promise.resolve({ id: next++ }), destroy: () => {} };
};

async function acquireCase(variant: "none" | "guard" | "budget", quick: boolean): Promise<BenchResult> {
  const budget = new GlobalBudget({ name: "bench", holder: "bench", limits: { "planner-1": 8 }, store: memoryStore(), tickMs: TICK_MS, ttlMs: 100_000, safetyMarginMs: 300 });
  const factory = variant === "none" ? stubFactory() : guardFactory(budget, stubFactory());
  const pool = new AsyncConnectionPool({
    factory,
    minConnections: 10,
    maxConnections: 10,
    ...(variant === "budget" ? { agentQuotas: budget.agentQuotas } : {}),
  });
  while (pool.stats().idle < 10) await new Promise((resolve) => setTimeout(resolve, 1));
  if (variant === "budget") await budget.start(pool);
  const iteration = async (): Promise<void> => {
    for (let i = 0; i < OPS; i++) {
      const lease = await pool.acquire({ agentId: "planner-1" });
      await lease.release();
    }
    // One turn of the event loop per iteration (every variant alike), so the budget's timers run.
    await new Promise((resolve) => setImmediate(resolve));
  };
  const m = await measureOps(iteration, OPS, quick);
  const renewals = budget.snapshot().renewals;
  await budget.stop();
  await pool.close();
  return {
    suite: "acquire",
    peer: variant === "none" ? "agentpool" : variant === "guard" ? "agentpool+guard" : "agentpool+budget",
    params: { connections: 10, tickMs: TICK_MS, renewals },
    config: variant === "budget" ? "quota enforced by the pool (agentQuotas + setAgentQuota)" : "no budget quota",
    ...m,
  };
}

/** Forwards 127.0.0.1:<port> to the database and counts the bytes. */
async function countingForwarder(host: string, port: number): Promise<{ port: number; up: () => number; down: () => number; close: () => Promise<void> }> {
  let up = 0;
  let down = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    client.on("data", (chunk) => void (up += chunk.length, upstream.write(chunk)));
    upstream.on("data", (chunk) => void (down += chunk.length, client.write(chunk)));
    const end = (): void => void (client.destroy(), upstream.destroy());
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : 0,
    up: () => up,
    down: () => down,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Control traffic of one process. */
interface ControlResult {
  suite: "control";
  params: { tickMs: number; agents: number; seconds: number };
  renewalsPerSec: number;
  bytesUpPerSec: number;
  bytesDownPerSec: number;
  lastRenewMs: number;
  maxRenewMs: number;
}

async function controlCase(tickMs: number, quick: boolean): Promise<ControlResult | undefined> {
  const url = process.env.DATABASE_URL;
  if (url === undefined) {
    console.error("control: skipped, DATABASE_URL is not set");
    return undefined;
  }
  const target = new URL(url);
  const forwarder = await countingForwarder(target.hostname, Number(target.port || 5432));
  const via = new URL(url);
  via.hostname = "127.0.0.1";
  via.port = String(forwarder.port);
  const schema = `bench_budget_${process.pid}`;
  const store = new PostgresBudgetStore(via.toString(), { schema });
  await store.migrate();
  const pool: QuotaTarget = { setAgentQuota() {}, agents: () => [{ agentId: "hot", held: 1, pending: 2 }, { agentId: "other", held: 1, pending: 0 }] };
  const budget = new GlobalBudget({ name: "bench", holder: `bench-${process.pid}`, limits: { hot: 3, other: 2 }, store, tickMs, ttlMs: Math.max(5000, tickMs * 5), safetyMarginMs: Math.max(2000, tickMs * 2) });
  await budget.start(pool);
  const [up0, down0] = [forwarder.up(), forwarder.down()];
  const started = performance.now();
  const seconds = quick ? 2 : 6;
  const renewals0 = budget.snapshot().renewals;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const s = budget.snapshot();
  const renewals = s.renewals - renewals0;
  const row: ControlResult = {
    suite: "control",
    params: { tickMs, agents: 2, seconds: Math.round(elapsed) },
    renewalsPerSec: renewals / elapsed,
    bytesUpPerSec: Math.round((forwarder.up() - up0) / elapsed),
    bytesDownPerSec: Math.round((forwarder.down() - down0) / elapsed),
    lastRenewMs: s.lastRenewMs,
    maxRenewMs: s.maxRenewMs,
  };
  console.error(`control tick=${tickMs}ms: ${row.renewalsPerSec.toFixed(2)} renewals/s, ${row.bytesUpPerSec} B/s up, ${row.bytesDownPerSec} B/s down, renewal ${s.lastRenewMs.toFixed(1)} ms (max ${s.maxRenewMs.toFixed(1)})`);
  await budget.stop();
  await forwarder.close();
  const { default: postgres } = await import("postgres");
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop schema if exists ${schema} cascade`);
  await admin.end();
  return row;
}

const args = parseBenchArgs();
const rows: BenchResult[] = [];
const control: ControlResult[] = [];
for (const suite of select("suite", SUITES, args.suites)) {
  if (suite === "acquire") {
    // Interleaved three times, so drift on a shared machine hits every variant alike.
    for (let round = 0; round < 3; round++) {
      for (const variant of ["none", "guard", "budget"] as const) {
        const row = await acquireCase(variant, args.quick);
        report(row);
        rows.push(row);
      }
    }
  } else {
    for (const tickMs of [1000, 200]) {
      const row = await controlCase(tickMs, args.quick);
      if (row !== undefined) control.push(row);
    }
  }
}
if (args.json !== undefined) {
  writeFileSync(args.json, JSON.stringify({ runtime: runtimeInfo(), rows, control }, null, 2) + "\n");
}
