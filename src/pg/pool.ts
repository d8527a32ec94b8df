/**
 * `Pool`: a pg.Pool-compatible agentpool. Frameworks that take a `pg.Pool` (LangGraph's
 * PostgresSaver, Mastra's PostgresStore, Kysely, Drizzle) get pg's surface; underneath, every
 * connection is a lease of an {@linkcode AsyncConnectionPool} attributed to an agent, so
 * `agents()`, `connections()`, `stats()`, `revoke()`, metrics and the admin router work on it.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import type pg from "pg";
import { PoolError } from "../core/errors.ts";
import type { PooledConnection } from "../core/handle.ts";
import type { PoolHealth } from "../core/health.ts";
import type { HoldPolicy } from "../core/options.ts";
import { AsyncConnectionPool } from "../core/pool.ts";
import type { ConnectionInfo } from "../core/slot.ts";
import type { AgentInfo, PoolStats } from "../core/snapshots.ts";
import { currentAgentId } from "./agent_context.ts";
import { FORWARDED_CLIENT_EVENTS, type LeaseOwner, PoolClient } from "./client.ts";
import { trackedQuery } from "./query.ts";
import { type PgPoolConfig, resolvePgPoolConfig, type ResolvedPgPoolConfig } from "./config.ts";
import { type PgClientClass, pgFactory } from "./factory.ts";
import { pgSessionState } from "./session.ts";
import { PoolForAgent } from "./agent_view.ts";
import { emitSafely } from "./events.ts";
import pgModule from "pg";

/**
 * pg-pool's callback of `connect(cb)`.
 *
 * @example
 * ```ts
 * import type { ConnectCallback } from "agentpool/pg";
 * const callback: ConnectCallback = (error, client, done) => {
 *   if (error) throw error;
 *   client!.query("select 1").finally(() => done());
 * };
 * ```
 */
export type ConnectCallback = (error: Error | undefined, client: PoolClient | undefined, done: (error?: Error | boolean) => void) => void;
/**
 * pg's callback of `query(..., cb)`.
 *
 * @example
 * ```ts
 * import type { QueryCallback } from "agentpool/pg";
 * const callback: QueryCallback = (error, result) => console.log(error ?? result?.rows);
 * ```
 */
export type QueryCallback = (error: Error | undefined, result: pg.QueryResult | undefined) => void;

const NOOP = (): void => {};

/**
 * A pg.Pool-compatible agentpool. Takes pg's `PoolConfig` (each key meaning what it means in pg:
 * `connectionString`, `max`, `min`, `idleTimeoutMillis`, `connectionTimeoutMillis`,
 * `maxLifetimeSeconds`, `maxUses`, `allowExitOnIdle`, `application_name`, `ssl`, ...) plus
 * agentpool's own options (`maxPerAgent`, `holdPolicy`, `metrics`, `name`, `defaultAgent`, ...).
 *
 * Events (pg's, on `on`/`off`): `connect` (a new pg.Client), `acquire` / `release` (a
 * {@linkcode PoolClient}), `remove` (a pg.Client closed), `error` (an idle client's socket failed).
 * The core's events (`statechange`, `createerror`, `leak`, `holdexceeded`, `revoked`, `error`)
 * are on `addEventListener`.
 *
 * @example
 * ```ts
 * import { Pool, withAgent } from "agentpool/pg";
 * const pool = new Pool({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres", max: 20, maxPerAgent: 4 });
 * await withAgent("planner-1", async () => {
 *   const client = await pool.connect();
 *   try {
 *     await client.query("select $1::int as n", [1]);
 *   } finally {
 *     client.release();
 *   }
 * });
 * console.log(pool.agents(), pool.totalCount);
 * await pool.end();
 * ```
 */
export class Pool extends EventEmitter implements LeaseOwner {
  /** The config, with pg-pool's defaults applied (the password is not enumerable). */
  readonly options: pg.PoolOptions & { readonly name: string; readonly metrics?: unknown };
  /** The client class (read by Kysely's query cancellation). */
  readonly Client: PgClientClass;
  /** The agentpool underneath. */
  readonly agentpool: AsyncConnectionPool<pg.Client>;
  #config: ResolvedPgPoolConfig;
  #leases = new Map<pg.Client, PoolClient>();
  #ending = false;
  #ended = false;
  #endPromise: Promise<void> | undefined;

