/**
 * Read-only views of the pool for people and dashboards: `stats()`, `agents()`,
 * `connections()`, and the state summary that exhaustion errors carry. Built on demand, never on
 * the hot path.
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";
import type { ConnectionSet } from "./connections.ts";
import type { PoolCounters } from "./counters.ts";
import type { PoolHealth } from "./health.ts";
import type { LatencySummary } from "./metrics.ts";
import type { ConnectionInfo, Slot } from "./slot.ts";
import { formatDuration } from "./format.ts";

/**
 * Pool-wide counts and lifetime counters, as `pool.stats()` returns them. Every count is the size
 * of one collection of connections (or waiters); none is kept by hand. The invariants that hold
 * between them are written down in invariants.ts.
 */
export interface PoolStats {
  /** Open connections: idle + used + validating + resetting. */
  readonly total: number;
  readonly idle: number;
  readonly used: number;
  /** Being checked (for a borrower, a keepalive, or after a fatal error). */
  readonly validating: number;
  /** Being reset after a release (or waiting for a hold-policy cancel to settle). */
  readonly resetting: number;
  /** Acquires waiting. */
  readonly pending: number;
  /** Connections being opened, abandoned creates included (each may still open a session). */
  readonly creating: number;
  /** Connections being closed (they still count against the cap). */
  readonly closing: number;
  /** Open connections above `maxConnections`: `max(0, total - maxConnections)`. */
  readonly overflow: number;
  readonly minConnections: number;
  readonly maxConnections: number;
  /** Hard cap: `maxConnections + overflow` option. */
  readonly cap: number;
  /** Agents currently holding or waiting. */
  readonly activeAgents: number;
  /** Connections handed out, ever. */
  readonly acquired: number;
  /** Connections returned, ever. */
  readonly released: number;
  /** Acquires that failed at their deadline. */
  readonly timeouts: number;
  /** Acquires refused at once (queue full, nested acquire, revoked). */
  readonly rejected: number;
  /** Acquires abandoned through their AbortSignal. */
  readonly aborted: number;
  /** Connections opened, ever. */
  readonly created: number;
  /** Connections closed, ever. */
  readonly destroyed: number;
  /** Failed creates, ever. */
  readonly createErrors: number;
  /** Health checks run, and how many found the connection dead. */
  readonly validations: number;
  readonly validationFailures: number;
  /** Connections lost to a fatal error (server gone, socket closed). */
  readonly fatalErrors: number;
  /** Leases that passed `leakDetectionMs`. */
  readonly leaks: number;
  /** Connections taken back from agents (hold policy `reclaim`, `revoke()`). */
  readonly reclaimed: number;
  readonly health: PoolHealth;
  /** The leak report: current leases, longest first (at most 10). */
  readonly longestHolds: readonly HoldInfo[];
  readonly closed: boolean;
  /** Wait / use / create percentiles, when a metrics tracker is installed. */
  readonly latency?: LatencySummary;
}

/** One current lease in the leak report. */
export interface HoldInfo {
  readonly agentId: string;
  readonly connectionId: number;
  readonly heldMs: number;
  /** Past `leakDetectionMs`. */
  readonly leaked: boolean;
  /** The acquire stack, when `captureStacks` is on. */
  readonly stack?: string;
}

/** What {@linkcode statsView} reads. */
export interface StatsSources {
  readonly set: ConnectionSet<unknown>;
  readonly agents: Iterable<AgentRecord>;
  readonly pending: number;
  readonly creating: number;
  readonly options: { readonly minConnections: number; readonly maxConnections: number; readonly overflow: number; readonly leakDetectionMs: number };
  readonly counters: PoolCounters;
  readonly health: PoolHealth;
  readonly now: number;
  readonly closed: boolean;
  readonly latency: LatencySummary | undefined;
}

/**
 * Builds `pool.stats()`: every count derived from a collection.
 *
 * @example
 * ```ts
 * declare const sources: StatsSources; // the pool's collections, counters and options
 * statsView(sources).total; // open connections
 * ```
 */
export function statsView(s: StatsSources): PoolStats {
  let activeAgents = 0;
  for (const agent of s.agents) if (agent.held > 0 || agent.pending > 0) activeAgents++;
  const { set, options } = s;
  const total = set.open;
  return {
    total,
    idle: set.idle.length,
    used: set.used.length,
    validating: set.validating.length,
    resetting: set.resetting.length,
    pending: s.pending,
    creating: s.creating,
    closing: set.closing.length,
    overflow: Math.max(0, total - options.maxConnections),
    minConnections: options.minConnections,
    maxConnections: options.maxConnections,
    cap: options.maxConnections + options.overflow,
    activeAgents,
    ...s.counters,
    health: s.health,
    longestHolds: longestHolds(set.used, s.now, options.leakDetectionMs, 10),
    closed: s.closed,
    latency: s.latency,
  };
}

