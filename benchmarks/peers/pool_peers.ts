/**
 * The pools compared without a database: each factory hands out plain objects. Every peer is wrapped
 * in the same small interface so one loop drives them all. `scripts/bench.ts` runs each peer in its
 * own process, so the loop's call sites stay monomorphic (as in an application, which uses one pool).
 *
 * @module
 */

import process from "node:process";
import genericPool from "generic-pool";
import { Pool as TarnPool } from "tarn";
import { MinimalPool } from "./minimal_pool.ts";

/**
 * The agentpool under test: the repository's, or with `BENCH_AGENTPOOL=/path/to/core/mod.ts` a
 * patched copy of src/core (to measure a change before making it).
 */
const { AsyncConnectionPool } = (await import(
  process.env.BENCH_AGENTPOOL ?? new URL("../../mod.ts", import.meta.url).href
)) as typeof import("../../mod.ts");

/** The pools compared in the pool-only suites. */
export const POOL_PEERS = ["agentpool", "agentpool-coarse", "minimal", "generic-pool", "tarn"] as const;
export type PoolPeerName = typeof POOL_PEERS[number];

/** What a suite asks of a pool. */
export interface PoolConfig {
  connections: number;
  /** Acquire timeout in ms; `undefined` keeps each pool's default (agentpool 5 s, tarn 30 s, generic-pool none). */
  acquireTimeoutMs?: number;
  /** agentpool `maxWaiting` (its default is 1,000). */
  maxWaiting?: number;
}

/**
 * A pool under test. `agent(id)` turns an agent id into whatever the pool's acquire takes (prepared
 * once, outside the timed loop); pools without agents ignore it.
 */
export interface PeerPool {
  readonly name: PoolPeerName;
  /** Settings that differ from the pool's defaults, for the report. */
  readonly config: string;
  agent(agentId: string): unknown;
  acquire(agent: unknown): Promise<unknown>;
  release(lease: unknown): void;
  close(): Promise<void>;
}

let nextId = 0;
const makeConnection = (): { id: number } => ({ id: nextId++ });

/** Opens `name` with `config.connections` connections, all created before it returns. */
export async function openPoolPeer(name: PoolPeerName, config: PoolConfig): Promise<PeerPool> {
  const n = config.connections;
  const timeout = config.acquireTimeoutMs;
  switch (name) {
    case "agentpool":
    case "agentpool-coarse": {
      // agentpool-coarse: the same pool with preciseTiming off (no clock read on borrow/return).
      const coarse = name === "agentpool-coarse";
      const pool = new AsyncConnectionPool({
        factory: { create: () => Promise.resolve(makeConnection()), destroy: () => {} },
        minConnections: n,
        maxConnections: n,
        overflow: 0,
        ...(coarse ? { preciseTiming: false } : {}),
        ...(timeout === undefined ? {} : { acquireTimeoutMs: timeout }),
        ...(config.maxWaiting === undefined ? {} : { maxWaiting: config.maxWaiting }),
      });
      while (pool.stats().idle < n) await new Promise((resolve) => setTimeout(resolve, 1));
      type Handle = Awaited<ReturnType<typeof pool.acquire>>;
      return {
        name,
        config: `${coarse ? "preciseTiming false, " : ""}acquireTimeoutMs ${pool.options.acquireTimeoutMs}, maxWaiting ${pool.options.maxWaiting}, agentId on every acquire`,
        agent: (agentId) => ({ agentId }),
        acquire: (agent) => pool.acquire(agent as { agentId: string }),
        release: (lease) => void (lease as Handle).release(),
        close: () => pool.close(),
      };
    }
    case "minimal": {
      const pool = new MinimalPool(Array.from({ length: n }, makeConnection));
      return {
        name,
        config: "no timeouts, no agents",
        agent: () => undefined,
        acquire: () => pool.acquire(),
        release: (lease) => pool.release(lease as { id: number }),
        close: () => Promise.resolve(),
      };
    }
    case "generic-pool": {
      const pool = genericPool.createPool(
        { create: () => Promise.resolve(makeConnection()), destroy: () => Promise.resolve() },
        { min: n, max: n, ...(timeout === undefined ? {} : { acquireTimeoutMillis: timeout }) },
      );
      await pool.ready();
      return {
        name,
        config: timeout === undefined ? "acquireTimeoutMillis none (default)" : `acquireTimeoutMillis ${timeout}`,
        agent: () => undefined,
        acquire: () => pool.acquire(),
        release: (lease) => void pool.release(lease as { id: number }),
        close: async () => {
          await pool.drain();
          await pool.clear();
        },
      };
    }
    case "tarn": {
      const pool = new TarnPool({
        create: () => Promise.resolve(makeConnection()),
        destroy: () => {},
        min: n,
        max: n,
        ...(timeout === undefined ? {} : { acquireTimeoutMillis: timeout }),
      });
      // tarn creates `min` lazily on first use: take and return them all once.
      const warm = await Promise.all(Array.from({ length: n }, () => pool.acquire().promise));
      for (const connection of warm) pool.release(connection);
      return {
        name,
        config: `acquireTimeoutMillis ${timeout ?? "30000 (default)"}`,
        agent: () => undefined,
        acquire: () => pool.acquire().promise,
        release: (lease) => void pool.release(lease as { id: number }),
        close: async () => void (await pool.destroy()),
      };
    }
  }
}