  /** Validates `config` (TypeError / RangeError naming the key) and starts filling to `min`. */
  constructor(config?: PgPoolConfig | string) {
    super();
    const c = (this.#config = resolvePgPoolConfig(config));
    this.Client = c.Client ?? (pgModule.Client as unknown as PgClientClass);
    const factory = pgFactory({
      ...c.client,
      Client: this.Client,
      onConnect: (client) => this.#connected(client),
      onError: (error, client) => this.#clientError(error, client),
      onRemove: (client) => emitSafely(this, "remove", client),
      // Set-up done on connect would be lost to RESET ALL and the like: such sessions are closed instead.
      dirtySessions: () => (c.onConnect !== undefined || c.verify !== undefined || this.listenerCount("connect") > 0 ? "close" : "reset"),
      endTimeoutMs: c.endTimeoutMs,
      cancelTimeoutMs: c.cancelTimeoutMs,
    });
    this.agentpool = new AsyncConnectionPool<pg.Client>({ ...c.core, factory });
    const resolved = this.agentpool.options;
    this.options = Object.freeze(Object.assign(c.options as unknown as pg.PoolOptions, {
      idleTimeoutMillis: resolved.idleTimeoutMs,
      maxLifetimeSeconds: resolved.maxLifetimeMs / 1000,
      name: resolved.name,
      metrics: resolved.metrics,
    }));
  }

  /**
   * Checks out a client for the current agent (`withAgent`, else `defaultAgent`). Rejects (or
   * calls back) with the pool's errors: `ConnectionPoolExhaustedError` after the acquire timeout
   * (`connectionTimeoutMillis` / `acquireTimeoutMs`), `POOL_ENDED` after `end()`.
   */
  connect(): Promise<PoolClient>;
  connect(callback: ConnectCallback): void;
  connect(callback?: ConnectCallback): Promise<PoolClient> | void {
    return this.checkout(currentAgentId() ?? this.#config.defaultAgent, callback);
  }

  /** pg's `pool.query`: checks out, runs one query, releases (every form pg accepts). */
  declare query: pg.Pool["query"];

  /**
   * A pg.Pool-compatible view whose every connect and query is `agentId`'s. Its `end()` ends the
   * view only; the shared pool stays open.
   *
   * @example
   * ```ts
   * import { Pool } from "agentpool/pg";
   * const pool = new Pool({ max: 10 });
   * const checkpointer = pool.forAgent("checkpointer"); // e.g. new PostgresSaver(checkpointer)
   * await checkpointer.query("select 1");
   * ```
   */
  forAgent(agentId: string): PoolForAgent {
    if (typeof agentId !== "string" || agentId === "") {
      throw new TypeError(`Cannot create a view as 'agentId' must be a non-empty string: current value is ${String(agentId)}`);
    }
    return new PoolForAgent(this, agentId);
  }

  /** Ends the pool: waiters are refused, idle clients closed, held ones closed on release. Idempotent. */
  end(): Promise<void>;
  end(callback: (error?: Error) => void): void;
  end(callback?: (error?: Error) => void): Promise<void> | void {
    this.#ending = true;
    this.#endPromise ??= this.agentpool.close().then(() => void (this.#ended = true));
    if (callback === undefined) return this.#endPromise;
    this.#endPromise.then(() => callback(), callback);
  }

  /** True once `end()` was called. */
  get ending(): boolean {
    return this.#ending;
  }

  /** True once `end()` finished. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Clients open or being opened. */
  get totalCount(): number {
    const stats = this.agentpool.stats();
    return stats.total + stats.creating;
  }

  /** Clients idle in the pool. */
  get idleCount(): number {
    return this.agentpool.stats().idle;
  }

  /** Checkouts waiting for a client. */
  get waitingCount(): number {
    return this.agentpool.stats().pending;
  }

  /** Checked-out clients older than the lifetime, closed when released. */
  get expiredCount(): number {
    const lifetime = this.agentpool.options.maxLifetimeMs;
    if (lifetime === 0) return 0;
    return this.agentpool.connections().filter((c) => c.state === "used" && c.ageMs >= lifetime).length;
  }

  /** As on every agentpool. */
  stats(): PoolStats {
    return this.agentpool.stats();
  }

  /** As on every agentpool. */
  agents(): AgentInfo[] {
    return this.agentpool.agents();
  }

  /** As on every agentpool. */
  connections(): ConnectionInfo[] {
    return this.agentpool.connections();
  }

  /** As on every agentpool: rejects the agent's waiters, cancels and takes back its clients. */
  revoke(agentId: string): Promise<void> {
    return this.agentpool.revoke(agentId);
  }

  /** As on every agentpool. */
  readmit(agentId: string): void {
    this.agentpool.readmit(agentId);
  }

  /** As on every agentpool. */
  revokeOnAbort(agentId: string, signal: AbortSignal): () => void {
    return this.agentpool.revokeOnAbort(agentId, signal);
  }

  /** As on every agentpool: a run-time quota for one agent (`undefined` clears it). */
  setAgentQuota(agentId: string, quota: number | undefined, why?: () => string): void {
    this.agentpool.setAgentQuota(agentId, quota, why);
  }

  /** As on every agentpool. */
  setAgentPolicy(agentId: string, policy: HoldPolicy | undefined): void {
    this.agentpool.setAgentPolicy(agentId, policy);
  }

  /** True after `end()`. */
  get closed(): boolean {
    return this.agentpool.closed;
  }

  /** `healthy`, `degraded` or `down`. */
  get health(): PoolHealth {
    return this.agentpool.health;
  }

  /** The core pool's events (`statechange`, `createerror`, `leak`, `holdexceeded`, `revoked`, `error`). */
  addEventListener(type: string, listener: (event: Event) => void, options?: { once?: boolean; signal?: AbortSignal }): void {
    this.agentpool.addEventListener(type, listener, options);
  }

  /** Removes a listener added with `addEventListener`. */
  removeEventListener(type: string, listener: (event: Event) => void): void {
    this.agentpool.removeEventListener(type, listener);
  }

  /** The agent that work outside any `withAgent()` is attributed to. */
  get defaultAgent(): string {
    return this.#config.defaultAgent;
  }

  /** Checks out a client for `agentId` (used by `connect()` and the agent views). */
  checkout(agentId: string, callback?: ConnectCallback): Promise<PoolClient> | void {
    const promise = this.#checkout(agentId);
    if (callback === undefined) return promise;
    promise.then((client) => callback(undefined, client, (error) => client.release(error)), (error) => callback(error, undefined, NOOP));
  }

  /** Runs one query as `agentId` (used by `query()` and the agent views). */
  queryAs(agentId: string, config: unknown, values?: unknown, callback?: unknown): Promise<pg.QueryResult> | undefined {
    if (typeof config === "function") {
      const error = new TypeError("Passing a function as the first parameter to pool.query is not supported");
      if (typeof values !== "function") return Promise.reject(error);
      queueMicrotask(() => (values as QueryCallback)(error, undefined));
      return undefined;
    }
    if (typeof values === "function") [callback, values] = [values, undefined];
    const promise = this.#query(agentId, config, values);
    if (typeof callback !== "function") return promise;
    promise.then((result) => (callback as QueryCallback)(undefined, result), (error) => (callback as QueryCallback)(error, undefined));
    return undefined;
  }

  /** Called by a {@linkcode PoolClient} on `release(err?)`. */
  releaseClient(lease: PoolClient, handle: PooledConnection<pg.Client>, client: pg.Client, error: unknown): void {
    if (this.#leases.get(client) === lease) this.#leases.delete(client);
    this.#leaseEnded(client, error);
    emitSafely(this, "release", error || undefined, lease);
    if (handle.released) return; // reclaimed by the pool (revoke, hold policy)
    handle.release(error === true ? new Error("released with an error") : error || undefined).catch(NOOP);
  }

  #checkout(agentId: string): Promise<PoolClient> {
    if (this.#ending) return Promise.reject(new PoolError("POOL_ENDED", "Cannot use a pool after calling end on the pool"));
    // The lease is wrapped where the connection is granted, so the caller resumes one promise hop
    // after it (acquire().then(wrap) was two; on Deno under load every hop past the first waits
    // behind a turn's worth of other work, milliseconds at p99).
    return this.agentpool.acquireAs({ agentId }, this.#lease);
  }

  /** Wraps a fresh lease in the {@linkcode PoolClient} its holder gets. */
  #lease = (handle: PooledConnection<pg.Client>): PoolClient => {
    const client = handle.connection;
    const lease = new PoolClient(this, handle);
    this.#leases.set(client, lease);
    if (this.#config.allowExitOnIdle) refSocket(client, true);
    emitSafely(this, "acquire", lease);
    return lease;
  };

  async #query(agentId: string, config: unknown, values: unknown): Promise<pg.QueryResult> {
    if (this.#ending) throw new PoolError("POOL_ENDED", "Cannot use a pool after calling end on the pool");
    const handle = await this.agentpool.acquire({ agentId });
    const client = handle.connection;
    if (this.#config.allowExitOnIdle) refSocket(client, true);
    let result: pg.QueryResult;
    try {
      result = await (trackedQuery(client, agentId, config, values) as Promise<pg.QueryResult>);
    } catch (error) {
      this.#leaseEnded(client, undefined);
      if (!handle.released) handle.release(error).catch(NOOP);
      throw error;
    }
    this.#leaseEnded(client, undefined);
    if (!handle.released) handle.release().catch(NOOP);
    return result;
  }

  /** Bookkeeping of every lease's end: `maxUses`, `release(err)`, `allowExitOnIdle`. */
  #leaseEnded(client: pg.Client, error: unknown): void {
    const state = pgSessionState(client);
    if (state !== undefined && (error || ++state.uses >= this.#config.maxUses)) state.closeRequested = true;
    if (this.#config.allowExitOnIdle) refSocket(client, false);
  }

  /** A new client: pg-pool's `onConnect` and `verify`, then the `connect` event. */
  async #connected(client: pg.Client): Promise<void> {
    for (const event of FORWARDED_CLIENT_EVENTS) {
      if (event === "error") continue; // the factory reports errors (#clientError)
      client.on(event, (...args: unknown[]) => {
        const lease = this.#leases.get(client);
        if (lease !== undefined) emitSafely(lease, event, ...args);
      });
    }
    await this.#config.onConnect?.(client);
    const verify = this.#config.verify;
    if (verify !== undefined) {
      await new Promise<void>((resolve, reject) => verify(client, (error) => (error ? reject(error) : resolve())));
    }
    if (this.#config.allowExitOnIdle) refSocket(client, false);
    emitSafely(this, "connect", client);
  }

  /** A client's socket failed: its holder hears it if listening, else the pool (as pg does for idle clients). */
  #clientError(error: Error, client: pg.Client): void {
    const lease = this.#leases.get(client);
    if (lease !== undefined && lease.listenerCount("error") > 0) return emitSafely(lease, "error", error);
    (error as Error & { client?: unknown }).client = lease ?? client;
    emitSafely(this, "error", error, lease ?? client);
  }
}

/** pg's `client.ref()` / `unref()` (untyped in @types/pg): whether an idle client keeps the process alive. */
function refSocket(client: pg.Client, ref: boolean): void {
  const c = client as unknown as { ref?: () => void; unref?: () => void };
  if (ref) c.ref?.();
  else c.unref?.();
}

Pool.prototype.query = function query(this: Pool, config: unknown, values?: unknown, callback?: unknown) {
  return this.queryAs(currentAgentId() ?? this.defaultAgent, config, values, callback);
} as pg.Pool["query"];
