/**
 * AsyncConnectionPool: acquire, release, use, close and the read-only views. Only the borrow and
 * return paths live here; creation is in filler.ts, fairness in waiters.ts, deadlines in
 * deadlines.ts, the open set in connections.ts, health checks in recovery.ts, policies and
 * revocation in governance.ts, periodic work in housekeeper.ts.
 *
 * @module
 */

import { AgentRegistry, DEFAULT_AGENT_ID } from "./agents.ts";
import type { AgentRecord } from "./agents.ts";
import type { Clock } from "./clock.ts";
import { OpenConnections } from "./connections.ts";
import { newCounters } from "./counters.ts";
import { DeadlineTimer } from "./deadlines.ts";
import { type ExhaustedReason, PoolClosedError, PoolError } from "./errors.ts";
import { exhaustedError } from "./exhausted.ts";
import type { ConnectionFactory } from "./factory.ts";
import { Filler } from "./filler.ts";
import { Governor } from "./governance.ts";
import { PooledConnection, type ReleaseLease } from "./handle.ts";
import type { PoolHealth } from "./health.ts";
import { Housekeeper, sweep } from "./housekeeper.ts";
import type { PoolMetrics } from "./metrics.ts";
import {
  checkDuration,
  type HoldPolicy,
  type PoolOptions,
  resolvePoolOptions,
  type ResolvedPoolOptions,
} from "./options.ts";
import { Recovery } from "./recovery.ts";
import { type ConnectionInfo, Slot } from "./slot.ts";
import { type AgentInfo, agentInfo, connectionInfo, longestHolds, type PoolStats, topHolders } from "./snapshots.ts";
import { FairQueue, Waiter } from "./waiters.ts";

const RESOLVED: Promise<void> = Promise.resolve();
/** Agents that hold and wait for nothing are forgotten beyond this many, oldest first. */
const MAX_IDLE_AGENTS = 10_000;

