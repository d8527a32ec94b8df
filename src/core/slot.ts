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
  /** Which batch of connections this one belongs to; a fatal error retires older generations. */
  readonly generation: number;
  state: ConnectionState = "idle";
  /** Created above `maxConnections`; closed first when the pool shrinks back. */
  overflow: boolean;
  agent: AgentRecord | null = null;
  heldSince = 0;
  lastUsedAt: number;
  uses = 0;
  /** Index in the idle stack, -1 when not idle (lets the housekeeper remove it in O(1)). */
  idleIndex = -1;

  constructor(id: number, connection: T, createdAt: number, generation: number, overflow: boolean) {
    this.id = id;
    this.connection = connection;
    this.createdAt = createdAt;
    this.lastUsedAt = createdAt;
    this.generation = generation;
    this.overflow = overflow;
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
