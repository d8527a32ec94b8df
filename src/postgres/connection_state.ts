/**
 * What the layer knows about each pooled postgres.js instance, kept beside it (a WeakMap, so the
 * `Sql` the pool hands out stays the plain driver object).
 *
 * @module
 */

import type postgres from "postgres";
import { SessionTracker } from "../session/tracker.ts";

/**
 * One postgres.js `max: 1` instance: a pooled connection.
 *
 * @example
 * ```ts
 * import type { Sql } from "agentpool";
 * const run = (sql: Sql) => sql`select 1`;
 * ```
 */
export type Sql = postgres.Sql;

/**
 * Per-connection facts, owned by the factory and updated by the adapter.
 *
 * @example
 * ```ts
 * const state: ConnectionState = newConnectionState();
 * if (state.session.transactionOpen) console.log("a transaction may be open");
 * ```
 */
export interface ConnectionState {
  /** Server process id of the session (`pg_backend_pid()`), 0 until connected. */
  pid: number;
  /**
   * The process id postgres.js got in BackendKeyData when the session opened. postgres.js
   * silently reconnects a closed instance on its next query; a result whose `state.pid` differs
   * from this ran on a new session (outside any transaction the old one had open).
   */
  keyPid: number;
  /** What the current lease may leave in the session (see src/session/tracker.ts). */
  readonly session: SessionTracker;
  /** Queries the current lease issued (the running one is cancelled by `factory.cancel`). */
  readonly lease: postgres.PendingQuery<postgres.Row[]>[];
  /** Cancels in flight: a reset sent meanwhile is awaited, so a failed one retires the session. */
  cancelling: number;
  /** Reset strings sent and not yet answered (their 25P01 "no transaction" warning is ours). */
  resetting: number;
  /** The lease read `sql.options` (Drizzle rewrites its parsers): `reset` compares them. */
  optionsTouched: boolean;
  /** The lease used something that outlives it on the instance (`sql.listen`, `sql.subscribe`). */
  retire: string | null;
  /**
   * The session is gone (its socket closed): the pool discards it and re-checks older ones, and
   * the pooled `Sql` refuses every further statement (postgres.js would open a new session).
   */
  broken: boolean;
  /**
   * The session is alive but in a state nobody can vouch for (a transaction was aborted mid-way,
   * a ROLLBACK failed): `reset` throws, so the pool closes it, without suspecting the others.
   */
  discard: boolean;
}

const states = new WeakMap<Sql, ConnectionState>();

/**
 * A fresh state for a connection being opened. Factory only.
 *
 * @example
 * ```ts
 * const state = newConnectionState(); // { pid: 0, broken: false, ... }
 * ```
 */
export function newConnectionState(): ConnectionState {
  return {
    pid: 0,
    keyPid: 0,
    session: new SessionTracker(),
    lease: [],
    cancelling: 0,
    resetting: 0,
    optionsTouched: false,
    retire: null,
    broken: false,
    discard: false,
  };
}

/**
 * Registers a new connection with its state. Factory only.
 *
 * @example
 * ```ts
 * import type { Sql } from "agentpool";
 * declare const sql: Sql;
 * const state = newConnectionState();
 * trackConnection(sql, state);
 * ```
 */
export function trackConnection(sql: Sql, state: ConnectionState): void {
  states.set(sql, state);
}

/**
 * The state of a connection made by `postgresFactory`, or `undefined` for any other `Sql`.
 *
 * @example
 * ```ts
 * import type { Sql } from "agentpool";
 * declare const sql: Sql;
 * const state = connectionState(sql);
 * if (state?.broken) console.log("session gone");
 * ```
 */
export function connectionState(sql: Sql): ConnectionState | undefined {
  return states.get(sql);
}

/**
 * The server process id (`pg_backend_pid()`) of a pooled connection, read once when it was
 * opened. `undefined` for an `Sql` that `postgresFactory` did not create.
 *
 * @example
 * ```ts
 * import { backendPid, createPostgresPool } from "agentpool";
 * const pool = createPostgresPool("postgres://postgres@127.0.0.1:5432/postgres");
 * await pool.use((sql) => console.log(backendPid(sql)), { agentId: "a" });
 * ```
 */
export function backendPid(sql: Sql): number | undefined {
  return states.get(sql)?.pid;
}

const UNTRACKED: ConnectionState = Object.freeze({ ...newConnectionState(), lease: Object.freeze([]) }) as unknown as ConnectionState;

/**
 * The state of a connection, or a frozen stand-in for an `Sql` the factory did not create (writes
 * to the stand-in are ignored in sloppy mode and throw in strict mode, so use the functions below).
 *
 * @example
 * ```ts
 * import type { PooledConnection, Sql } from "agentpool";
 * declare const handle: PooledConnection<Sql>;
 * if (stateOf(handle.connection).broken) await handle.release();
 * ```
 */
export function stateOf(sql: Sql): ConnectionState {
  return states.get(sql) ?? UNTRACKED;
}

/**
 * True for an error that says the socket is gone (postgres.js `CONNECTION_*`, `CONNECT_TIMEOUT`,
 * a Node/Deno/Bun system error such as `EPIPE` or `ECONNRESET`), as opposed to a server error.
 *
 * @example
 * ```ts
 * isSocketError(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })); // true
 * ```
 */
export function isSocketError(error: unknown): boolean {
  if (!(error instanceof Error) || error.name === "PostgresError") return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("CONNECTION_") || code === "CONNECT_TIMEOUT" || /^E[A-Z]+$/.test(code));
}

/**
 * Marks a connection whose socket failed: its next release discards it (adapter only).
 *
 * @example
 * ```ts
 * import type { Sql } from "agentpool";
 * declare const sql: Sql;
 * markBroken(stateOf(sql)); // released later: closed, older connections re-checked
 * ```
 */
export function markBroken(state: ConnectionState): void {
  if (state !== UNTRACKED) state.broken = true;
}

/**
 * Marks a connection to be closed on release: its session state is unknown (adapter only).
 *
 * @example
 * ```ts
 * import type { Sql } from "agentpool";
 * declare const sql: Sql;
 * markDiscard(stateOf(sql)); // released later: closed quietly
 * ```
 */
export function markDiscard(state: ConnectionState): void {
  if (state !== UNTRACKED) state.discard = true;
}