/** Per-acquire options. */
export interface AcquireOptions {
  /** Who asks. Default `"default"`. */
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
 * `createerror`, `leak`, `holdexceeded`, `revoked`, `error` (a reset, destroy or cancel failed).
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
  #max: number;
  #cap: number;
  #maxPerAgent: number;
  #quotaGranted: boolean;
  /** Borrowing a connection idle longer than this validates it first (Infinity without `validate`). */
  #validateAfterIdleMs: number;
  #captureStacks: boolean;
  #preciseTiming: boolean;
  #closeOverflowAtOnce: boolean;
  #open: OpenConnections<T>;
  #idle: Slot<T>[];
  #used = 0;
  #agents = new AgentRegistry();
  #queue: FairQueue;
  #deadlines: DeadlineTimer<Waiter>;
  #filler: Filler<T>;
  #recovery: Recovery<T>;
  #governor: Governor<T>;
  #housekeeper: Housekeeper;
  #counters = newCounters();
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
    this.#factory = o.factory;
    this.#clock = o.clock;
    this.#metrics = o.metrics;
    this.#max = o.maxConnections;
    this.#cap = o.maxConnections + o.overflow;
    this.#maxPerAgent = o.maxPerAgent;
    this.#quotaGranted = o.maxPerAgent !== Infinity;
    this.#validateAfterIdleMs = o.factory.validate === undefined ? Infinity : o.validateAfterIdleMs;
    this.#captureStacks = o.captureStacks;
    this.#preciseTiming = o.preciseTiming;
    this.#closeOverflowAtOnce = o.overflowIdleMs === 0;
    this.#epoch = Date.now() - o.clock.now();
    this.#coarseNow = o.clock.now();
    this.#leaseNow = o.preciseTiming ? () => o.clock.now() : () => this.#coarseNow;
    const emit = (type: string, detail: unknown): boolean => this.dispatchEvent(new CustomEvent(type, { detail }));
    this.#open = new OpenConnections(o.factory, {
      closed: () => {
        this.#counters.destroyed++;
        this.#metrics.destroyed();
        this.#recovery.updateHealth(this.#closed);
        this.#filler.kick();
      },
      failed: (error, slot) => emit("error", { error, connectionId: slot.id, during: "destroy" }),
    });
    this.#idle = this.#open.idle;
    this.#queue = new FairQueue((agent) => agent.held < this.#maxPerAgent);
    this.#deadlines = new DeadlineTimer(o.clock, (waiter) => this.#expire(waiter));
    this.#filler = new Filler(o.factory, o.clock, {
      deficit: (creating) => this.#deficit(creating),
      adopt: (connection, createMs) => this.#adopt(connection, createMs),
      createFailed: (error, failures) => {
        this.#counters.createErrors++;
        this.#metrics.createFailed(error);
        emit("createerror", { error, failures });
        this.#recovery.updateHealth(this.#closed);
      },
    }, o);
    this.#recovery = new Recovery(o, this.#open, this.#counters, this.#filler, {
      returnSlot: (slot) => this.#return(slot),
      emit,
    });
    this.#governor = new Governor(o, this.#agents, this.#open, this.#counters, {
      endLease: (slot, now) => this.#endLease(slot, now),
      refuseWaiters: (agent) => this.#refuseWaiters(agent),
      check: (slot) => this.#recovery.check(slot),
      generation: () => this.#recovery.generation,
      now: () => o.clock.now(),
      emit,
    });
    this.#housekeeper = new Housekeeper(o.clock, o.housekeepingIntervalMs, () => this.#sweep());
    this.#housekeeper.start();
    this.#filler.kick();
  }

  /**
   * Gets a connection for `agentId`: at once when one is idle and nobody waits ahead, otherwise
   * after waiting (bounded by `timeoutMs`, cancellable by `signal`).
   *
   * Rejects with {@linkcode ConnectionPoolExhaustedError} (timeout, queue full, nested acquire at
   * the cap, database unavailable, revoked), {@linkcode PoolClosedError}, or `signal.reason`.
   */
  acquire(options?: AcquireOptions): Promise<PooledConnection<T>> {
    if (this.#closed) return Promise.reject(new PoolClosedError());
    const agentId = options?.agentId ?? DEFAULT_AGENT_ID;
    if (typeof agentId !== "string" || agentId === "") {
      return Promise.reject(
        new TypeError(`Cannot acquire as 'agentId' must be a non-empty string: current value is ${String(agentId)}`),
      );
    }
    const agent = this.#agents.get(agentId);
    if (this.#idle.length > 0 && this.#mayTakeNow(agent) && options?.timeoutMs === undefined) {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const now = this.#leaseNow();
      const slot = this.#takeIdle(now);
      if (slot !== null) return Promise.resolve(this.#lease(slot, agent, 0, now));
    }
    return this.#wait(agent, options);
  }

  /**
   * Returns `handle` to the pool (same as `handle.release(error)`). Throws `FOREIGN_HANDLE` for a
   * handle of another pool and `DOUBLE_RELEASE` when it was already released.
   */
  release(handle: PooledConnection<T>, error?: unknown): Promise<void> {
    if (!(handle instanceof PooledConnection) || PooledConnection.ownerOf(handle) !== this) {
      throw new PoolError("FOREIGN_HANDLE", "Cannot release a handle that this pool did not issue");
    }
    return handle.release(error);
  }

  /**
   * Acquires for `options.agentId`, runs `fn` with the connection, and always releases (passing a
   * thrown error on, so a fatal one retires the connection).
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
      result = await fn(handle.connection, handle);
    } catch (error) {
      if (!handle.released) await handle.release(error);
      throw error;
    }
    if (!handle.released) await handle.release();
    return result;
  }

  /** Counts, lifetime counters, health, the leak report and (with metrics) latency percentiles. */
  stats(): PoolStats {
    let activeAgents = 0;
    for (const agent of this.#agents.values()) if (agent.held > 0 || agent.pending > 0) activeAgents++;
    return {
      total: this.#open.size,
      idle: this.#idle.length,
      used: this.#used,
      pending: this.#queue.size,
      creating: this.#filler.creating,
      closing: this.#open.closing,
      overflow: this.#open.overflow,
      minConnections: this.options.minConnections,
      maxConnections: this.#max,
      cap: this.#cap,
      activeAgents,
      ...this.#counters,
      health: this.#recovery.health,
      longestHolds: longestHolds(this.#open.slots, this.#clock.now(), this.options.leakDetectionMs, 10),
      closed: this.#closed,
      latency: this.#metrics.summary?.(),
    };
  }

  /** Every agent the pool has seen, with what it holds and waits for and its counters. */
  agents(): AgentInfo[] {
    const now = this.#clock.now();
    const longest = new Map<AgentRecord, number>();
    for (const slot of this.#open.slots) {
      if (slot.agent !== null) longest.set(slot.agent, Math.max(longest.get(slot.agent) ?? 0, now - slot.heldSince));
    }
    return [...this.#agents.values()].map((agent) => agentInfo(agent, longest.get(agent) ?? 0));
  }

  /** Every open connection: state, holder, overflow flag, age, uses. */
  connections(): ConnectionInfo[] {
    const now = this.#clock.now();
    return [...this.#open.slots].sort((a, b) => a.id - b.id).map((slot) => connectionInfo(slot, now, this.#epoch));
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
   * Revokes an agent: rejects its waiters (reason `revoked`), cancels what its connections run,
   * takes them back (their handles are fenced: later use throws `HANDLE_REVOKED`) and closes them,
   * which rolls back anything open. Its acquires are refused until {@linkcode readmit}. Resolves
   * once its connections are closed.
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

  async #close(): Promise<void> {
    this.#closed = true;
    this.#housekeeper.stop();
    this.#deadlines.clear();
    const error = new PoolClosedError("The pool was closed while this acquire waited");
    for (const waiter of this.#queue.drain(this.#agents.values())) {
      this.#unlisten(waiter);
      waiter.reject(error);
    }
    while (this.#idle.length > 0) void this.#open.destroy(this.#idle[this.#idle.length - 1]);
    await this.#filler.close();
    await this.#open.settle();
    this.#recovery.updateHealth(true);
  }

  #lease(slot: Slot<T>, agent: AgentRecord, waitMs: number, now: number, stack?: string): PooledConnection<T> {
    slot.state = "used";
    slot.agent = agent;
    slot.heldSince = now;
    slot.uses++;
    this.#used++;
    this.#counters.acquired++;
    agent.acquired++;
    if (++agent.held >= this.#maxPerAgent) this.#queue.leave(agent);
    if (waitMs > 0) {
      agent.totalWaitMs += waitMs;
      if (waitMs > agent.maxWaitMs) agent.maxWaitMs = waitMs;
    }
    this.#metrics.acquired(agent.agentId, waitMs);
    const handle = new PooledConnection<T>(this, this.#releaseLease, slot, slot.id, agent.agentId, slot.connection);
    slot.lease = handle;
    // A waiter's stack was taken when it called acquire(); here we may be in a hand-off (a release
    // or a create), whose stack would name the pool's internals instead of the caller.
    if (this.#captureStacks) slot.stack = stack ?? new Error("acquired here").stack;
    return handle;
  }

  /** May `agent` take an idle connection right now, ahead of nobody? */
  #mayTakeNow(agent: AgentRecord): boolean {
    return agent.pending === 0 && agent.held < this.#maxPerAgent && !agent.revoked;
  }

  /**
   * Pops idle connections until one can be handed out as is. Those idle too long, or suspect
   * after a fatal error, go to validation (and come back through #return); dead or expired ones
   * are closed.
   */
  #takeIdle(now: number): Slot<T> | null {
    const idle = this.#idle;
    while (idle.length > 0) {
      const slot = idle.pop()!;
      slot.idleIndex = -1;
      if (now >= slot.expiresAt || this.#factory.isBroken?.(slot.connection) === true) {
        void this.#open.destroy(slot);
      } else if (now - slot.checkedAt > this.#validateAfterIdleMs || slot.generation < this.#recovery.generation) {
        this.#recovery.check(slot);
      } else {
        return slot;
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
    if (this.#idle.length > 0 && this.#mayTakeNow(agent)) {
      const now = this.#clock.now();
      const slot = this.#takeIdle(now);
      if (slot !== null) return Promise.resolve(this.#lease(slot, agent, 0, now));
    }
    if (agent.held > 0 && !(this.#quotaGranted && agent.held < this.#maxPerAgent) && this.#atCap()) {
      return this.#refuse("nested_acquire", agent);
    }
    if (this.#queue.size >= this.options.maxWaiting) return this.#refuse("queue_full", agent);
    return new Promise<PooledConnection<T>>((resolve, reject) => {
      const now = (this.#coarseNow = this.#clock.now());
      const waiter = new Waiter(agent, now, now + timeoutMs, signal, resolve, reject);
      if (this.#captureStacks) waiter.stack = new Error("acquired here").stack;
      this.#queue.enqueue(waiter);
      if (timeoutMs !== Infinity) this.#deadlines.add(waiter);
      if (signal !== undefined) {
        waiter.onAbort = () => this.#abort(waiter);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#filler.kick();
    });
  }

  /** No idle connection and no room to open one. */
  #atCap(): boolean {
    return this.#idle.length === 0 && this.#open.size + this.#filler.creating + this.#open.closing >= this.#cap;
  }

  #refuse(reason: ExhaustedReason, agent: AgentRecord): Promise<never> {
    agent.rejected++;
    this.#counters.rejected++;
    this.#metrics.rejected(agent.agentId, reason);
    return Promise.reject(this.#exhaustedError(reason, agent, 0));
  }

  #refuseWaiters(agent: AgentRecord): void {
    this.#queue.leave(agent);
    while (agent.head !== null) {
      const waiter = agent.head;
      this.#settle(waiter);
      agent.rejected++;
      this.#counters.rejected++;
      this.#metrics.rejected(agent.agentId, "revoked");
      waiter.reject(this.#exhaustedError("revoked", agent, this.#clock.now() - waiter.enqueuedAt));
    }
  }

  #abort(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.#queue.remove(waiter);
    this.#deadlines.remove(waiter);
    waiter.agent.aborted++;
    this.#counters.aborted++;
    waiter.reject(waiter.signal!.reason);
  }

  #expire(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.#settle(waiter);
    const agent = waiter.agent;
    const reason = agent.held >= this.#maxPerAgent
      ? "agent_quota"
      : this.#recovery.unavailable(this.#cap)
      ? "unavailable"
      : "timeout";
    agent.timeouts++;
    this.#counters.timeouts++;
    this.#metrics.rejected(agent.agentId, reason);
    waiter.reject(this.#exhaustedError(reason, agent, this.#clock.now() - waiter.enqueuedAt));
  }

  /** Takes a waiter out of the queue, the deadline heap and its signal, before settling it. */
  #settle(waiter: Waiter): void {
    this.#queue.remove(waiter);
    this.#deadlines.remove(waiter);
    this.#unlisten(waiter);
  }

  #unlisten(waiter: Waiter): void {
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
  }

  #exhaustedError(reason: ExhaustedReason, agent: AgentRecord, waitedMs: number): ReturnType<typeof exhaustedError> {
    // Not stats(): a burst of timeouts must not walk every agent once per failed waiter.
    const stats = {
      total: this.#open.size,
      cap: this.#cap,
      maxConnections: this.#max,
      used: this.#used,
      idle: this.#idle.length,
      pending: this.#queue.size,
      creating: this.#filler.creating,
    };
    return exhaustedError(reason, agent, waitedMs, {
      stats,
      holders: topHolders(this.#open.slots, this.#clock.now(), 3),
      maxPerAgent: this.#maxPerAgent,
      maxWaiting: this.options.maxWaiting,
      failure: this.#recovery.failure,
    });
  }

  #release(slot: Slot<T>, error: unknown): Promise<void> {
    const now = this.#leaseNow();
    if (error !== undefined) this.#metrics.errored?.(slot.agent!.agentId, error);
    this.#endLease(slot, now);
    this.#counters.released++;
    const factory = this.#factory;
    if ((error !== undefined && factory.isFatal?.(error) === true) || factory.isBroken?.(slot.connection) === true) {
      this.#recovery.onFatal();
      // Dead: out of circulation now, closed in the background (close() still waits for it). The
      // caller, who already has its error, must not wait for the driver to give up on a reset
      // socket (postgres.js on Bun: the whole endTimeoutMs, 5 s, after pg_terminate_backend).
      void this.#open.destroy(slot);
      return RESOLVED;
    }
    if (now >= slot.expiresAt) return this.#open.destroy(slot);
    slot.checkedAt = now;
    if (factory.reset !== undefined) {
      let pending: Promise<void> | void;
      try {
        pending = factory.reset(slot.connection);
      } catch (error) {
        return this.#resetFailed(slot, error);
      }
      // A reset that finished synchronously hands the connection on at once, like no reset.
      if (pending !== undefined) return this.#open.track(this.#returnAfterReset(slot, pending));
    }
    // A precise `now` is still current: the hand-off need not read the clock again.
    return this.#return(slot, this.#preciseTiming ? now : undefined);
  }

  /** Bookkeeping shared by release and reclaim: the agent no longer holds `slot`. */
  #endLease(slot: Slot<T>, now: number): void {
    const agent = slot.agent!;
    const heldMs = now - slot.heldSince;
    slot.agent = null;
    slot.lease = undefined;
    slot.stack = undefined;
    slot.leakReported = slot.holdReported = false;
    slot.lastUsedAt = now;
    this.#used--;
    agent.held--;
    agent.totalHoldMs += heldMs;
    if (heldMs > agent.maxHoldMs) agent.maxHoldMs = heldMs;
    this.#metrics.released(agent.agentId, heldMs);
    // Below its quota again: its waiters rejoin the rotation. Connections may be idle meanwhile
    // (they were, while it was at its quota), and the returning one may be closed instead of
    // coming back (reset failed, expired, fatal, reclaimed): serve the waiters from the idle ones.
    if (agent.head !== null) {
      this.#queue.admit(agent);
      if (this.#idle.length > 0) this.#serveFromIdle();
    }
  }

  /** Hands idle connections to waiters in the rotation until one or the other runs out. */
  #serveFromIdle(): void {
    while (!this.#closed && !this.#queue.rotationEmpty) {
      const slot = this.#takeIdle(this.#clock.now());
      if (slot === null) return;
      this.#handOff(slot, this.#queue.shift()!);
    }
  }

  async #returnAfterReset(slot: Slot<T>, pending: Promise<void>): Promise<void> {
    slot.state = "resetting";
    try {
      await pending;
    } catch (error) {
      return this.#resetFailed(slot, error);
    }
    return this.#return(slot);
  }

  #resetFailed(slot: Slot<T>, error: unknown): Promise<void> {
    this.dispatchEvent(new CustomEvent("error", { detail: { error, connectionId: slot.id, during: "reset" } }));
    return this.#open.destroy(slot);
  }

  /** A free connection goes to the next waiter, else is closed if above max, else idles. */
  #return(slot: Slot<T>, now?: number): Promise<void> {
    if (this.#closed) return this.#open.destroy(slot);
    if (slot.generation < this.#recovery.generation) {
      this.#recovery.check(slot);
      return RESOLVED;
    }
    const waiter = this.#queue.shift();
    if (waiter !== null) {
      this.#handOff(slot, waiter, now);
      return RESOLVED;
    }
    // Above the steady size: close now, or let the housekeeper close it after overflowIdleMs.
    if (this.#open.size > this.#max && this.#closeOverflowAtOnce) return this.#open.destroy(slot);
    this.#open.pushIdle(slot);
    return RESOLVED;
  }

  #handOff(slot: Slot<T>, waiter: Waiter, at?: number): void {
    this.#deadlines.remove(waiter);
    this.#unlisten(waiter);
    const now = (this.#coarseNow = at ?? this.#clock.now());
    const handle = this.#lease(slot, waiter.agent, now - waiter.enqueuedAt, now, waiter.stack);
    this.#queue.admit(waiter.agent);
    waiter.resolve(handle);
  }

  #sweep(): void {
    if (this.#closed) return;
    sweep(this.#governor.sweepHost(), (this.#coarseNow = this.#clock.now()));
    if (this.#agents.size > MAX_IDLE_AGENTS) this.#agents.prune(MAX_IDLE_AGENTS);
    this.#filler.kick();
  }

  #deficit(creating: number): number {
    const open = this.#open.size;
    const wanted = Math.min(this.#cap, Math.max(this.options.minConnections, this.#used + this.#queue.takeable));
    const room = this.#cap - open - creating - this.#open.closing;
    return Math.min(room, wanted - open - creating);
  }

  #adopt(connection: T, createMs: number): void {
    this.#counters.created++;
    this.#metrics.created(createMs);
    const now = this.#clock.now();
    const recovery = this.#recovery;
    // Jittered lifetime and keepalive: connections opened together are not retired together.
    const slot = new Slot(
      this.#nextId++,
      connection,
      now,
      recovery.generation,
      this.#open.size >= this.#max,
      recovery.expiresAt(now),
      recovery.keepaliveAt(now),
    );
    this.#open.add(slot);
    recovery.updateHealth(this.#closed);
    void this.#return(slot);
  }
}
