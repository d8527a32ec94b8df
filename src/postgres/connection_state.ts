/**
 * What the layer knows about each pooled postgres.js instance, kept beside it (a WeakMap, so the
 * `Sql` the pool hands out stays the plain driver object).
 *
 * @module
 */

import type postgres from "postgres";

/** One postgres.js `max: 1` instance: a pooled connection. */
export type Sql = postgres.Sql;

/** Per-connection facts, owned by the factory and updated by the adapter. */
export interface ConnectionState {
  /** Server process id of the session (`pg_backend_pid()`), 0 until connected. */
  pid: number;
  /**
   * The last lease ended with no transaction open, as the adapter proved by its own COMMIT or
   * ROLLBACK. `reset` then skips its ROLLBACK. One-shot: reset clears it.
   */
  clean: boolean;
  /** The session is gone or its state is unknown: `reset` throws and `validate` fails, so the pool discards it. */
  broken: boolean;
}

const states = new WeakMap<Sql, ConnectionState>();

/** A fresh state for a connection being opened. Factory only. */
export function newConnectionState(): ConnectionState {
  return { pid: 0, clean: false, broken: false };
}

/** Registers a new connection with its state. Factory only. */
export function trackConnection(sql: Sql, state: ConnectionState): void {
  states.set(sql, state);
}

/** The state of a connection made by `postgresFactory`, or `undefined` for any other `Sql`. */
export function connectionState(sql: Sql): ConnectionState | undefined {
  return states.get(sql);
}

/**
 * The server process id (`pg_backend_pid()`) of a pooled connection, read once when it was
 * opened. `undefined` for an `Sql` that `postgresFactory` did not create.
 *
 * @example
 * ```ts
 * import { backendPid } from "agentpool";
 * await pool.use((sql) => console.log(backendPid(sql)), { agentId: "a" });
 * ```
 */
export function backendPid(sql: Sql): number | undefined {
  return states.get(sql)?.pid;
}

/** Marks that the current lease ends with no open transaction (adapter only). */
export function markClean(sql: Sql): void {
  const state = states.get(sql);
  if (state !== undefined) state.clean = true;
}

/** Marks a connection as unusable: its next release discards it (adapter only). */
export function markBroken(sql: Sql): void {
  const state = states.get(sql);
  if (state !== undefined) state.broken = true;
}
