/**
 * The contract between the pool and a database driver.
 *
 * @module
 */

/**
 * Opens, closes, checks and cleans one kind of connection. The pool never touches a connection
 * except through these four functions.
 *
 * @example A factory for an in-memory resource
 * ```ts
 * import type { ConnectionFactory } from "agentpool";
 * let next = 0;
 * const factory: ConnectionFactory<{ id: number }> = {
 *   create: async () => ({ id: next++ }),
 *   destroy: () => {},
 * };
 * ```
 */
export interface ConnectionFactory<T> {
  /** Opens one connection. Must give up (reject) when `signal` aborts. */
  create(signal: AbortSignal): Promise<T>;
  /** Closes a connection; errors are reported, never rethrown to callers. */
  destroy(connection: T): Promise<void> | void;
  /** Health check; `false` or a throw means the connection is discarded. */
  validate?(connection: T, signal: AbortSignal): Promise<boolean> | boolean;
  /** Cleans a returned connection (e.g. rolls back an open transaction); a throw discards it. */
  reset?(connection: T): Promise<void> | void;
  /**
   * Whether an error raised while using a connection means the connection (or the server) is gone:
   * SQLSTATE class 08, 57P01/57P02/57P03, a closed socket. A fatal error retires the connection
   * and puts every older connection under suspicion. Without it, no error counts as fatal.
   */
  isFatal?(error: unknown): boolean;
  /**
   * Whether a create failure means the server (or a pooler in front of it) is at a connection
   * limit, not gone: PostgreSQL's 53300 "too many clients", PgBouncer's `max_client_conn`. Such a
   * failure puts no connection under suspicion, and a wait that times out meanwhile fails with
   * `DATABASE_AT_CAPACITY` rather than `DATABASE_UNAVAILABLE`. Without it, every create failure
   * counts as the database being unavailable.
   */
  atCapacity?(error: unknown): boolean;
  /** A cheap synchronous check, on release, that the connection is known dead (its socket closed). */
  isBroken?(connection: T): boolean;
  /** Cancels whatever the connection is running (e.g. `pg_cancel_backend`), for reclaim and revoke. */
  cancel?(connection: T): Promise<void> | void;
}
