/**
 * AsyncConnectionPool: acquire, release, use, close and the read-only views. Only the borrow and
 * return paths live here; creation is in filler.ts, deadlines in deadlines.ts, fairness in
 * waiters.ts.
 *
 * @module
 */

import { AgentRegistry, DEFAULT_AGENT_ID } from "./agents.ts";
import type { AgentRecord } from "./agents.ts";
import type { Clock } from "./clock.ts";
import { DeadlineTimer } from "./deadlines.ts";
import { ConnectionPoolExhaustedError, type ExhaustedReason, PoolClosedError, PoolError } from "./errors.ts";
import type { ConnectionFactory } from "./factory.ts";
import { Filler } from "./filler.ts";
import { PooledConnection, type ReleaseLease } from "./handle.ts";
import { healthOf, type PoolHealth } from "./health.ts";
import { Housekeeper, sweep, type SweepHost } from "./housekeeper.ts";
import type { PoolMetrics } from "./metrics.ts";
import {
  checkDuration,
  type HoldPolicy,
  type PoolOptions,
  resolvePoolOptions,
  type ResolvedPoolOptions,
} from "./options.ts";
import { validateWithin } from "./validation.ts";
import { type ConnectionInfo, Slot } from "./slot.ts";
import {
  type AgentInfo,
  agentInfo,
  connectionInfo,
  describeState,
  formatMs,
  longestHolds,
  type PoolStats,
  topHolders,
} from "./snapshots.ts";
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
  #slots = new Set<Slot<T>>();
  /** Idle connections, a LIFO stack: the warmest is reused first, the coldest can time out. */
  #idle: Slot<T>[] = [];
  #used = 0;
  #closing = 0;
  #overflowCount = 0;
  #agents = new AgentRegistry();
  #queue: FairQueue;
  #deadlines: DeadlineTimer<Waiter>;
  #filler: Filler<T>;
  #work = new Set<Promise<void>>();
  #closed = false;
  #closePromise: Promise<void> | undefined = undefined;
  #housekeeper: Housekeeper;
  #nextId = 1;
  /** Bumped by every fatal error; connections of older generations are suspect until re-checked. */
  #generation = 0;
  #health: PoolHealth = "healthy";
  /** Borrowing a connection idle longer than this validates it first (Infinity without `validate`). */
  #validateAfterIdleMs: number;
  #agentPolicies = new Map<string, HoldPolicy>();
  #epoch: number;
  /** Time source of the borrow/return fast path: the clock, or with `preciseTiming: false` the coarse time below. */
  #leaseNow: () => number;
  /** The last time any slow path or the housekeeper read the clock. */
  #coarseNow = 0;
  #captureStacks: boolean;
  #counters = {
    acquired: 0,
    released: 0,
    timeouts: 0,
    rejected: 0,
    aborted: 0,
    created: 0,
    destroyed: 0,
    createErrors: 0,
    validations: 0,
    validationFailures: 0,
    fatalErrors: 0,
    leaks: 0,
    reclaimed: 0,
  };
  #releaseLease: ReleaseLease = (_handle, lease, error) => this.#release(lease as Slot<T>, error);

  /** Validates `options` (TypeError / RangeError naming the option) and starts filling to `minConnections`. */
  constructor(options: PoolOptions<T>) {
    super();
    this.options = resolvePoolOptions(options);
    const o = this.options;
    this.#factory = o.factory;
    this.#clock = o.clock;
    this.#metrics = o.metrics;
    this.#max = o.maxConnections;
    this.#cap = o.maxConnections + o.overflow;
    this.#maxPerAgent = o.maxPerAgent;
    this.#quotaGranted = o.maxPerAgent !== Infinity;
    this.#epoch = Date.now() - o.clock.now();
    this.#validateAfterIdleMs = o.factory.validate === undefined ? Infinity : o.validateAfterIdleMs;
    this.#captureStacks = o.captureStacks;
    this.#coarseNow = o.clock.now();
    this.#leaseNow = o.preciseTiming ? () => o.clock.now() : () => this.#coarseNow;
    for (const [agentId, policy] of Object.entries(o.agentPolicies)) this.#agentPolicies.set(agentId, policy);
    this.#queue = new FairQueue((agent) => agent.held < this.#maxPerAgent);
    this.#deadlines = new DeadlineTimer(o.clock, (waiter) => this.#expire(waiter));
    this.#filler = new Filler(o.factory, o.clock, {
      deficit: (creating) => this.#deficit(creating),
      adopt: (connection, createMs) => this.#adopt(connection, createMs),
      createFailed: (error, failures) => this.#createFailed(error, failures),
    }, o);
    this.#housekeeper = new Housekeeper(o.clock, o.housekeepingIntervalMs, () => this.#sweep());
    this.#housekeeper.start();
    this.#filler.kick();
  }

  /**
   * Gets a connection for `agentId`: at once when one is idle and nobody waits ahead, otherwise
   * after waiting (bounded by `timeoutMs`, cancellable by `signal`).
   *
   * Rejects with {@linkcode ConnectionPoolExhaustedError} (timeout, queue full, nested acquire at
   * the cap), {@linkcode PoolClosedError}, or `signal.reason`.
   */
  acquire(options?: AcquireOptions): Promise<PooledConnection<T>> {
    if (this.#closed) return Promise.reject(new PoolClosedError());
    const agentId = options?.agentId ?? DEFAULT_AGENT_ID;
    if (typeof agentId !== "string" || agentId === "") {
      return Promise.reject(new TypeError(`Cannot acquire as 'agentId' must be a non-empty string: current value is ${String(agentId)}`));
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
   * Returns `handle` to the pool (same as `handle.release()`). Throws `FOREIGN_HANDLE` for a
   * handle of another pool and `DOUBLE_RELEASE` when it was already released.
   */
  release(handle: PooledConnection<T>): Promise<void> {
    if (!(handle instanceof PooledConnection) || PooledConnection.ownerOf(handle) !== this) {
      throw new PoolError("FOREIGN_HANDLE", "Cannot release a handle that this pool did not issue");
    }
    return handle.release();
  }

  /**
   * Acquires for `options.agentId`, runs `fn` with the connection, and always releases.
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

  /** Counts and lifetime counters. */
  stats(): PoolStats {
    let activeAgents = 0;
    for (const agent of this.#agents.values()) if (agent.held > 0 || agent.pending > 0) activeAgents++;
    const idle = this.#idle.length;
    return {
      total: this.#slots.size,
      idle,
      used: this.#used,
      pending: this.#queue.size,
      creating: this.#filler.creating,
      closing: this.#closing,
      overflow: this.#overflowCount,
      minConnections: this.options.minConnections,
      maxConnections: this.#max,
      cap: this.#cap,
      activeAgents,
      ...this.#counters,
      health: this.#health,
      longestHolds: longestHolds(this.#slots, this.#clock.now(), this.options.leakDetectionMs, 10),
      closed: this.#closed,
      latency: this.#metrics.summary?.(),
    };
  }

  /** Every agent the pool has seen, with what it holds and waits for and its counters. */
  agents(): AgentInfo[] {
    const now = this.#clock.now();
    const longest = new Map<AgentRecord, number>();
    for (const slot of this.#slots) {
      if (slot.agent !== null) longest.set(slot.agent, Math.max(longest.get(slot.agent) ?? 0, now - slot.heldSince));
    }
    return [...this.#agents.values()].map((agent) => agentInfo(agent, longest.get(agent) ?? 0));
  }

  /** Every open connection: state, holder, overflow flag, age, uses. */
  connections(): ConnectionInfo[] {
    const now = this.#clock.now();
    return [...this.#slots].sort((a, b) => a.id - b.id).map((slot) => connectionInfo(slot, now, this.#epoch));
  }

  /** True after `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** `healthy`, `degraded` (creates failing, some connections serve) or `down`; see {@linkcode PoolHealth}. */
  get health(): PoolHealth {
    return this.#health;
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
  async revoke(agentId: string): Promise<void> {
    const agent = this.#agents.get(agentId);
    agent.revoked = true;
    this.#queue.leave(agent);
    while (agent.head !== null) {
      const waiter = agent.head;
      this.#queue.remove(waiter);
      this.#deadlines.remove(waiter);
      this.#unlisten(waiter);
      agent.rejected++;
      this.#counters.rejected++;
      waiter.reject(this.#exhaustedError("revoked", agent, this.#clock.now() - waiter.enqueuedAt));
    }
    const reclaims: Promise<void>[] = [];
    for (const slot of this.#slots) if (slot.agent === agent) reclaims.push(this.#reclaim(slot));
    this.#emit("revoked", { agentId, reclaimed: reclaims.length });
    await Promise.all(reclaims);
  }

  /** Lets a revoked agent acquire again. */
  readmit(agentId: string): void {
    const agent = this.#agents.find(agentId);
    if (agent !== undefined) agent.revoked = false;
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
    const onAbort = (): void => void this.revoke(agentId);
    if (signal.aborted) {
      onAbort();
      return () => {};
    }
    signal.addEventListener("abort", onAbort, { once: true });
    return () => signal.removeEventListener("abort", onAbort);
  }

  /** Sets (or with `undefined`, clears) the hold policy of one agent, overriding `holdPolicy`. */
  setAgentPolicy(agentId: string, policy: HoldPolicy | undefined): void {
    if (policy === undefined) this.#agentPolicies.delete(agentId);
    else this.#agentPolicies.set(agentId, policy);
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
    while (this.#idle.length > 0) void this.#destroy(this.#idle[this.#idle.length - 1]);
    await this.#filler.close();
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
    this.#updateHealth();
  }

  #lease(slot: Slot<T>, agent: AgentRecord, waitMs: number, now: number): PooledConnection<T> {
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
    if (this.#captureStacks) slot.stack = new Error("acquired here").stack;
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
        void this.#destroy(slot);
      } else if (now - slot.checkedAt > this.#validateAfterIdleMs || slot.generation < this.#generation) {
        this.#check(slot);
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
        timeoutMs = checkDuration("timeoutMs", options.timeoutMs, true);
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
    return this.#idle.length === 0 && this.#slots.size + this.#filler.creating + this.#closing >= this.#cap;
  }

  #refuse(reason: ExhaustedReason, agent: AgentRecord): Promise<never> {
    agent.rejected++;
    this.#counters.rejected++;
    this.#metrics.rejected(agent.agentId, reason);
    return Promise.reject(this.#exhaustedError(reason, agent, 0));
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
    this.#queue.remove(waiter);
    this.#unlisten(waiter);
    const agent = waiter.agent;
    const reason = agent.held >= this.#maxPerAgent ? "agent_quota" : this.#unavailable() ? "unavailable" : "timeout";
    agent.timeouts++;
    this.#counters.timeouts++;
    this.#metrics.rejected(agent.agentId, reason);
    waiter.reject(this.#exhaustedError(reason, agent, this.#clock.now() - waiter.enqueuedAt));
  }

  #unlisten(waiter: Waiter): void {
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
  }

  #exhaustedError(reason: ExhaustedReason, agent: AgentRecord, waitedMs: number): ConnectionPoolExhaustedError {
    const id = `'${agent.agentId}'`;
    const what: Record<ExhaustedReason, string> = {
      timeout: `Timed out after ${formatMs(waitedMs)} waiting for a connection for agent ${id}`,
      agent_quota: `Timed out after ${formatMs(waitedMs)}: agent ${id} holds its quota of ${this.#maxPerAgent} (maxPerAgent)`,
      queue_full: `Refused agent ${id}: ${this.options.maxWaiting} acquires are already waiting (maxWaiting)`,
      nested_acquire:
        `Refused agent ${id}: it already holds ${agent.held} connection(s) and asked for another while the pool is at its cap, which could deadlock; reuse the held connection, release it first, or set maxPerAgent to grant a quota`,
      revoked: `Refused agent ${id}: it is revoked until re-admitted`,
      unavailable: `Timed out after ${formatMs(waitedMs)} waiting for a connection for agent ${id}: the database is unavailable`,
    };
    const failing = this.#filler.failures > 0;
    const cause = failing ? this.#filler.lastError : undefined;
    const unreachable = failing ? `; the database is unreachable (last connection failure: ${describeError(cause)})` : "";
    const state = describeState(this.stats(), topHolders(this.#slots, this.#clock.now(), 3));
    return new ConnectionPoolExhaustedError(reason, agent.agentId, `${what[reason]} (${state})${unreachable}`, failing ? { cause } : undefined);
  }

  #release(slot: Slot<T>, error: unknown): Promise<void> {
    const now = this.#leaseNow();
    this.#endLease(slot, now);
    this.#counters.released++;
    const factory = this.#factory;
    if ((error !== undefined && factory.isFatal?.(error) === true) || factory.isBroken?.(slot.connection) === true) {
      this.#onFatal();
      return this.#destroy(slot);
    }
    if (now >= slot.expiresAt) return this.#destroy(slot);
    slot.checkedAt = now;
    if (factory.reset !== undefined) return this.#track(this.#resetThenReturn(slot));
    return this.#return(slot);
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
    // Below its quota again: its waiters rejoin the rotation.
    if (agent.head !== null) this.#queue.admit(agent);
  }

  async #resetThenReturn(slot: Slot<T>): Promise<void> {
    slot.state = "resetting";
    try {
      await this.#factory.reset!(slot.connection);
    } catch (error) {
      this.#emit("error", { error, connectionId: slot.id, during: "reset" });
      return this.#destroy(slot);
    }
    return this.#return(slot);
  }

  /** A free connection goes to the next waiter, else is closed if above max, else idles. */
  #return(slot: Slot<T>): Promise<void> {
    if (this.#closed) return this.#destroy(slot);
    if (slot.generation < this.#generation) {
      this.#check(slot);
      return RESOLVED;
    }
    const waiter = this.#queue.shift();
    if (waiter !== null) {
      this.#handOff(slot, waiter);
      return RESOLVED;
    }
    if (this.#slots.size > this.#max) return this.#destroy(slot);
    slot.state = "idle";
    slot.idleIndex = this.#idle.length;
    this.#idle.push(slot);
    return RESOLVED;
  }

  #handOff(slot: Slot<T>, waiter: Waiter): void {
    this.#deadlines.remove(waiter);
    this.#unlisten(waiter);
    const now = (this.#coarseNow = this.#clock.now());
    const handle = this.#lease(slot, waiter.agent, now - waiter.enqueuedAt, now);
    this.#queue.admit(waiter.agent);
    waiter.resolve(handle);
  }

  #destroy(slot: Slot<T>): Promise<void> {
    if (!this.#slots.delete(slot)) return RESOLVED;
    if (slot.idleIndex >= 0) this.#removeIdle(slot);
    if (slot.overflow) {
      this.#overflowCount--;
    } else if (this.#overflowCount > 0) {
      // A steady connection went away: one overflow connection becomes steady.
      for (const other of this.#slots) {
        if (other.overflow) {
          other.overflow = false;
          this.#overflowCount--;
          break;
        }
      }
    }
    this.#closing++;
    return this.#track(this.#close1(slot));
  }

  async #close1(slot: Slot<T>): Promise<void> {
    try {
      await this.#factory.destroy(slot.connection);
    } catch (error) {
      this.#emit("error", { error, connectionId: slot.id, during: "destroy" });
    } finally {
      this.#closing--;
      this.#counters.destroyed++;
      this.#metrics.destroyed();
      this.#updateHealth();
      this.#filler.kick();
    }
  }

  /** Takes a connection out of service to validate it; it comes back through #return, or is closed. */
  #check(slot: Slot<T>): void {
    slot.state = "validating";
    void this.#track(this.#validate(slot));
  }

  async #validate(slot: Slot<T>): Promise<void> {
    const suspect = slot.generation < this.#generation;
    const alive = await validateWithin(this.#factory, slot.connection, this.#clock, this.options.validationTimeoutMs);
    this.#counters.validations++;
    if (!this.#slots.has(slot)) return;
    if (alive) {
      const now = this.#clock.now();
      slot.generation = this.#generation;
      slot.checkedAt = now;
      if (this.options.keepaliveMs > 0) slot.keepaliveAt = now + this.options.keepaliveMs * (1 - Math.random() * 0.2);
      return this.#return(slot);
    }
    this.#counters.validationFailures++;
    await this.#destroy(slot);
    // A suspect failed too: the server restarted, so every older idle connection is dead as well.
    if (suspect) this.#retireSuspects();
  }

  /** A fatal error: older connections become suspect; idle ones are checked (or closed) now. */
  #onFatal(): void {
    this.#counters.fatalErrors++;
    this.#generation++;
    for (const slot of [...this.#idle]) {
      this.#removeIdle(slot);
      if (this.#factory.isBroken?.(slot.connection) === true) void this.#destroy(slot);
      else this.#check(slot);
    }
  }

  #retireSuspects(): void {
    for (const slot of [...this.#idle]) if (slot.generation < this.#generation) void this.#destroy(slot);
  }

  /** Takes a connection back from its holder: fence the handle, cancel, close. */
  #reclaim(slot: Slot<T>): Promise<void> {
    const agent = slot.agent!;
    PooledConnection.revoke(slot.lease as PooledConnection<unknown>);
    this.#endLease(slot, this.#clock.now());
    agent.reclaimed++;
    this.#counters.reclaimed++;
    slot.state = "resetting";
    return this.#track(this.#cancelThenDestroy(slot));
  }

  async #cancelThenDestroy(slot: Slot<T>): Promise<void> {
    await this.#cancel(slot);
    await this.#destroy(slot);
  }

  async #cancel(slot: Slot<T>): Promise<void> {
    try {
      await this.#factory.cancel?.(slot.connection);
    } catch (error) {
      this.#emit("error", { error, connectionId: slot.id, during: "cancel" });
    }
  }

  #sweep(): void {
    if (this.#closed) return;
    const host: SweepHost<T> = {
      idle: this.#idle,
      slots: this.#slots,
      minConnections: this.options.minConnections,
      idleTimeoutMs: this.options.idleTimeoutMs,
      leakDetectionMs: this.options.leakDetectionMs,
      suspectBelow: this.#generation,
      retire: (slot) => void this.#destroy(slot),
      check: (slot) => {
        this.#removeIdle(slot);
        this.#check(slot);
      },
      leak: (slot, heldMs) => {
        slot.agent!.leaks++;
        this.#counters.leaks++;
        this.#emit("leak", { agentId: slot.agent!.agentId, connectionId: slot.id, heldMs, stack: slot.stack });
      },
      holdExceeded: (slot, policy, heldMs) => {
        this.#emit("holdexceeded", { agentId: slot.agent!.agentId, connectionId: slot.id, heldMs, action: policy.action });
        if (policy.action === "cancel") void this.#track(this.#cancel(slot));
        else if (policy.action === "reclaim") void this.#reclaim(slot);
      },
      policyFor: (agent) => this.#agentPolicies.get(agent.agentId) ?? this.options.holdPolicy,
    };
    sweep(host, (this.#coarseNow = this.#clock.now()));
    if (this.#agents.size > MAX_IDLE_AGENTS) this.#agents.prune(MAX_IDLE_AGENTS);
    this.#filler.kick();
  }

  #removeIdle(slot: Slot<T>): void {
    const idle = this.#idle;
    const last = idle.pop()!;
    if (last !== slot) {
      idle[slot.idleIndex] = last;
      last.idleIndex = slot.idleIndex;
    }
    slot.idleIndex = -1;
  }

  #deficit(creating: number): number {
    const open = this.#slots.size;
    const wanted = Math.min(this.#cap, Math.max(this.options.minConnections, this.#used + this.#queue.takeable));
    const room = this.#cap - open - creating - this.#closing;
    return Math.min(room, wanted - open - creating);
  }

  #adopt(connection: T, createMs: number): void {
    this.#counters.created++;
    this.#metrics.created(createMs);
    const overflow = this.#slots.size >= this.#max;
    if (overflow) this.#overflowCount++;
    const now = this.#clock.now();
    const o = this.options;
    // Jitter lifetimes and keepalives so connections opened together are not retired together.
    const expiresAt = o.maxLifetimeMs > 0 ? now + o.maxLifetimeMs * (1 - Math.random() * o.lifetimeJitter) : Infinity;
    const keepaliveAt = o.keepaliveMs > 0 ? now + o.keepaliveMs * (1 - Math.random() * 0.2) : Infinity;
    const slot = new Slot(this.#nextId++, connection, now, this.#generation, overflow, expiresAt, keepaliveAt);
    this.#slots.add(slot);
    this.#updateHealth();
    void this.#return(slot);
  }

  #createFailed(error: unknown, failures: number): void {
    this.#counters.createErrors++;
    this.#metrics.createFailed(error);
    this.#emit("createerror", { error, failures });
    this.#updateHealth();
  }

  /** Creates are failing and there is room under the cap: the database, not the pool, is the limit. */
  #unavailable(): boolean {
    return this.#filler.failures > 0 && this.#slots.size + this.#closing < this.#cap;
  }

  #updateHealth(): void {
    const next = healthOf({ failing: this.#filler.failures > 0, open: this.#slots.size, closed: this.#closed });
    if (next === this.#health) return;
    const from = this.#health;
    this.#health = next;
    this.#emit("statechange", { from, to: next, cause: next === "healthy" ? undefined : this.#filler.lastError });
  }

  #track(work: Promise<void>): Promise<void> {
    this.#work.add(work);
    const done = (): void => void this.#work.delete(work);
    work.then(done, done);
    return work;
  }

  #emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
