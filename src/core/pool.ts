/**
 * AsyncConnectionPool: the public face of the pool. The machinery is assembled in engine.ts; the
 * one borrow path and one return path are in leases.ts; creation in supply.ts and filler.ts, the
 * waiting room in waiting_room.ts, fairness in waiters.ts, health checks in recovery.ts,
 * hold-and-wait detection in deadlock.ts, policies and revocation in governance.ts, periodic work
 * in housekeeper.ts, views in snapshots.ts, callback guards in callbacks.ts.
 *
 * @module
 */

import { GuardedListeners, guardMetrics, type Listener, type ListenerOptions } from "./callbacks.ts";
import { PoolEngine } from "./engine.ts";
import { PoolError } from "./errors.ts";
import { PooledConnection } from "./handle.ts";
import type { Leases } from "./leases.ts";
import type { PoolHealth } from "./health.ts";
import { type HoldPolicy, type PoolOptions, resolvePoolOptions, type ResolvedPoolOptions } from "./options.ts";
import { checkQuota } from "./pool_checks.ts";
import type { ConnectionInfo } from "./slot.ts";
import { type AgentInfo, agentsView, connectionsView, type PoolStats, statsView } from "./snapshots.ts";

/** Per-acquire options. */
export interface AcquireOptions {
  /** Who asks. Default: the agent of the current `withAgent()` / `use()` call tree, else `"default"`. */
  agentId?: string;
  /** Abandons the wait; the acquire rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Overrides `acquireTimeoutMs` for this acquire. */
  timeoutMs?: number;
}

/**
 * An agent-aware async connection pool. Connections are opened in the background; callers only
 * ever wait on the pool. A freed connection goes straight to a waiter, round-robin across agents.
 *
 * Events (`addEventListener`, `CustomEvent` with `detail`): `statechange` (health moved),
 * `createerror`, `leak`, `holdexceeded`, `revoked`, `error` (a reset, destroy or cancel failed, or
 * a user callback threw). A listener that throws is reported, never rethrown.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool, type ConnectionFactory } from "agentpool";
 * type Conn = { query(text: string): Promise<unknown[]> };
 * declare const factory: ConnectionFactory<Conn>; // e.g. postgresFactory(url)
 * const pool = new AsyncConnectionPool({ factory, minConnections: 2, maxConnections: 10 });
 * {
 *   await using handle = await pool.acquire({ agentId: "planner-1" });
 *   await handle.connection.query("select 1");
 * }
 * await pool.use((conn) => conn.query("select 2"), { agentId: "critic-2" });
 * console.log(pool.stats(), pool.agents());
 * await pool.close();
 * ```
 */
export class AsyncConnectionPool<T> extends EventTarget {
  /** The options in force, defaults applied. */
  readonly options: ResolvedPoolOptions<T>;
  #engine: PoolEngine<T>;
  /** The engine's borrow and return paths, one hop from acquire(). */
  #leases: Leases<T>;
  #listeners: GuardedListeners;
  #errorListeners = new Set<object>();
  #reported = new Set<string>();
  #closePromise: Promise<void> | undefined = undefined;
  /** Converts the pool clock to epoch milliseconds. */
  #epoch: number;

  /** Validates `options` (TypeError / RangeError naming the option) and starts filling to `minConnections`. */
  constructor(options: PoolOptions<T>) {
    super();
    const o = (this.options = resolvePoolOptions(options));
    const report = (error: unknown, during: string): void => this.#reportCallback(error, during);
    this.#listeners = new GuardedListeners(report);
    this.#epoch = Date.now() - o.clock.now();
    const emit = (type: string, detail: unknown): void => void this.dispatchEvent(new CustomEvent(type, { detail }));
    this.#engine = new PoolEngine(this, o, guardMetrics(o.metrics, report), emit);
    this.#leases = this.#engine.leases;
  }

  /**
   * Gets a connection for `agentId`: at once when one is idle and nobody waits ahead, otherwise
   * after waiting (bounded by `timeoutMs`, cancellable by `signal`).
   *
   * Rejects with {@linkcode ConnectionPoolExhaustedError} (timeout, agent quota, queue full, a
   * nested acquire that can never be served, database unavailable, revoked),
   * {@linkcode PoolClosedError}, or `signal.reason`. Never throws.
   */
  acquire(options?: AcquireOptions): Promise<PooledConnection<T>> {
    return this.#leases.acquire(options);
  }

  /**
   * `acquire`, resolving to `view(handle)`: the view runs when the connection is granted (for a
   * waiter, inside the `release()` that freed it), so a wrapper's caller resumes one promise hop
   * after the grant, as with `acquire`, instead of two with `acquire().then(view)`. The view
   * should not throw; one that does rejects the acquire and the handle goes back.
   *
   * @example
   * ```ts
   * import type { AsyncConnectionPool, PooledConnection } from "agentpool";
   * declare const pool: AsyncConnectionPool<{ query(text: string): Promise<unknown[]> }>;
   * class Lease {
   *   constructor(readonly handle: PooledConnection<{ query(text: string): Promise<unknown[]> }>) {}
   * }
   * const lease = await pool.acquireAs({ agentId: "planner-1" }, (handle) => new Lease(handle));
   * await lease.handle.release();
   * ```
   */
  acquireAs<R>(options: AcquireOptions | undefined, view: (handle: PooledConnection<T>) => R): Promise<R> {
    return this.#leases.acquireAs(options, view);
  }

