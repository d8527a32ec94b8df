/**
 * Errors raised by the pool. Every error carries a stable string `code` so callers can branch on
 * it without parsing messages (the postgres.js convention).
 *
 * @module
 */

/** Why an acquire failed without getting a connection. */
export type ExhaustedReason =
  /** The wait reached its deadline while the pool was at its cap. */
  | "timeout"
  /** The wait reached its deadline while the agent held its `maxPerAgent` quota. */
  | "agent_quota"
  /** `maxWaiting` acquires were already pending: failed at once. */
  | "queue_full"
  /** The agent already holds a connection and the pool is at its cap: waiting could deadlock. */
  | "nested_acquire"
  /** The agent was revoked: its waits are refused until it is re-admitted. */
  | "revoked"
  /** The wait reached its deadline while connections could not be opened: `cause` says why. */
  | "unavailable"
  /** The wait reached its deadline while the server refused new connections at its limit (`factory.atCapacity`). */
  | "at_capacity";

/**
 * Stable codes of {@linkcode ConnectionPoolExhaustedError}, one per {@linkcode ExhaustedReason}.
 *
 * @example
 * ```ts
 * import { ConnectionPoolExhaustedError } from "agentpool";
 * import { EXHAUSTED_CODES } from "./errors.ts";
 * declare const error: unknown;
 * if (error instanceof ConnectionPoolExhaustedError && error.code === EXHAUSTED_CODES.timeout) console.warn("pool busy");
 * ```
 */
export const EXHAUSTED_CODES: Readonly<Record<ExhaustedReason, string>> = Object.freeze({
  timeout: "ACQUIRE_TIMEOUT",
  agent_quota: "AGENT_QUOTA_TIMEOUT",
  queue_full: "QUEUE_FULL",
  nested_acquire: "NESTED_ACQUIRE_WOULD_DEADLOCK",
  revoked: "AGENT_REVOKED",
  unavailable: "DATABASE_UNAVAILABLE",
  at_capacity: "DATABASE_AT_CAPACITY",
});

/**
 * Base class of every error the pool raises on purpose.
 *
 * @example Branch on the code
 * ```ts
 * import { type PooledConnection, PoolError } from "agentpool";
 * declare const handle: PooledConnection<unknown>;
 * try {
 *   await handle.release();
 * } catch (error) {
 *   if (error instanceof PoolError && error.code === "DOUBLE_RELEASE") console.warn(error.message);
 * }
 * ```
 */
export class PoolError extends Error {
  /** A stable, machine-readable code such as `POOL_CLOSED` or `DOUBLE_RELEASE`. */
  readonly code: string;

  /** Creates an error with a stable `code`. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PoolError";
    this.code = code;
  }
}

/**
 * An acquire that could not get a connection: it timed out, the queue was full, the agent hit its
 * quota, or waiting would deadlock. `reason` says which; the message states the pool's counts and
 * the top holding agents; `cause` is the last connection failure when the database was unreachable.
 *
 * @example
 * ```ts
 * import { type AsyncConnectionPool, ConnectionPoolExhaustedError } from "agentpool";
 * declare const pool: AsyncConnectionPool<unknown>;
 * try {
 *   await pool.acquire({ agentId: "planner-1", timeoutMs: 100 });
 * } catch (error) {
 *   if (error instanceof ConnectionPoolExhaustedError) console.log(error.reason, error.message);
 * }
 * ```
 */
export class ConnectionPoolExhaustedError extends PoolError {
  /** Which limit was hit. */
  readonly reason: ExhaustedReason;
  /** The agent whose acquire failed. */
  readonly agentId: string;

  /** Creates the error; the code follows from `reason` ({@linkcode EXHAUSTED_CODES}). */
  constructor(reason: ExhaustedReason, agentId: string, message: string, options?: ErrorOptions) {
    super(EXHAUSTED_CODES[reason], message, options);
    this.name = "ConnectionPoolExhaustedError";
    this.reason = reason;
    this.agentId = agentId;
  }
}

/**
 * The pool is closed: raised by `acquire()` after `close()`, and by acquires pending at close.
 *
 * @example
 * ```ts
 * import { type AsyncConnectionPool, PoolClosedError } from "agentpool";
 * declare const pool: AsyncConnectionPool<unknown>;
 * await pool.close();
 * await pool.acquire({ agentId: "a" }).catch((e: unknown) => e instanceof PoolClosedError); // true
 * ```
 */
export class PoolClosedError extends PoolError {
  /** Creates the error with code `POOL_CLOSED`. */
  constructor(message = "The pool is closed: no more connections can be acquired") {
    super("POOL_CLOSED", message);
    this.name = "PoolClosedError";
  }
}