/**
 * Builds `pool.agents()`; `longestHeldMs` comes from the connections in use.
 *
 * @example
 * ```ts
 * import { AgentRegistry } from "./agents.ts";
 * import type { ConnectionSet } from "./connections.ts";
 * declare const set: ConnectionSet<unknown>; // the pool's connections
 * agentsView(new AgentRegistry().values(), set.used, 0); // [{ agentId, held, ... }]
 * ```
 */
export function agentsView(agents: Iterable<AgentRecord>, used: readonly Slot<unknown>[], now: number): AgentInfo[] {
  const longest = new Map<AgentRecord, number>();
  for (const slot of used) {
    if (slot.agent !== null) longest.set(slot.agent, Math.max(longest.get(slot.agent) ?? 0, now - slot.heldSince));
  }
  return [...agents].map((agent) => agentInfo(agent, longest.get(agent) ?? 0));
}

/**
 * Builds `pool.connections()`, by id; the newest beyond `maxConnections` are the overflow ones.
 *
 * @example
 * ```ts
 * import type { ConnectionSet } from "./connections.ts";
 * declare const set: ConnectionSet<unknown>; // the pool's connections
 * connectionsView(set, 20, performance.now(), Date.now() - performance.now()); // [{ id, state, ... }]
 * ```
 */
export function connectionsView(set: ConnectionSet<unknown>, maxConnections: number, now: number, epoch: number): ConnectionInfo[] {
  const slots = [...set.slots()].sort((a, b) => a.id - b.id);
  const firstOverflow = Math.max(maxConnections, 0);
  return slots.map((slot, i) => connectionInfo(slot, now, epoch, i >= firstOverflow));
}

/**
 * The current leases, longest first.
 *
 * @example
 * ```ts
 * import type { ConnectionSet } from "./connections.ts";
 * declare const set: ConnectionSet<unknown>; // the pool's connections
 * longestHolds(set.used, performance.now(), 60_000, 10); // [{ agentId, connectionId, heldMs, leaked }]
 * ```
 */
export function longestHolds(slots: Iterable<Slot<unknown>>, now: number, leakMs: number, limit: number): HoldInfo[] {
  const holds: HoldInfo[] = [];
  for (const slot of slots) {
    if (slot.agent === null) continue;
    const heldMs = now - slot.heldSince;
    holds.push({
      agentId: slot.agent.agentId,
      connectionId: slot.id,
      heldMs,
      leaked: leakMs > 0 && heldMs >= leakMs,
      ...(slot.stack === undefined ? {} : { stack: slot.stack }),
    });
  }
  return holds.sort((a, b) => b.heldMs - a.heldMs).slice(0, limit);
}

/** One agent as `pool.agents()` lists it. */
export interface AgentInfo {
  readonly agentId: string;
  readonly held: number;
  readonly pending: number;
  readonly acquired: number;
  readonly timeouts: number;
  readonly rejected: number;
  readonly aborted: number;
  readonly totalWaitMs: number;
  readonly totalHoldMs: number;
  readonly maxWaitMs: number;
  readonly maxHoldMs: number;
  readonly leaks: number;
  readonly reclaimed: number;
  readonly revoked: boolean;
  /** Connections it may hold at once (Infinity: no quota). */
  readonly quota: number;
  /** How long its longest current hold has lasted (0 when it holds nothing). */
  readonly longestHeldMs: number;
}

/**
 * Builds an {@linkcode AgentInfo}; `longestHeldMs` comes from the open connections.
 *
 * @example
 * ```ts
 * import { AgentRecord } from "./agents.ts";
 * agentInfo(new AgentRecord("planner-1", 3), 0).quota; // 3
 * ```
 */
export function agentInfo(agent: AgentRecord, longestHeldMs: number): AgentInfo {
  return {
    agentId: agent.agentId,
    held: agent.held,
    pending: agent.pending,
    acquired: agent.acquired,
    timeouts: agent.timeouts,
    rejected: agent.rejected,
    aborted: agent.aborted,
    totalWaitMs: agent.totalWaitMs,
    totalHoldMs: agent.totalHoldMs,
    maxWaitMs: agent.maxWaitMs,
    maxHoldMs: agent.maxHoldMs,
    leaks: agent.leaks,
    reclaimed: agent.reclaimed,
    revoked: agent.revoked,
    quota: agent.quota,
    longestHeldMs,
  };
}

