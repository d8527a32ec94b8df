/**
 * The pool's record of one open connection.
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";

/** Where a connection is in its life. */
export type ConnectionState = "idle" | "used" | "resetting" | "validating";

/** One open connection and its bookkeeping. Internal: users see {@linkcode ConnectionInfo}. */
export class Slot<T> {
  readonly id: number;
  readonly connection: T;
  readonly createdAt: number;
  /** Which batch this connection belongs to: after a fatal error, older generations are suspect. */
  generation: number;
  /** Retire at or after this time (jittered max lifetime). */
  expiresAt: number;
  /** Validate when idle at or after this time (jittered keepalive). */
  keepaliveAt: number;
  /** The current lease already fired its leak / hold-policy event. */
  leakReported = false;
  holdReported = false;
  /** Acquire stack of the current lease, when `captureStacks` is on. */
  stack: string | undefined = undefined;
  state: ConnectionState = "idle";
  /** Created above `maxConnections`; closed first when the pool shrinks back. */
  overflow: boolean;
  agent: AgentRecord | null = null;
  heldSince = 0;
  lastUsedAt: number;
  /** Last time the connection was known good: created, returned, or validated. */
  checkedAt: number;
  uses = 0;
  /** The live handle of the current lease, so the pool can fence it on reclaim. */
  lease: unknown = undefined;
  /** Index in the idle stack, -1 when not idle (lets the housekeeper remove it in O(1)). */
  idleIndex = -1;

  constructor(
    id: number,
    connection: T,
    createdAt: number,
    generation: number,
    overflow: boolean,
    expiresAt: number,
    keepaliveAt: number,
  ) {
    this.id = id;
    this.connection = connection;
    this.createdAt = createdAt;
    this.lastUsedAt = createdAt;
    this.checkedAt = createdAt;
    this.generation = generation;
    this.overflow = overflow;
    this.expiresAt = expiresAt;
    this.keepaliveAt = keepaliveAt;
  }
}

/**
 * A public snapshot of one connection, as `pool.connections()` lists it. Times are epoch
 * milliseconds; durations are milliseconds.
 */
export interface ConnectionInfo {
  /** Pool-unique id, also on the handle (`handle.id`). */
  readonly id: number;
  readonly state: ConnectionState;
  /** The holding agent, or null when not held. */
  readonly agentId: string | null;
  /** True when the connection is one of the `overflow` extras above `maxConnections`. */
  readonly overflow: boolean;
  readonly createdAt: number;
  readonly ageMs: number;
  /** Times handed out. */
  readonly uses: number;
  /** When the current holder got it, or null. */
  readonly heldSince: number | null;
  /** How long the current holder has had it (0 when not held). */
  readonly heldMs: number;
  /** How long it has been idle (0 when not idle). */
  readonly idleMs: number;
}
