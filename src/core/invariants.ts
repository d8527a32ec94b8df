/**
 * The invariants that hold between the numbers of `pool.stats()` after every step of the pool
 * (every synchronous turn: callbacks run only once a step is done). Tests check them after every
 * step of the model-based test; the stress tool's leak criterion is the lease balance below.
 *
 * 1. `total = idle + used + validating + resetting` (a connection is in exactly one collection).
 * 2. `total + creating + closing ≤ cap`: the cap counts everything that holds or may hold a server
 *    session — creates in flight (abandoned ones too) and connections still closing.
 * 3. `acquired = released + reclaimed + used` (the lease balance: a reclaimed lease is no leak).
 * 4. `created = destroyed + total + closing` (every connection adopted is open, closing or closed).
 * 5. `overflow = max(0, total − maxConnections)`.
 *
 * @module
 */

import type { PoolStats } from "./snapshots.ts";

/** The counts the invariants relate (a subset of {@linkcode PoolStats}). */
export type InvariantInputs = Pick<
  PoolStats,
  | "total"
  | "idle"
  | "used"
  | "validating"
  | "resetting"
  | "creating"
  | "closing"
  | "cap"
  | "maxConnections"
  | "overflow"
  | "acquired"
  | "released"
  | "reclaimed"
  | "created"
  | "destroyed"
>;

/**
 * Leases handed out and neither returned, reclaimed nor still held: 0 unless the pool lost one.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * import { unaccountedLeases } from "./invariants.ts";
 * declare const pool: AsyncConnectionPool<unknown>;
 * unaccountedLeases(pool.stats()); // 0
 * ```
 */
export function unaccountedLeases(stats: Pick<PoolStats, "acquired" | "released" | "reclaimed" | "used">): number {
  return stats.acquired - stats.released - stats.reclaimed - stats.used;
}

/**
 * Every invariant that `stats` breaks, as a sentence; empty when all hold.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * import { invariantViolations } from "./invariants.ts";
 * declare const pool: AsyncConnectionPool<unknown>;
 * const broken = invariantViolations(pool.stats());
 * if (broken.length > 0) console.error(broken);
 * ```
 */
export function invariantViolations(stats: InvariantInputs): string[] {
  const s = stats;
  const broken: string[] = [];
  const inPlaces = s.idle + s.used + s.validating + s.resetting;
  if (s.total !== inPlaces) {
    broken.push(`total ${s.total} ≠ idle ${s.idle} + used ${s.used} + validating ${s.validating} + resetting ${s.resetting}`);
  }
  if (s.total + s.creating + s.closing > s.cap) {
    broken.push(`total ${s.total} + creating ${s.creating} + closing ${s.closing} > cap ${s.cap}`);
  }
  if (unaccountedLeases(s) !== 0) {
    broken.push(`acquired ${s.acquired} ≠ released ${s.released} + reclaimed ${s.reclaimed} + used ${s.used}`);
  }
  if (s.created !== s.destroyed + s.total + s.closing) {
    broken.push(`created ${s.created} ≠ destroyed ${s.destroyed} + total ${s.total} + closing ${s.closing}`);
  }
  if (s.overflow !== Math.max(0, s.total - s.maxConnections)) {
    broken.push(`overflow ${s.overflow} ≠ max(0, total ${s.total} − maxConnections ${s.maxConnections})`);
  }
  return broken;
}