  /**
   * Returns `handle` to the pool (same as `handle.release(error)`). Rejects with `FOREIGN_HANDLE`
   * for a handle of another pool and `DOUBLE_RELEASE` when it was already released; never throws.
   */
  release(handle: PooledConnection<T>, error?: unknown): Promise<void> {
    if (!(handle instanceof PooledConnection) || PooledConnection.ownerOf(handle) !== this) {
      return Promise.reject(new PoolError("FOREIGN_HANDLE", "Cannot release a handle that this pool did not issue"));
    }
    return handle.release(error);
  }

  /**
   * Acquires for `options.agentId`, runs `fn` with the connection as the lease's call tree (see
   * {@linkcode withLease}), and always releases (passing a thrown error on, so a fatal one retires
   * the connection).
   *
   * @example
   * ```ts
   * import type { AsyncConnectionPool } from "agentpool";
 * declare const pool: AsyncConnectionPool<{ query(text: string): Promise<unknown[]> }>;
 * const rows = await pool.use((conn) => conn.query("select 1 as one"), { agentId: "planner-1" });
   * ```
   */
  async use<R>(
    fn: (connection: T, handle: PooledConnection<T>) => R | PromiseLike<R>,
    options?: AcquireOptions,
  ): Promise<R> {
    const handle = await this.acquire(options);
    let result: R;
    try {
      // An abort that raced the hand-off: the connection goes back instead of running work.
      options?.signal?.throwIfAborted();
      result = await this.withLease(handle, () => fn(handle.connection, handle));
    } catch (error) {
      if (!handle.released) await handle.release(error);
      throw error;
    }
    if (!handle.released) await handle.release();
    return result;
  }

  /**
   * Runs `fn` as `handle`'s call tree: acquires made inside it are its agent's (unless they name
   * their own) and children of the lease, so one that could only be served by this lease ending
   * is refused at once instead of waiting out its timeout. Without a context, just calls `fn`.
   *
   * @example
   * ```ts
   * import type { AsyncConnectionPool } from "agentpool";
   * declare const pool: AsyncConnectionPool<{ query(text: string): Promise<unknown[]> }>;
   * const handle = await pool.acquire({ agentId: "planner-1" });
   * try {
   *   await pool.withLease(handle, () => handle.connection.query("select 1"));
   * } finally {
   *   await handle.release();
   * }
   * ```
   */
  withLease<R>(handle: PooledConnection<T>, fn: () => R): R {
    const context = this.options.context;
    if (context === undefined) return fn();
    this.#leases.scope(handle);
    return context.run({ agentId: handle.agentId, lease: { lease: handle, parent: context.get()?.lease } }, fn);
  }

  /** Counts (each derived from the connections' collections), lifetime counters, health, the leak report, latency. */
  stats(): PoolStats {
    const e = this.#engine;
    return statsView({
      set: e.set,
      agents: e.agents.values(),
      pending: e.room.queue.size,
      creating: e.filler.creating,
      options: this.options,
      counters: e.counters,
      health: e.recovery.health,
      now: this.options.clock.now(),
      closed: e.closed,
      latency: e.metrics.summary?.(),
    });
  }

