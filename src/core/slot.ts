/**
 * The pool's record of one connection it opened.
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";

/** Where an open connection is in its life, as `pool.connections()` reports it. */
export type ConnectionState = "idle" | "used" | "resetting" | "validating";

/** The collection a connection is in: its state. `closing` ones are no longer open. */
export type Place = ConnectionState | "closing";

/**
 * One connection and its bookkeeping. Internal: users see {@linkcode ConnectionInfo}.
 *
 * @example
 * ```ts
 * const now = 0;
 * const slot = new Slot(1, { pid: 4242 }, now, 0, now + 1_800_000, now + 120_000);
 * slot.connection.pid; // 4242
 * ```
 */
export class Slot<T> {
  readonly id: number;
  readonly connection: T;
  readonly createdAt: number;
  /** Which batch this connection belongs to: older generations are retired (the server went away). */
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
  /** The collection it is in (null before it joins one and after it closed). Changed only by `ConnectionSet` (move, lend, shelve). */
  place: Place | null = null;
  /** Its index in that collection (O(1) removal); not kept while used (used ones are in no list). */
  index = -1;
  /** Its index among the open connections (O(1) removal when it starts closing). */
  openIndex = -1;
  /** Its close finished: it is in no collection any more. */
  closed = false;
  agent: AgentRecord | null = null;
  heldSince = 0;
  lastUsedAt: number;
  /** Last time the connection was known good: created, returned, or validated. */
  checkedAt: number;
  uses = 0;
  /** The live handle of the current lease, so the pool can fence it on reclaim. */
  lease: unknown = undefined;
  /** A `factory.cancel` in flight: the connection goes to no other lease before it settles. */
  cancelling: Promise<void> | undefined = undefined;
  /** The current lease has run a call tree (`withLease` / `use`): acquires may be its children. */
  scoped = false;

  constructor(id: number, connection: T, createdAt: number, generation: number, expiresAt: number, keepaliveAt: number) {
    this.id = id;
    this.connection = connection;
    this.createdAt = createdAt;
    this.lastUsedAt = createdAt;
    this.checkedAt = createdAt;
    this.generation = generation;
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
  /** True for the newest connections beyond `maxConnections` (the first to go when the pool shrinks). */
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
