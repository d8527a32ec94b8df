/**
 * Pool-only benchmarks: no database, factories return plain objects, so only pool overhead is
 * measured. Four suites:
 *
 * - `uncontended`: one caller, `await acquire(); release()` in a loop, agentId on every acquire.
 * - `contended`: 50 agents share 20 connections; each of 50 workers does 20 acquire / microtask of
 *   work / release cycles per iteration.
 * - `waiters`: 10,000 acquires (10,000 distinct agents) queue on 10 connections, all with an acquire
 *   timeout (minimal: none).
 * - `agents`: uncontended cycles round-robin over 10, 100, 1,000 and 10,000 distinct agents
 *   (agentpool only; the cost must stay flat).
 *
 * ```sh
 * node --expose-gc --import tsx benchmarks/pool_only.ts [--suite uncontended] [--peer agentpool] [--quick] [--json out.json]
 * node_modules/.bin/deno run -A --v8-flags=--expose-gc benchmarks/pool_only.ts
 * node_modules/.bin/bun run benchmarks/pool_only.ts
 * ```
 * Several peers in one process share the loop's call sites (polymorphic); `npm run bench` runs each
 * peer in its own process.
 *
 * @module
 */

import { type BenchResult, measureOps, parseBenchArgs, report, select, writeResults } from "./lib/harness.ts";
import { openPoolPeer, type PeerPool, POOL_PEERS, type PoolPeerName } from "./peers/pool_peers.ts";

const POOL_SUITES = ["uncontended", "contended", "waiters", "agents"] as const;

/** Workload sizes (fixed by the brief; the report quotes them). */
const SIZES = {
  uncontended: { connections: 10, ops: 2000 },
  contended: { connections: 20, workers: 50, cycles: 20 },
  waiters: { connections: 10, waiters: 10_000, timeoutMs: 30_000 },
  agents: { connections: 10, ops: 2000, counts: [10, 100, 1_000, 10_000] },
} as const;

/** One acquire, a microtask of "work", one release. */
async function cycle(pool: PeerPool, agent: unknown): Promise<void> {
  const lease = await pool.acquire(agent);
  await undefined;
  pool.release(lease);
}

async function worker(pool: PeerPool, agent: unknown, cycles: number): Promise<void> {
  for (let i = 0; i < cycles; i++) await cycle(pool, agent);
}

const agentIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `agent-${i}`);

async function uncontended(name: PoolPeerName, quick: boolean): Promise<BenchResult> {
  const { connections, ops } = SIZES.uncontended;
  const pool = await openPoolPeer(name, { connections });
  const agent = pool.agent("planner-1");
  const iteration = async (): Promise<void> => {
    for (let i = 0; i < ops; i++) {
      const lease = await pool.acquire(agent);
      pool.release(lease);
    }
  };
  const m = await measureOps(iteration, ops, quick);
  await pool.close();
  return { suite: "uncontended", peer: name, params: { connections }, config: pool.config, ...m };
}

async function contended(name: PoolPeerName, quick: boolean): Promise<BenchResult> {
  const { connections, workers, cycles } = SIZES.contended;
  const pool = await openPoolPeer(name, { connections });
  const agents = agentIds(workers).map((id) => pool.agent(id));
  const running: Promise<void>[] = new Array(workers);
  const iteration = (): Promise<void[]> => {
    for (let w = 0; w < workers; w++) running[w] = worker(pool, agents[w], cycles);
    return Promise.all(running);
  };
  const m = await measureOps(iteration, workers * cycles, quick);
  await pool.close();
  return { suite: "contended", peer: name, params: { agents: workers, connections }, config: pool.config, ...m };
}

async function waiters(name: PoolPeerName, quick: boolean): Promise<BenchResult> {
  const { connections, waiters: n, timeoutMs } = SIZES.waiters;
  const pool = await openPoolPeer(name, {
    connections,
    acquireTimeoutMs: name === "minimal" ? undefined : timeoutMs,
    maxWaiting: 2 * n,
  });
  const agents = agentIds(n).map((id) => pool.agent(id));
  const pending: Promise<void>[] = new Array(n);
  const iteration = (): Promise<void[]> => {
    for (let i = 0; i < n; i++) pending[i] = cycle(pool, agents[i]);
    return Promise.all(pending);
  };
  const m = await measureOps(iteration, n, quick);
  await pool.close();
  return { suite: "waiters", peer: name, params: { waiters: n, connections }, config: pool.config, ...m };
}

async function manyAgents(name: PoolPeerName, quick: boolean): Promise<BenchResult[]> {
  const { connections, ops, counts } = SIZES.agents;
  const rows: BenchResult[] = [];
  for (const count of counts) {
    const pool = await openPoolPeer(name, { connections });
    const agents = agentIds(count).map((id) => pool.agent(id));
    let next = 0;
    const iteration = async (): Promise<void> => {
      for (let i = 0; i < ops; i++) {
        const lease = await pool.acquire(agents[next]);
        if (++next === count) next = 0;
        pool.release(lease);
      }
    };
    const m = await measureOps(iteration, ops, quick);
    await pool.close();
    rows.push({ suite: "agents", peer: name, params: { agents: count }, config: pool.config, ...m });
  }
  return rows;
}

/** Runs the selected suites and peers; returns the result rows. */
async function runPoolSuites(suites: string[], peers: string[], quick: boolean): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  const add = (row: BenchResult): void => {
    report(row);
    rows.push(row);
  };
  for (const suite of select("suite", POOL_SUITES, suites)) {
    // The agent-count sweep is about agentpool's per-agent records; the others ignore agent ids.
    const candidates = suite === "agents" ? (["agentpool"] as const) : POOL_PEERS;
    for (const peer of select("peer", POOL_PEERS, peers).filter((p) => candidates.includes(p as "agentpool"))) {
      if (suite === "uncontended") add(await uncontended(peer, quick));
      if (suite === "contended") add(await contended(peer, quick));
      if (suite === "waiters") add(await waiters(peer, quick));
      if (suite === "agents") for (const row of await manyAgents(peer, quick)) add(row);
    }
  }
  return rows;
}

const args = parseBenchArgs();
writeResults(args, await runPoolSuites(args.suites, args.peers, args.quick));
