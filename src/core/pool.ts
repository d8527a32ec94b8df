/**
 * AsyncConnectionPool: one borrow path (acquire → fast path or #wait) and one return path
 * (#release → #return), with every state change in `ConnectionSet.move`. Creation is in
 * filler.ts, fairness in waiters.ts, deadlines in deadlines.ts, health checks in recovery.ts,
 * hold-and-wait detection in deadlock.ts, policies and revocation in governance.ts, periodic work
 * in housekeeper.ts, the read-only views in snapshots.ts, callback guards in callbacks.ts.
 *
 * @module
 */

import { type AgentRecord, AgentRegistry, DEFAULT_AGENT_ID } from "./agents.ts";
import { GuardedListeners, guardMetrics, type Listener, type ListenerOptions } from "./callbacks.ts";
import type { Clock } from "./clock.ts";
import { ConnectionSet } from "./connections.ts";
import type { AgentContext } from "./context.ts";
import { newCounters } from "./counters.ts";
import { type Ancestry, stuckWaiters } from "./deadlock.ts";
import { DeadlineTimer } from "./deadlines.ts";
import { type ExhaustedReason, PoolClosedError, PoolError } from "./errors.ts";
import { exhaustedError } from "./exhausted.ts";
import type { ConnectionFactory } from "./factory.ts";
import { Filler } from "./filler.ts";
import { Governor } from "./governance.ts";
import { PooledConnection, type ReleaseLease } from "./handle.ts";
import type { PoolHealth } from "./health.ts";
import { Housekeeper, housekeepingIntervalMs, sweep } from "./housekeeper.ts";
import type { PoolMetrics } from "./metrics.ts";
import { checkDuration, checkQuota, type HoldPolicy, type PoolOptions, resolvePoolOptions, type ResolvedPoolOptions } from "./options.ts";
import { Recovery } from "./recovery.ts";
import { type ConnectionInfo, Slot } from "./slot.ts";
import { type AgentInfo, agentsView, connectionsView, type PoolStats, statsView, topHolders } from "./snapshots.ts";
import { FairQueue, Waiter } from "./waiters.ts";

