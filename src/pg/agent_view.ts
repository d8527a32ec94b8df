/**
 * `pool.forAgent(agentId)`: a pg.Pool-compatible view of a shared {@linkcode Pool} bound to one
 * agent, for a framework object built once per agent (a checkpointer, a store). Its `end()` ends
 * the view, never the shared pool: frameworks call `pool.end()` on shutdown.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import type pg from "pg";
import { PoolError } from "../core/errors.ts";
import type { PoolClient } from "./client.ts";
import type { PgClientClass } from "./factory.ts";
import type { ConnectCallback, Pool } from "./pool.ts";

/**
 * A view of a shared pool whose every `connect()` and `query()` is one agent's. Its class name
 * contains "Pool", which is what Drizzle's node-postgres driver checks to tell a pool from a client.
 *
 * @example
 * ```ts
 * import { Pool } from "agentpool/pg";
 * const pool = new Pool({ max: 10 });
 * const critic = pool.forAgent("critic-2");
 * await critic.query("select 1");
 * await critic.end(); // the view only
 * await pool.end();
 * ```
 */
export class PoolForAgent extends EventEmitter {
  /** The agent every lease of this view is attributed to. */
  readonly agentId: string;
  #pool: Pool;
  #ending = false;

  /** Created by `pool.forAgent()`. */
  constructor(pool: Pool, agentId: string) {
    super();
    this.#pool = pool;
    this.agentId = agentId;
  }

  /** The shared pool's options. */
  get options(): Pool["options"] {
    return this.#pool.options;
  }

  /** The client class. */
  get Client(): PgClientClass {
    return this.#pool.Client;
  }

  /** The shared pool. */
  get pool(): Pool {
    return this.#pool;
  }

  /** Checks out a client as this view's agent. */
  connect(): Promise<PoolClient>;
  connect(callback: ConnectCallback): void;
  connect(callback?: ConnectCallback): Promise<PoolClient> | void {
    if (this.#ending) {
      const error = new PoolError("POOL_ENDED", `Cannot use the view of agent '${this.agentId}' after calling end on it`);
      if (callback === undefined) return Promise.reject(error);
      return void queueMicrotask(() => callback(error, undefined, () => {}));
    }
    return this.#pool.checkout(this.agentId, callback);
  }

  /** pg's `pool.query`, as this view's agent. */
  declare query: pg.Pool["query"];

  /** Runs `query` (see `query`). */
  queryUntyped(config: unknown, values?: unknown, callback?: unknown): Promise<pg.QueryResult> | undefined {
    if (this.#ending) {
      const error = new PoolError("POOL_ENDED", `Cannot use the view of agent '${this.agentId}' after calling end on it`);
      const cb = typeof values === "function" ? values : callback;
      if (typeof cb !== "function") return Promise.reject(error);
      queueMicrotask(() => (cb as (e: Error) => void)(error));
      return undefined;
    }
    return this.#pool.queryAs(this.agentId, config, values, callback);
  }

  /** Ends this view (later connects reject); the shared pool stays open. Idempotent. */
  end(): Promise<void>;
  end(callback: (error?: Error) => void): void;
  end(callback?: (error?: Error) => void): Promise<void> | void {
    this.#ending = true;
    if (callback === undefined) return Promise.resolve();
    queueMicrotask(() => callback());
  }

  /** True once the view's `end()` was called. */
  get ending(): boolean {
    return this.#ending;
  }

  /** True once the view's `end()` was called. */
  get ended(): boolean {
    return this.#ending;
  }

  get totalCount(): number {
    return this.#pool.totalCount;
  }

  get idleCount(): number {
    return this.#pool.idleCount;
  }

  get waitingCount(): number {
    return this.#pool.waitingCount;
  }

  get expiredCount(): number {
    return this.#pool.expiredCount;
  }

  /** A view of another agent on the same shared pool. */
  forAgent(agentId: string): PoolForAgent {
    return this.#pool.forAgent(agentId);
  }
}

PoolForAgent.prototype.query = PoolForAgent.prototype.queryUntyped as pg.Pool["query"];
