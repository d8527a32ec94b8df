/**
 * What the agent context (AsyncLocalStorage, src/context/) costs. No database: the factory hands
 * out plain objects, 10 connections, one caller, agentId on every call. Cases:
 *
 * - `use`: `pool.use(fn, { agentId })` with the context (the default of "agentpool") and with
 *   `context: null`; the difference is the frame `use()` runs `fn` in (one ALS `run`, one frame).
 * - `acquire`: `acquire({ agentId })` + `release()` with and without the context: the plain path
 *   reads no context when the agentId is given, so the two must match.
 * - `withAgent`: `withAgent(id, () => pool.use(fn))` without an agentId: attribution by context.
 *
 * Run each peer in its own process (`--peer context`, `--peer no-context`): on Node 20 the first
 * `AsyncLocalStorage.run` turns on promise hooks for the whole process, so a no-context case run
 * after a context case would pay for them too. That process-wide cost is part of what is measured.
 *
 * ```sh
 * node --expose-gc --import tsx benchmarks/context_cost.ts [--quick] [--json out.json]
 * node_modules/.bin/deno run -A --v8-flags=--expose-gc benchmarks/context_cost.ts
 * node_modules/.bin/bun run benchmarks/context_cost.ts
 * ```
 *
 * @module
 */

import { AsyncConnectionPool, withAgent } from "../mod.ts";
import { type BenchResult, measureOps, parseBenchArgs, report, select, writeResults } from "./lib/harness.ts";

const PEERS = ["context", "no-context"] as const;

const CONNECTIONS = 10;
const OPS = 2000;

let nextId = 0;

async function openPool(withContext: boolean): Promise<AsyncConnectionPool<{ id: number }>> {
  const pool = new AsyncConnectionPool({
    factory: { create: () => Promise.resolve({ id: nextId++ }), destroy: () => {} },
    minConnections: CONNECTIONS,
    maxConnections: CONNECTIONS,
    overflow: 0,
    ...(withContext ? {} : { context: null }),
  });
  while (pool.stats().idle < CONNECTIONS) await new Promise((resolve) => setTimeout(resolve, 1));
  return pool;
}

const work = (connection: { id: number }): number => connection.id;

async function run(quick: boolean, peers: string[]): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  const options = { agentId: "planner-1" };
  for (const peer of select("peer", PEERS, peers.length === 0 ? [...PEERS] : peers)) {
    const withContext = peer === "context";
    const config = withContext ? "AsyncLocalStorage context (default)" : "context: null";
    const pool = await openPool(withContext);
    const use = async (): Promise<void> => {
      for (let i = 0; i < OPS; i++) await pool.use(work, options);
    };
    const acquire = async (): Promise<void> => {
      for (let i = 0; i < OPS; i++) {
        const handle = await pool.acquire(options);
        void handle.release();
      }
    };
    for (const [suite, iteration] of [["use", use], ["acquire", acquire]] as const) {
      const row: BenchResult = { suite, peer, params: { connections: CONNECTIONS }, config, ...(await measureOps(iteration, OPS, quick)) };
      report(row);
      rows.push(row);
    }
    if (withContext) {
      const attributed = (): Promise<void> =>
        withAgent("planner-1", async () => {
          for (let i = 0; i < OPS; i++) await pool.use(work);
        });
      const row: BenchResult = {
        suite: "withAgent",
        peer,
        params: { connections: CONNECTIONS },
        config: `${config}; one withAgent around ${OPS} use() calls without agentId`,
        ...(await measureOps(attributed, OPS, quick)),
      };
      report(row);
      rows.push(row);
    }
    await pool.close();
  }
  return rows;
}

const args = parseBenchArgs();
writeResults(args, await run(args.quick, args.peers));