const RESOLVED: Promise<void> = Promise.resolve();
/** Agents that hold and wait for nothing are forgotten beyond this many, oldest first. */
const MAX_IDLE_AGENTS = 10_000;

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
 * import { AsyncConnectionPool } from "agentpool";
 * const pool = new AsyncConnectionPool({ factory, minConnections: 2, maxConnections: 10 });
 * {
 *   await using handle = await pool.acquire({ agentId: "planner-1" });
 *   use(handle.connection);
 * }
 * await pool.use((conn) => query(conn), { agentId: "critic-2" });
 * console.log(pool.stats(), pool.agents());
 * await pool.close();
 * ```
 */
export class AsyncConnectionPool<T> extends EventTarget {
  /** The options in force, defaults applied. */
  readonly options: ResolvedPoolOptions<T>;
  #factory: ConnectionFactory<T>;
  #clock: Clock;
  #metrics: PoolMetrics;
  #context: AgentContext | undefined;
  #max: number;
  #cap: number;
  #captureStacks: boolean;
  #preciseTiming: boolean;
  #closeOverflowAtOnce: boolean;
  #set: ConnectionSet<T>;
  #agents: AgentRegistry;
  #queue: FairQueue;
  /** Waiters whose acquire runs inside a lease of this pool: the only ones hold-and-wait concerns. */
  #children = new Set<Waiter>();
  #deadlines: DeadlineTimer<Waiter>;
  #filler: Filler<T>;
  #recovery: Recovery<T>;
  #governor: Governor<T>;
  #housekeeper: Housekeeper;
  #counters = newCounters();
  #listeners: GuardedListeners;
  #errorListeners = new Set<object>();
  #reported = new Set<string>();
  #closed = false;
  #closePromise: Promise<void> | undefined = undefined;
  #nextId = 1;
  #epoch: number;
  /** Clock of the borrow/return fast path: the real one, or with `preciseTiming: false` the coarse time below. */
  #leaseNow: () => number;
  /** The last time any slow path or the housekeeper read the clock. */
  #coarseNow: number;
  #releaseLease: ReleaseLease = (_handle, lease, error) => this.#release(lease as Slot<T>, error);

  /** Validates `options` (TypeError / RangeError naming the option) and starts filling to `minConnections`. */
  constructor(options: PoolOptions<T>) {
    super();
    const o = (this.options = resolvePoolOptions(options));
    const report = (error: unknown, during: string): void => this.#reportCallback(error, during);
    this.#listeners = new GuardedListeners(report);
    this.#factory = o.factory;
    this.#clock = o.clock;
    this.#metrics = guardMetrics(o.metrics, report);
    this.#context = o.context;
    this.#max = o.maxConnections;
    this.#cap = o.maxConnections + o.overflow;
    this.#captureStacks = o.captureStacks;
    this.#preciseTiming = o.preciseTiming;
    this.#closeOverflowAtOnce = o.overflowIdleMs === 0;
    this.#epoch = Date.now() - o.clock.now();
    this.#coarseNow = o.clock.now();
    this.#leaseNow = o.preciseTiming ? () => o.clock.now() : () => this.#coarseNow;
    const emit = (type: string, detail: unknown): void => void this.dispatchEvent(new CustomEvent(type, { detail }));
    this.#agents = new AgentRegistry(o.quotaOf);
    this.#set = new ConnectionSet(o.factory, {
      closed: () => {
        this.#counters.destroyed++;
        this.#recovery.updateHealth(this.#closed);
        this.#filler.kick();
        this.#metrics.destroyed();
      },
      failed: (error, slot) => emit("error", { error, connectionId: slot.id, during: "destroy" }),
    });
    this.#queue = new FairQueue((agent) => agent.held < agent.quota);
    this.#deadlines = new DeadlineTimer(o.clock, (waiter) => this.#expire(waiter));
    this.#filler = new Filler(o.factory, o.clock, {
      deficit: (creating, active) => this.#deficit(creating, active),
      adopt: (connection, createMs) => this.#adopt(connection, createMs),
      createFailed: (error, failures) => {
        this.#counters.createErrors++;
        this.#recovery.suspect();
        this.#recovery.updateHealth(this.#closed);
        this.#metrics.createFailed(error);
        emit("createerror", { error, failures });
      },
    }, o);
    this.#recovery = new Recovery(o, this.#set, this.#counters, this.#filler, {
      returnSlot: (slot) => void this.#return(slot),
      checkFailed: () => {
        this.#serveFromIdle();
        this.#filler.kick();
      },
      emit,
    });
    this.#governor = new Governor(o, this.#agents, this.#set, this.#counters, {
      reclaimLease: (slot) => {
        const agentId = slot.agent!.agentId;
        this.#metrics.released(agentId, this.#endLease(slot, this.#clock.now(), true));
      },
      refuseWaiters: (agent) => this.#refuseWaiters(agent),
      check: (slot) => this.#recovery.check(slot, false),
      metrics: this.#metrics,
      emit,
    });
    this.#housekeeper = new Housekeeper(o.clock, housekeepingIntervalMs(o), () => this.#sweep());
    this.#housekeeper.start();
    this.#filler.kick();
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
    if (this.#closed) return Promise.reject(new PoolClosedError());
    const agentId = options?.agentId ?? this.#context?.get()?.agentId ?? DEFAULT_AGENT_ID;
    if (typeof agentId !== "string" || agentId === "") {
      return Promise.reject(
        new TypeError(`Cannot acquire as 'agentId' must be a non-empty string: current value is ${String(agentId)}`),
      );
    }
    let agent: AgentRecord;
    try {
      agent = this.#agents.get(agentId);
    } catch (error) {
      return Promise.reject(error); // a bad agentQuotas value for this agent
    }
    if (this.#set.idle.length > 0 && this.#mayTakeNow(agent) && options?.timeoutMs === undefined) {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const now = this.#leaseNow();
      const slot = this.#takeIdle(now);
      if (slot !== null) return Promise.resolve(this.#lease(slot, agent, 0, now));
    }
    return this.#wait(agent, options);
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
   * const rows = await pool.use((sql) => sql`select 1 as one`, { agentId: "planner-1" });
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
   * const handle = await pool.acquire({ agentId: "planner-1" });
   * try {
   *   await pool.withLease(handle, () => work(handle.connection));
   * } finally {
   *   await handle.release();
   * }
   * ```
   */
  withLease<R>(handle: PooledConnection<T>, fn: () => R): R {
    const context = this.#context;
    if (context === undefined) return fn();
    return context.run({ agentId: handle.agentId, lease: { lease: handle, parent: context.get()?.lease } }, fn);
  }

  /** Counts (each derived from the connections' collections), lifetime counters, health, the leak report, latency. */
  stats(): PoolStats {
    return statsView({
      set: this.#set,
      agents: this.#agents.values(),
      pending: this.#queue.size,
      creating: this.#filler.creating,
      options: this.options,
      counters: this.#counters,
      health: this.#recovery.health,
      now: this.#clock.now(),
      closed: this.#closed,
      latency: this.#metrics.summary?.(),
    });
  }

  /** Every agent the pool has seen, with what it holds and waits for, its quota and its counters. */
  agents(): AgentInfo[] {
    return agentsView(this.#agents.values(), this.#set.used, this.#clock.now());
  }

  /** Every open connection: state, holder, overflow flag, age, uses. */
  connections(): ConnectionInfo[] {
    return connectionsView(this.#set, this.#max, this.#clock.now(), this.#epoch);
  }

  /** True after `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** `healthy`, `degraded` (creates failing, some connections serve) or `down`; see {@linkcode PoolHealth}. */
  get health(): PoolHealth {
    return this.#recovery.health;
  }

  /**
   * Sets (or with `undefined`, clears) `agentId`'s quota at run time, overriding `agentQuotas` and
   * `maxPerAgent`. Lowering it below what the agent holds revokes nothing: further acquires wait.
   * Raising it serves the agent's waiters at once from idle connections. `why()` is appended to
   * the agent's `AGENT_QUOTA_TIMEOUT` message. Throws TypeError/RangeError for bad arguments.
   *
   * @example
   * ```ts
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
    const agent = this.#agents.get(agentId);
    agent.quotaDynamic = quota !== undefined;
    agent.quota = quota ?? this.options.quotaOf(agentId);
    agent.quotaWhy = quota === undefined ? undefined : why;
    if (agent.held >= agent.quota) {
      this.#queue.leave(agent);
      return;
    }
    this.#queue.admit(agent);
    this.#serveFromIdle();
    this.#filler.kick();
  }

  /**
   * Revokes an agent: rejects its waiters (reason `revoked`), cancels what its connections run,
   * takes them back (their handles are fenced: later use throws `HANDLE_REVOKED`) and closes them,
   * which rolls back anything open. Its acquires are refused until {@linkcode readmit}, however
   * many other agents come and go. Resolves once its connections are closed.
   *
   * @example
   * ```ts
   * await pool.revoke("runaway-7");
   * pool.readmit("runaway-7");
   * ```
   */
  revoke(agentId: string): Promise<void> {
    return this.#governor.revoke(agentId);
  }

  /** Lets a revoked agent acquire again. */
  readmit(agentId: string): void {
    this.#governor.readmit(agentId);
  }

  /**
   * Revokes `agentId` when `signal` aborts, so an agent run that dies cleans up after itself.
   * Returns a function that unbinds the signal.
   *
   * @example
   * ```ts
   * const run = new AbortController();
   * pool.revokeOnAbort("planner-1", run.signal);
   * run.abort(); // planner-1's waits fail, its connections are reclaimed
   * ```
   */
  revokeOnAbort(agentId: string, signal: AbortSignal): () => void {
    return this.#governor.revokeOnAbort(agentId, signal);
  }

  /** Sets (or with `undefined`, clears) the hold policy of one agent, overriding `holdPolicy`. */
  setAgentPolicy(agentId: string, policy: HoldPolicy | undefined): void {
    this.#governor.setAgentPolicy(agentId, policy);
  }

  /**
   * Closes the pool: pending acquires reject with {@linkcode PoolClosedError}, idle connections
   * and creates in flight are closed, held connections close when returned. Clears every timer.
   * Resolves once nothing but held connections remains; calling it again returns the same promise.
   */
  close(): Promise<void> {
    return this.#closePromise ??= this.#close();
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

  async #close(): Promise<void> {
    this.#closed = true;
    this.#housekeeper.stop();
    this.#deadlines.clear();
    const error = new PoolClosedError("The pool was closed while this acquire waited");
    for (const waiter of this.#queue.drain(this.#agents.values())) {
      this.#settle(waiter);
      waiter.reject(error);
    }
    while (this.#set.idle.length > 0) void this.#set.destroy(this.#set.idle[this.#set.idle.length - 1]);
    await this.#filler.close();
    await this.#set.settle();
    this.#recovery.updateHealth(true);
  }

  #lease(slot: Slot<T>, agent: AgentRecord, waitMs: number, now: number, stack?: string): PooledConnection<T> {
    this.#set.move(slot, "used");
    slot.agent = agent;
    slot.heldSince = now;
    slot.uses++;
    this.#counters.acquired++;
    agent.acquired++;
    if (++agent.held >= agent.quota) this.#queue.leave(agent);
    if (waitMs > 0) {
      agent.totalWaitMs += waitMs;
      if (waitMs > agent.maxWaitMs) agent.maxWaitMs = waitMs;
    }
    const handle = new PooledConnection<T>(this, this.#releaseLease, slot, slot.id, agent.agentId, slot.connection);
    slot.lease = handle;
    // A waiter's stack was taken when it called acquire(); here we may be in a hand-off (a release
    // or a create), whose stack would name the pool's internals instead of the caller.
    if (this.#captureStacks) slot.stack = stack ?? new Error("acquired here").stack;
    this.#metrics.acquired(agent.agentId, waitMs);
    return handle;
  }

  /** May `agent` take an idle connection right now, ahead of nobody? */
  #mayTakeNow(agent: AgentRecord): boolean {
    return agent.pending === 0 && agent.held < agent.quota && !agent.revoked;
  }

  /**
   * The top idle connection if it can be handed out as is. Expired or broken ones are closed on
   * the way; null when none is left or the top one must be checked first (see #serveFromIdle).
   */
  #takeIdle(now: number): Slot<T> | null {
    const idle = this.#set.idle;
    while (idle.length > 0) {
      const slot = idle[idle.length - 1];
      if (now >= slot.expiresAt || this.#factory.isBroken?.(slot.connection) === true) {
        void this.#set.destroy(slot);
      } else {
        return this.#recovery.needsCheck(slot, now) ? null : slot;
      }
    }
    return null;
  }

  #wait(agent: AgentRecord, options: AcquireOptions | undefined): Promise<PooledConnection<T>> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let timeoutMs = this.options.acquireTimeoutMs;
    if (options?.timeoutMs !== undefined) {
      try {
        timeoutMs = checkDuration("timeoutMs", options.timeoutMs, true, "acquire");
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (agent.revoked) return this.#refuse("revoked", agent);
    // A fast-path candidate that only came here to validate timeoutMs.
    if (this.#set.idle.length > 0 && this.#mayTakeNow(agent)) {
      const now = this.#clock.now();
      const slot = this.#takeIdle(now);
      if (slot !== null) return Promise.resolve(this.#lease(slot, agent, 0, now));
    }
    const ancestry = this.#ancestry();
    if (this.#queue.size >= this.options.maxWaiting) return this.#refuse("queue_full", agent);
    return new Promise<PooledConnection<T>>((resolve, reject) => {
      const now = (this.#coarseNow = this.#clock.now());
      const waiter = new Waiter(agent, now, now + timeoutMs, signal, resolve, reject);
      if (ancestry !== null) {
        waiter.ancestry = ancestry;
        const cycle = stuckWaiters(waiter, this.#children, this.#set.used, this.#capacityComing());
        if (cycle !== null) {
          const describe = (w: Waiter): string => `'${w.agent.agentId}' waits inside connection ${w.ancestry!.slots[0].id}`;
          const nested = { parentId: ancestry.slots[0].id, cycle: cycle.map(describe).join("; ") };
          reject(this.#countRefusal("nested_acquire", agent, nested));
          return;
        }
        this.#children.add(waiter);
      }
      if (this.#captureStacks) waiter.stack = new Error("acquired here").stack;
      this.#queue.enqueue(waiter);
      if (timeoutMs !== Infinity) this.#deadlines.add(waiter);
      if (signal !== undefined) {
        waiter.onAbort = () => this.#abort(waiter);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#serveFromIdle();
      this.#filler.kick();
    });
  }

  /** The live leases of this pool the current call tree holds, innermost first; null outside any. */
  #ancestry(): Ancestry | null {
    let slots: Slot<T>[] | null = null;
    const leases: unknown[] = [];
    for (let link = this.#context?.get()?.lease; link !== undefined; link = link.parent) {
      const slot = PooledConnection.leaseOf(link.lease, this) as Slot<T> | undefined;
      if (slot === undefined) continue;
      (slots ??= []).push(slot);
      leases.push(slot.lease);
    }
    return slots === null ? null : { slots, leases };
  }

  /** Will a connection free up or appear without any held lease ending? */
  #capacityComing(): boolean {
    const set = this.#set;
    return set.idle.length > 0 || set.validating.length > 0 || set.resetting.length > 0 || set.closing.length > 0 ||
      this.#filler.creating > 0 || set.open < this.#cap;
  }

  #refuse(reason: ExhaustedReason, agent: AgentRecord): Promise<never> {
    return Promise.reject(this.#countRefusal(reason, agent));
  }

  #countRefusal(
    reason: ExhaustedReason,
    agent: AgentRecord,
    nested?: { parentId: number; cycle: string },
  ): ReturnType<typeof exhaustedError> {
    agent.rejected++;
    this.#counters.rejected++;
    const error = this.#exhaustedError(reason, agent, 0, nested);
    this.#metrics.rejected(agent.agentId, reason);
    return error;
  }

  #refuseWaiters(agent: AgentRecord): void {
    this.#queue.leave(agent);
    while (agent.head !== null) {
      const waiter = agent.head;
      this.#settle(waiter);
      agent.rejected++;
      this.#counters.rejected++;
      waiter.reject(this.#exhaustedError("revoked", agent, this.#clock.now() - waiter.enqueuedAt));
      this.#metrics.rejected(agent.agentId, "revoked");
    }
  }

  #abort(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.#settle(waiter);
    waiter.agent.aborted++;
    this.#counters.aborted++;
    waiter.reject(waiter.signal!.reason);
  }

  #expire(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.#settle(waiter);
    const agent = waiter.agent;
    const reason = agent.held >= agent.quota ? "agent_quota" : this.#recovery.unavailable(this.#cap) ? "unavailable" : "timeout";
    agent.timeouts++;
    this.#counters.timeouts++;
    waiter.reject(this.#exhaustedError(reason, agent, this.#clock.now() - waiter.enqueuedAt));
    this.#metrics.rejected(agent.agentId, reason);
  }

  /** Takes a waiter out of the queue, the deadline heap, the child set and its signal, before settling it. */
  #settle(waiter: Waiter): void {
    this.#queue.remove(waiter);
    this.#deadlines.remove(waiter);
    if (waiter.ancestry !== null) this.#children.delete(waiter);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
  }

  #exhaustedError(
    reason: ExhaustedReason,
    agent: AgentRecord,
    waitedMs: number,
    nested?: { parentId: number; cycle: string },
  ): ReturnType<typeof exhaustedError> {
    // Not stats(): a burst of timeouts must not walk every agent once per failed waiter.
    const set = this.#set;
    const stats = {
      total: set.open,
      cap: this.#cap,
      maxConnections: this.#max,
      used: set.used.length,
      idle: set.idle.length,
      pending: this.#queue.size,
      creating: this.#filler.creating,
    };
    return exhaustedError(reason, agent, waitedMs, {
      stats,
      holders: topHolders(set.used, this.#clock.now(), 3),
      maxWaiting: this.options.maxWaiting,
      failure: this.#recovery.failure,
      nested,
    });
  }

  /** The return path: end the lease, then retire, reset or hand the connection on. */
  #release(slot: Slot<T>, error: unknown): Promise<void> {
    const now = this.#leaseNow();
    const agent = slot.agent!;
    let done = RESOLVED;
    const fatal = (error !== undefined && this.#factory.isFatal?.(error) === true) ||
      this.#factory.isBroken?.(slot.connection) === true;
    const heldMs = this.#endLease(slot, now, false);
    if (fatal) {
      // Dead: out of circulation now, closed in the background (close() still waits for it). The
      // caller, who already has its error, must not wait for the driver to give up on a reset
      // socket (postgres.js on Bun: the whole endTimeoutMs, 5 s, after pg_terminate_backend).
      void this.#set.destroy(slot);
      this.#recovery.onFatal();
    } else if (now >= slot.expiresAt) {
      done = this.#set.destroy(slot);
    } else {
      slot.checkedAt = now;
      done = slot.cancelling !== undefined || this.#factory.reset !== undefined
        ? this.#reset(slot, now)
        : this.#return(slot, this.#preciseTiming ? now : undefined);
    }
    if (agent.head !== null && this.#set.idle.length > 0) this.#serveFromIdle();
    this.#metrics.released(agent.agentId, heldMs);
    if (error !== undefined) this.#metrics.errored?.(agent.agentId, error);
    return done;
  }

  /** The agent no longer holds `slot` (released, or with `reclaimed` taken back by the pool); returns the hold time. */
  #endLease(slot: Slot<T>, now: number, reclaimed: boolean): number {
    const agent = slot.agent!;
    const heldMs = now - slot.heldSince;
    slot.agent = null;
    slot.lease = undefined;
    slot.stack = undefined;
    slot.leakReported = slot.holdReported = false;
    slot.lastUsedAt = now;
    agent.held--;
    agent.totalHoldMs += heldMs;
    if (heldMs > agent.maxHoldMs) agent.maxHoldMs = heldMs;
    if (reclaimed) {
      agent.reclaimed++;
      this.#counters.reclaimed++;
    } else {
      this.#counters.released++;
    }
    // Below its quota again: its waiters rejoin the rotation (served by this connection or an idle one).
    if (agent.head !== null) this.#queue.admit(agent);
    return heldMs;
  }

  /** A reset (or a hold-policy cancel) runs before the connection may serve another lease. */
  #reset(slot: Slot<T>, now: number): Promise<void> {
    let pending: Promise<void> | void = undefined;
    if (slot.cancelling === undefined) {
      try {
        pending = this.#factory.reset!(slot.connection);
      } catch (error) {
        return this.#resetFailed(slot, error);
      }
      // A reset that finished synchronously hands the connection on at once, like no reset.
      if (pending === undefined) return this.#return(slot, this.#preciseTiming ? now : undefined);
    }
    this.#set.move(slot, "resetting");
    return this.#set.track(this.#finishReset(slot, pending));
  }

  async #finishReset(slot: Slot<T>, pending: Promise<void> | void): Promise<void> {
    try {
      if (slot.cancelling !== undefined) {
        await slot.cancelling;
        pending = this.#factory.reset?.(slot.connection);
      }
      await pending;
    } catch (error) {
      return this.#resetFailed(slot, error);
    }
    if (slot.place === "resetting") await this.#return(slot);
  }

  #resetFailed(slot: Slot<T>, error: unknown): Promise<void> {
    const done = this.#set.destroy(slot);
    this.dispatchEvent(new CustomEvent("error", { detail: { error, connectionId: slot.id, during: "reset" } }));
    return done;
  }

  /** A free connection goes to the next waiter, else is closed if above max, else idles. */
  #return(slot: Slot<T>, now?: number): Promise<void> {
    if (this.#closed || slot.generation < this.#recovery.generation) return this.#set.destroy(slot);
    const waiter = this.#queue.shift();
    if (waiter !== null) {
      this.#handOff(slot, waiter, now);
      return RESOLVED;
    }
    // Above the steady size: close now, or let the housekeeper close it after overflowIdleMs.
    if (this.#closeOverflowAtOnce && this.#set.open > this.#max) return this.#set.destroy(slot);
    this.#set.move(slot, "idle");
    return RESOLVED;
  }

  #handOff(slot: Slot<T>, waiter: Waiter, at?: number): void {
    this.#settle(waiter);
    const now = (this.#coarseNow = at ?? this.#clock.now());
    const handle = this.#lease(slot, waiter.agent, now - waiter.enqueuedAt, now, waiter.stack);
    this.#queue.admit(waiter.agent);
    waiter.resolve(handle);
  }

  /**
   * Hands idle connections to waiters in the rotation until one or the other runs out. One that
   * must be checked first is validated for the waiter (one check per waiter, never one per idle
   * connection); it comes back through #return, or is closed and the next one is taken.
   */
  #serveFromIdle(): void {
    const idle = this.#set.idle;
    while (!this.#closed && !this.#queue.rotationEmpty && idle.length > 0) {
      const now = this.#clock.now();
      const slot = this.#takeIdle(now);
      if (slot !== null) {
        this.#handOff(slot, this.#queue.shift()!, now);
      } else if (idle.length > 0 && this.#recovery.borrowChecks < this.#queue.takeable) {
        this.#recovery.check(idle[idle.length - 1], true);
      } else {
        return;
      }
    }
  }

  #sweep(): void {
    if (this.#closed) return;
    sweep(this.#governor.sweepHost(), (this.#coarseNow = this.#clock.now()));
    if (this.#agents.size > MAX_IDLE_AGENTS) this.#agents.prune(MAX_IDLE_AGENTS);
    this.#filler.kick();
  }

  /** How many creates to start: demand not met by open connections and active creates, within the cap. */
  #deficit(creating: number, active: number): number {
    const set = this.#set;
    const open = set.open;
    const wanted = Math.min(this.#cap, Math.max(this.options.minConnections, set.used.length + this.#queue.takeable));
    const room = this.#cap - open - creating - set.closing.length;
    return Math.min(room, wanted - open - active);
  }

  #adopt(connection: T, createMs: number): void {
    this.#counters.created++;
    const now = this.#clock.now();
    const recovery = this.#recovery;
    // Jittered lifetime and keepalive: connections opened together are not retired together.
    const slot = new Slot(this.#nextId++, connection, now, recovery.generation, recovery.expiresAt(now), recovery.keepaliveAt(now));
    this.#set.move(slot, "idle"); // open from now on; #return hands it on, keeps or closes it
    void this.#return(slot);
    recovery.updateHealth(this.#closed);
    this.#metrics.created(createMs);
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
