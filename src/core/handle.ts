/**
 * The handle an acquire returns. One handle per lease: after release it is dead, so a stale
 * reference cannot touch a connection another agent now holds.
 *
 * @module
 */

import { PoolError } from "./errors.ts";

const RESOLVED: Promise<void> = Promise.resolve();

const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ??
  (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);

/** Returns a lease to its pool. Supplied by the pool; one function per pool, not per acquire. */
export type ReleaseLease = (handle: PooledConnection<unknown>, lease: unknown, error: unknown) => Promise<void>;

/**
 * A leased connection. Use `connection`, then `release()` it (or let `await using` do it).
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * declare const pool: AsyncConnectionPool<{ query(text: string): Promise<unknown[]> }>;
 * await using handle = await pool.acquire({ agentId: "planner-1" });
 * await handle.connection.query("select 1");
 * // released here, even on throw
 * ```
 */
export class PooledConnection<T> {
  /** The connection's pool-unique id (matches `pool.connections()`). */
  readonly id: number;
  /** The agent holding this lease. */
  readonly agentId: string;
  /** The pool's record of the connection (a slot): it holds the connection, so the handle need not. */
  #lease: { readonly connection: T };
  #owner: object;
  #release: ReleaseLease;
  #state: "held" | "released" | "revoked" = "held";

  /** Created by the pool only. */
  constructor(owner: object, release: ReleaseLease, lease: { readonly connection: T }, id: number, agentId: string) {
    this.#owner = owner;
    this.#release = release;
    this.#lease = lease;
    this.id = id;
    this.agentId = agentId;
  }

  /** The driver connection. Throws `USE_AFTER_RELEASE` (or `HANDLE_REVOKED`) once the lease ended. */
  get connection(): T {
    if (this.#state !== "held") throw this.#deadError();
    return this.#lease.connection;
  }

  /** True once the lease ended (released, or revoked by the pool). */
  get released(): boolean {
    return this.#state !== "held";
  }

  /**
   * Returns the connection to the pool. Resolves once the pool has taken it back (reset, handed
   * on, idled or closed); never rejects for the pool's own work. Pass the error that ended the work, if any: when the factory deems it
   * fatal (`isFatal`), or the connection is known broken (`isBroken`), it is closed instead of
   * reused, in the background (the promise resolves at once). Rejects with `DOUBLE_RELEASE` when
   * the lease already ended; never throws.
   */
  release(error?: unknown): Promise<void> {
    if (this.#state === "released") {
      return Promise.reject(
        new PoolError("DOUBLE_RELEASE", `Connection ${this.id} was already released by agent '${this.agentId}'`),
      );
    }
    if (this.#state === "revoked") return RESOLVED;
    this.#state = "released";
    return this.#release(this as PooledConnection<unknown>, this.#lease, error);
  }

  /** Releases unless already released, so `await using` never throws on scope exit. */
  [asyncDispose](): Promise<void> {
    return this.#state === "held" ? this.release() : RESOLVED;
  }

  /** The pool that issued `handle`; undefined for an object that only pretends to be a handle. */
  static ownerOf(handle: PooledConnection<unknown>): object | undefined {
    return #owner in handle ? handle.#owner : undefined;
  }

  /** The pool's record behind a live `handle` of `owner`, else undefined (released, foreign, fake). */
  static leaseOf(handle: object, owner: object): unknown {
    return #owner in handle && handle.#owner === owner && handle.#state === "held" ? handle.#lease : undefined;
  }

  /** Ends the lease from the pool's side (reclaim / revoke): every later use throws. */
  static revoke(handle: PooledConnection<unknown>): void {
    if (handle.#state === "held") handle.#state = "revoked";
  }

  #deadError(): PoolError {
    return this.#state === "revoked"
      ? new PoolError("HANDLE_REVOKED", `Connection ${this.id} was reclaimed from agent '${this.agentId}' by the pool`)
      : new PoolError("USE_AFTER_RELEASE", `Connection ${this.id} was used after agent '${this.agentId}' released it`);
  }
}
