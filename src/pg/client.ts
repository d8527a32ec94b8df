/**
 * `PoolClient`: what `pool.connect()` gives, one per lease. It forwards to the real `pg.Client`
 * while the lease lasts (results and errors are pg's own) and is dead after `release()`, so a
 * stale reference can never reach a session another agent now holds.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import type pg from "pg";
import { PoolError } from "../core/errors.ts";
import type { PooledConnection } from "../core/handle.ts";
import { trackedQuery } from "./query.ts";
import { type PgSessionState, pgSessionState } from "./session.ts";

/**
 * Events of the real client a holder may listen to; forwarded while the lease lasts.
 *
 * @example
 * ```ts
 * import { FORWARDED_CLIENT_EVENTS } from "./client.ts";
 * FORWARDED_CLIENT_EVENTS.includes("notification"); // true
 * ```
 */
export const FORWARDED_CLIENT_EVENTS = ["error", "notice", "notification", "end", "drain"] as const;

/**
 * The pool side of a lease: how `release(err)` returns it.
 *
 * @example
 * ```ts
 * import type { LeaseOwner } from "./client.ts";
 * const owner: LeaseOwner = { releaseClient: (_lease, handle, _client, error) => void handle.release(error) };
 * ```
 */
export interface LeaseOwner {
  releaseClient(lease: PoolClient, handle: PooledConnection<pg.Client>, client: pg.Client, error: unknown): void;
}

/**
 * An `EventEmitter` whose constructor does nothing: node:events creates its listener table on
 * the first `on()` (in Node, Deno and Bun alike), and most leases never get a listener, so a
 * lease saves constructing one (0.1-0.3 us).
 */
const LazyEventEmitter = function LazyEventEmitter(): void {} as unknown as typeof EventEmitter;
LazyEventEmitter.prototype = EventEmitter.prototype;

/**
 * pg's `PoolClient` type: a `PoolClient` can be passed wherever one is expected. Of pg's members,
 * `copyFrom`, `copyTo`, `pauseDrain`, `resumeDrain` and `connection` are types only (pg has no
 * such runtime methods either, or they are internals).
 */
export interface PoolClient extends
  Omit<
    pg.PoolClient,
    | keyof EventEmitter
    | "query"
    | "release"
    | "host"
    | "port"
    | "database"
    | "user"
    | "getTransactionStatus"
    | "escapeIdentifier"
    | "escapeLiteral"
    | "getTypeParser"
    | "setTypeParser"
    | "connect"
    | "end"
  > {}

/**
 * A leased node-postgres client: `query` (text + values, config objects with `rowMode`, `types`,
 * `name`, Submittables such as pg-cursor), `release(err?)`, the client's events
 * (`error`, `notice`, `notification`, `end`) while the lease lasts, and pg's read-only facts.
 *
 * @example
 * ```ts
 * import { Pool } from "agentpool/pg";
 * const pool = new Pool({ max: 4 });
 * const client = await pool.connect();
 * try {
 *   const { rows } = await client.query("select $1::int as n", [1]);
 * } finally {
 *   client.release();
 * }
 * ```
 */
export class PoolClient extends LazyEventEmitter {
  #handle: PooledConnection<pg.Client>;
  #client: pg.Client;
  #owner: LeaseOwner;
  #released = false;

  /** Created by the pool only. */
  constructor(owner: LeaseOwner, handle: PooledConnection<pg.Client>) {
    super();
    this.#owner = owner;
    this.#handle = handle;
    this.#client = handle.connection;
  }

  /** The agent this lease is attributed to. */
  get agentId(): string {
    return this.#handle.agentId;
  }

  /** The pool's id of the connection (as in `pool.connections()`). */
  get connectionId(): number {
    return this.#handle.id;
  }

  /** The backend's process id (pg's undocumented `processID`, used by Kysely's cancel). */
  get processID(): number | undefined {
    return (this.#live() as unknown as { processID: number | null }).processID ?? undefined;
  }

  get host(): string {
    return this.#client.host;
  }

  get port(): number {
    return this.#client.port;
  }

  get database(): string | undefined {
    return this.#client.database;
  }

  get user(): string | undefined {
    return this.#client.user;
  }

  /** True once released (or revoked by the pool). */
  get released(): boolean {
    return this.#released || this.#handle.released;
  }

  /** The state pg reports: `"I"` idle, `"T"` in a transaction, `"E"` in a failed one. */
  getTransactionStatus(): ReturnType<pg.Client["getTransactionStatus"]> {
    return this.#live().getTransactionStatus();
  }

  /** pg's `client.query`, every form: the promise, the callback and the Submittable form. */
  declare query: pg.PoolClient["query"];

  /** Runs `query` (see `query`). */
  queryUntyped(config: unknown, values?: unknown, callback?: unknown): unknown {
    return trackedQuery(this.#live(), this.#handle.agentId, config, values, callback);
  }

  /** pg's type parser of this client (`types` given to the pool, else pg's global ones). */
  getTypeParser(oid: number, format?: "text" | "binary"): (value: string) => unknown {
    return (this.#live().getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(oid, format);
  }

  /** Refused: a client's type parsers outlive the lease. Pass `types` in the query config or the pool config. */
  setTypeParser(): never {
    throw new PoolError("UNSUPPORTED", "setTypeParser on a pooled client would reach the next holder: pass 'types' in the query config or the pool config");
  }

  /** Refused: a pooled client is connected already. */
  connect(): Promise<never> {
    return Promise.reject(new PoolError("ALREADY_CONNECTED", "Client has already been connected. You cannot reuse a client."));
  }

  /** Closes the connection instead of returning it (pg: ending a pooled client removes it). */
  end(): Promise<void> {
    if (!this.#released) this.release(true);
    return Promise.resolve();
  }

  escapeIdentifier(value: string): string {
    return this.#client.escapeIdentifier(value);
  }

  escapeLiteral(value: string): string {
    return this.#client.escapeLiteral(value);
  }

  /**
   * Returns the client to the pool. A truthy `error` closes the connection instead (as in pg).
   * Throws when the lease was already released (as pg does).
   */
  release(error?: Error | boolean): void {
    if (this.#released) {
      throw new PoolError("DOUBLE_RELEASE", "Release called on client which has already been released to the pool.");
    }
    this.#released = true;
    this.removeAllListeners();
    this.#owner.releaseClient(this, this.#handle, this.#client, error);
  }

  /** The real client, while the lease lasts. Throws `USE_AFTER_RELEASE` / `HANDLE_REVOKED` after. */
  #live(): pg.Client {
    if (this.#released) {
      throw new PoolError("USE_AFTER_RELEASE", `Connection ${this.#handle.id} was used after agent '${this.#handle.agentId}' released it`);
    }
    return this.#handle.connection;
  }
}

/**
 * The session state of the client behind a lease (for the pool's reset decisions).
 *
 * @example
 * ```ts
 * import type pg from "pg";
 * import type { PooledConnection } from "agentpool";
 * import { leaseState } from "./client.ts";
 * declare const handle: PooledConnection<pg.Client>;
 * leaseState(handle)?.session.clean;
 * ```
 */
export function leaseState(handle: PooledConnection<pg.Client>): PgSessionState | undefined {
  return pgSessionState(handle.connection);
}

PoolClient.prototype.query = PoolClient.prototype.queryUntyped as pg.PoolClient["query"];