/**
 * Builds a {@linkcode ConnectionInfo}; `epoch` converts the pool clock to epoch milliseconds.
 *
 * @example
 * ```ts
 * import { Slot } from "./slot.ts";
 * const slot = new Slot(1, {}, 0, 0, Infinity, Infinity);
 * connectionInfo(slot, 500, Date.now(), false).ageMs; // 500
 * ```
 */
export function connectionInfo(slot: Slot<unknown>, now: number, epoch: number, overflow: boolean): ConnectionInfo {
  const held = slot.agent !== null;
  return {
    id: slot.id,
    state: slot.place as ConnectionInfo["state"],
    agentId: slot.agent?.agentId ?? null,
    overflow,
    createdAt: Math.round(epoch + slot.createdAt),
    ageMs: now - slot.createdAt,
    uses: slot.uses,
    heldSince: held ? Math.round(epoch + slot.heldSince) : null,
    heldMs: held ? now - slot.heldSince : 0,
    idleMs: slot.place === "idle" ? now - slot.lastUsedAt : 0,
  };
}

/** One agent's holdings, for the "who holds the connections?" line of an error. */
export interface Holder {
  readonly agentId: string;
  readonly held: number;
  readonly longestHeldMs: number;
}

/**
 * The agents holding the most connections (ties: longest hold first).
 *
 * @example
 * ```ts
 * import type { ConnectionSet } from "./connections.ts";
 * declare const set: ConnectionSet<unknown>; // the pool's connections
 * topHolders(set.used, performance.now(), 3); // [{ agentId: "a", held: 5, longestHeldMs: 2100 }, ...]
 * ```
 */
export function topHolders(slots: Iterable<Slot<unknown>>, now: number, limit: number): Holder[] {
  const byAgent = new Map<string, { held: number; longestHeldMs: number }>();
  for (const slot of slots) {
    if (slot.agent === null) continue;
    const entry = byAgent.get(slot.agent.agentId) ?? { held: 0, longestHeldMs: 0 };
    entry.held++;
    entry.longestHeldMs = Math.max(entry.longestHeldMs, now - slot.heldSince);
    byAgent.set(slot.agent.agentId, entry);
  }
  return [...byAgent]
    .map(([agentId, e]) => ({ agentId, ...e }))
    .sort((a, b) => b.held - a.held || b.longestHeldMs - a.longestHeldMs)
    .slice(0, limit);
}

/** The counts an error message states: cheap to gather, whatever the number of agents. */
export type StateCounts = Pick<PoolStats, "total" | "cap" | "maxConnections" | "used" | "idle" | "pending" | "creating">;

/**
 * The counts an error message states, read straight from the collections.
 *
 * @example
 * ```ts
 * import type { ConnectionSet } from "./connections.ts";
 * declare const set: ConnectionSet<unknown>; // the pool's connections
 * stateCounts(set, 30, 20, 0, 0); // { total, cap: 30, maxConnections: 20, used, idle, pending: 0, creating: 0 }
 * ```
 */
export function stateCounts(set: ConnectionSet<unknown>, cap: number, maxConnections: number, pending: number, creating: number): StateCounts {
  return { total: set.open, cap, maxConnections, used: set.usedCount, idle: set.idle.length, pending, creating };
}

/**
 * "total 30/30 (cap), used 30, idle 0, pending 12, creating 0; top holders: a ×5 (longest 2.1 s)"
 *
 * @example
 * ```ts
 * const counts = { total: 30, cap: 30, maxConnections: 20, used: 30, idle: 0, pending: 12, creating: 0 };
 * describeState(counts, [{ agentId: "a", held: 5, longestHeldMs: 2100 }]);
 * // "total 30/30 (max 20 + overflow 10), used 30, idle 0, pending 12, creating 0; top holders: 'a' ×5 (longest 2.1 s)"
 * ```
 */
export function describeState(stats: StateCounts, holders: Holder[]): string {
  const counts = `total ${stats.total}/${stats.cap} (max ${stats.maxConnections} + overflow ${
    stats.cap - stats.maxConnections
  }), used ${stats.used}, idle ${stats.idle}, pending ${stats.pending}, creating ${stats.creating}`;
  if (holders.length === 0) return `${counts}; no agent holds a connection`;
  const list = holders.map((h) => `'${h.agentId}' ×${h.held} (longest ${formatDuration(h.longestHeldMs)})`).join(", ");
  return `${counts}; top holders: ${list}`;
}