  /** Every agent the pool has seen, with what it holds and waits for, its quota and its counters. */
  agents(): AgentInfo[] {
    return agentsView(this.#engine.agents.values(), this.#engine.set.used, this.options.clock.now());
  }

  /** Every open connection: state, holder, overflow flag, age, uses. */
  connections(): ConnectionInfo[] {
    return connectionsView(this.#engine.set, this.options.maxConnections, this.options.clock.now(), this.#epoch);
  }

  /** True after `close()` was called. */
  get closed(): boolean {
    return this.#engine.closed;
  }

  /** `healthy`, `degraded` (creates failing, some connections serve) or `down`; see {@linkcode PoolHealth}. */
  get health(): PoolHealth {
    return this.#engine.recovery.health;
  }

  /**
   * Sets (or with `undefined`, clears) `agentId`'s quota at run time, overriding `agentQuotas` and
   * `maxPerAgent`. Lowering it below what the agent holds revokes nothing: further acquires wait.
   * Raising it serves the agent's waiters at once from idle connections. `why()` is appended to
   * the agent's `AGENT_QUOTA_TIMEOUT` message. Throws TypeError/RangeError for bad arguments.
   *
   * @example
   * ```ts
   * import type { AsyncConnectionPool } from "agentpool";
 * declare const pool: AsyncConnectionPool<{ query(text: string): Promise<unknown[]> }>;
 * pool.setAgentQuota("researcher", 3, () => "global budget 'prod' allows researcher 3");
   * pool.setAgentQuota("researcher", undefined); // back to agentQuotas / maxPerAgent
   * ```
   */
  setAgentQuota(agentId: string, quota: number | undefined, why?: () => string): void {
    if (typeof agentId !== "string" || agentId === "") {
      throw new TypeError(`Cannot set the agent quota as 'agentId' must be a non-empty string: current value is ${String(agentId)}`);
    }
    if (quota !== undefined) checkQuota("quota", quota, "set the agent quota");
    if (why !== undefined && typeof why !== "function") {
      throw new TypeError(`Cannot set the agent quota as 'why' must be a function: current value is ${String(why)}`);
    }
    const engine = this.#engine;
    const agent = engine.agents.get(agentId);
    agent.quotaDynamic = quota !== undefined;
    agent.quota = quota ?? this.options.quotaOf(agentId);
    agent.quotaWhy = quota === undefined ? undefined : why;
    if (agent.held >= agent.quota) {
      engine.room.queue.leave(agent);
      return;
    }
    engine.room.queue.admit(agent);
    this.#leases.serveFromIdle();
    engine.filler.kick();
  }

  /**
   * Revokes an agent: rejects its waiters (reason `revoked`), cancels what its connections run,
   * takes them back (their handles are fenced: later use throws `HANDLE_REVOKED`) and closes them,
   * which rolls back anything open. Its acquires are refused until {@linkcode readmit}, however
   * many other agents come and go. Resolves once its connections are closed.
   *
   * @example
   * ```ts
   * import type { AsyncConnectionPool } from "agentpool";
   * declare const pool: AsyncConnectionPool<{ query(text: string): Promise<unknown[]> }>;
   * await pool.revoke("runaway-7");
   * pool.readmit("runaway-7");
   * ```
   */
  revoke(agentId: string): Promise<void> {
    return this.#engine.governor.revoke(agentId);
  }

  /** Lets a revoked agent acquire again. */
  readmit(agentId: string): void {
    this.#engine.governor.readmit(agentId);
  }

  /**
   * Revokes `agentId` when `signal` aborts, so an agent run that dies cleans up after itself.
   * Returns a function that unbinds the signal.
   *
   * @example
   * ```ts
   * import type { AsyncConnectionPool } from "agentpool";
   * declare const pool: AsyncConnectionPool<{ query(text: string): Promise<unknown[]> }>;
   * const run = new AbortController();
   * pool.revokeOnAbort("planner-1", run.signal);
   * run.abort(); // planner-1's waits fail, its connections are reclaimed
   * ```
   */
  revokeOnAbort(agentId: string, signal: AbortSignal): () => void {
    return this.#engine.governor.revokeOnAbort(agentId, signal);
  }

  /** Sets (or with `undefined`, clears) the hold policy of one agent, overriding `holdPolicy`. */
  setAgentPolicy(agentId: string, policy: HoldPolicy | undefined): void {
    this.#engine.governor.setAgentPolicy(agentId, policy);
  }

  /**
   * Closes the pool: pending acquires reject with {@linkcode PoolClosedError}, idle connections
   * and creates in flight are closed, held connections close when returned. Clears every timer.
   * Resolves once nothing but held connections remains; calling it again returns the same promise.
   */
  close(): Promise<void> {
    return this.#closePromise ??= this.#engine.close();
  }

  /** Listeners are guarded: one that throws is reported on `error` (or the console), never rethrown. */
  override addEventListener(
    type: string,
    listener: Listener | null,
    options?: ListenerOptions | boolean,
  ): void {
    if (listener === null) return;
    const wrapped = this.#listeners.wrap(type, listener, typeof options === "boolean" ? options : options?.capture ?? false);
    if (type === "error") this.#errorListeners.add(wrapped);
    super.addEventListener(type, wrapped, options);
  }

  /** Removes a listener added with {@linkcode addEventListener}. */
  override removeEventListener(
    type: string,
    listener: Listener | null,
    options?: { capture?: boolean } | boolean,
  ): void {
    if (listener === null) return;
    const wrapped = this.#listeners.find(type, listener, typeof options === "boolean" ? options : options?.capture ?? false);
    if (wrapped === undefined) return;
    if (type === "error") this.#errorListeners.delete(wrapped);
    super.removeEventListener(type, wrapped, options);
  }

  /** A user callback threw: reported once per callback, on `error` if anyone listens, else the console. */
  #reportCallback(error: unknown, during: string): void {
    if (this.#reported.has(during)) return;
    this.#reported.add(during);
    if (this.#errorListeners.size > 0) {
      this.dispatchEvent(new CustomEvent("error", { detail: { error, during } }));
    } else {
      console.error(`agentpool '${this.options.name}': ${during} threw (reported once; the pool carries on)`, error);
    }
  }
}
