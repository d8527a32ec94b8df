/**
 * The JSON the dashboard and `agentpool monitor` poll: everything one screen shows, in one request.
 *
 * @module
 */

import { trackerOf } from "../core/metrics_tracker.ts";
import type { AgentInfo, ConnectionInfo, PoolStats } from "../core/mod.ts";
import type { HealthReport } from "./health.ts";
import type { HistorySample } from "./history.ts";
import type { AdminPool } from "./pool_view.ts";

/** Wait times since start, per bucket: `counts[0]` waited 0, `counts[i]` ≤ `boundsMs[i - 1]`, last above the top bound. */
export interface WaitDistribution {
  readonly boundsMs: readonly number[];
  readonly counts: readonly number[];
}

/**
 * The body of `GET /snapshot`.
 *
 * @example
 * ```ts
 * import type { PoolSnapshot } from "agentpool/hono";
 * const snap = (await (await fetch("http://localhost:8787/pool/snapshot")).json()) as PoolSnapshot;
 * snap.agents[0]?.agentId;
 * ```
 */
export interface PoolSnapshot {
  readonly name: string;
  /** Epoch ms when it was taken. */
  readonly time: number;
  /** How often the dashboard polls, in ms. */
  readonly refreshMs: number;
  readonly health: HealthReport;
  readonly stats: PoolStats;
  /** Busiest agents first (held, then waiting), at most the router's `maxAgentRows`. */
  readonly agents: readonly AgentInfo[];
  /** All agents the pool has seen (`agents` may be cut). */
  readonly agentCount: number;
  readonly connections: readonly ConnectionInfo[];
  readonly history: readonly HistorySample[];
  /** null without a metrics tracker. */
  readonly wait: WaitDistribution | null;
}

/**
 * Orders agents as a top-like view does: most held, then most waiting, then by id.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * import { busiestFirst } from "agentpool/hono";
 * declare const pool: AsyncConnectionPool<unknown>;
 * const rows = pool.agents().sort(busiestFirst);
 * ```
 */
export function busiestFirst(a: AgentInfo, b: AgentInfo): number {
  return b.held - a.held || b.pending - a.pending || (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0);
}

/**
 * Per-bucket wait counts from the pool's tracker, or null without one.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * import { waitDistribution } from "./snapshot.ts";
 * declare const pool: AsyncConnectionPool<unknown>;
 * waitDistribution(pool)?.counts[0]; // acquires that did not wait at all
 * ```
 */
export function waitDistribution(pool: AdminPool): WaitDistribution | null {
  const tracker = trackerOf(pool);
  if (tracker === undefined) return null;
  const h = tracker.wait.snapshot();
  const counts = [h.zeroCount];
  let previous = h.zeroCount;
  for (const cumulative of h.cumulative) {
    counts.push(cumulative - previous);
    previous = cumulative;
  }
  counts.push(h.count - previous);
  return { boundsMs: h.boundsMs, counts };
}

/**
 * Builds one {@linkcode PoolSnapshot}.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * import { HealthWatcher } from "agentpool/hono";
 * import { buildSnapshot } from "./snapshot.ts";
 * declare const pool: AsyncConnectionPool<unknown>;
 * const watcher = new HealthWatcher(pool);
 * const snap = buildSnapshot(pool, { health: watcher.report(), history: [], refreshMs: 1000, maxAgentRows: 100, stats: pool.stats() });
 * ```
 */
export function buildSnapshot(
  pool: AdminPool,
  parts: { health: HealthReport; history: readonly HistorySample[]; refreshMs: number; maxAgentRows: number; stats: PoolStats },
): PoolSnapshot {
  const agents = pool.agents().sort(busiestFirst);
  return {
    name: pool.options.name,
    time: Date.now(),
    refreshMs: parts.refreshMs,
    health: parts.health,
    stats: parts.stats,
    agents: agents.slice(0, parts.maxAgentRows),
    agentCount: agents.length,
    connections: pool.connections(),
    history: parts.history,
    wait: waitDistribution(pool),
  };
}
