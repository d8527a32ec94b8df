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
import type { PoolMetrics } from "./metrics.ts";
import { checkDuration, type PoolOptions, resolvePoolOptions, type ResolvedPoolOptions } from "./options.ts";
import { type ConnectionInfo, Slot } from "./slot.ts";
import {
  type AgentInfo,
  agentInfo,
  connectionInfo,
  describeState,
  formatMs,
  type PoolStats,
  topHolders,
} from "./snapshots.ts";
import { FairQueue, Waiter } from "./waiters.ts";

const RESOLVED: Promise<void> = Promise.resolve();

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
  #nextId = 1;
  #generation = 0;
  #epoch: number;
  #counters = { acquired: 0, released: 0, timeouts: 0, rejected: 0, aborted: 0, created: 0, destroyed: 0, createErrors: 0 };
  #releaseLease: ReleaseLease = (_handle, lease) => this.#release(lease as Slot<T>);

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
    this.#queue = new FairQueue((agent) => agent.held < this.#maxPerAgent);
    this.#deadlines = new DeadlineTimer(o.clock, (waiter) => this.#expire(waiter));
    this.#filler = new Filler(o.factory, o.clock, {
      deficit: (creating) => this.#deficit(creating),
      adopt: (connection, createMs) => this.#adopt(connection, createMs),
      createFailed: (error, failures) => this.#createFailed(error, failures),
    }, o);
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
    if (this.#idle.length > 0 && agent.pending === 0 && agent.held < this.#maxPerAgent && options?.timeoutMs === undefined) {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const slot = this.#idle.pop()!;
      slot.idleIndex = -1;
      return Promise.resolve(this.#lease(slot, agent, 0, this.#clock.now()));
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
    try {
      // An abort that raced the hand-off: the connection goes back instead of running work.
      options?.signal?.throwIfAborted();
      return await fn(handle.connection, handle);
    } finally {
      if (!handle.released) await handle.release();
    }
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
    this.#deadlines.clear();
    const error = new PoolClosedError("The pool was closed while this acquire waited");
    for (const waiter of this.#queue.drain(this.#agents.values())) {
      this.#unlisten(waiter);
      waiter.reject(error);
    }
    while (this.#idle.length > 0) void this.#destroy(this.#idle[this.#idle.length - 1]);
    await this.#filler.close();
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
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
    return new PooledConnection<T>(this, this.#releaseLease, slot, slot.id, agent.agentId, slot.connection);
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
    // A fast-path candidate that only came here to validate timeoutMs.
    if (this.#idle.length > 0 && agent.pending === 0 && agent.held < this.#maxPerAgent) {
      const slot = this.#idle.pop()!;
      slot.idleIndex = -1;
      return Promise.resolve(this.#lease(slot, agent, 0, this.#clock.now()));
    }
    if (agent.held > 0 && !(this.#quotaGranted && agent.held < this.#maxPerAgent) && this.#atCap()) {
      return this.#refuse("nested_acquire", agent);
    }
    if (this.#queue.size >= this.options.maxWaiting) return this.#refuse("queue_full", agent);
    return new Promise<PooledConnection<T>>((resolve, reject) => {
      const now = this.#clock.now();
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
    const reason = agent.held >= this.#maxPerAgent ? "agent_quota" : "timeout";
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
    };
    const failing = this.#filler.failures > 0;
    const cause = failing ? this.#filler.lastError : undefined;
    const unreachable = failing ? `; the database is unreachable (last connection failure: ${describeError(cause)})` : "";
    const state = describeState(this.stats(), topHolders(this.#slots, this.#clock.now(), 3));
    return new ConnectionPoolExhaustedError(reason, agent.agentId, `${what[reason]} (${state})${unreachable}`, failing ? { cause } : undefined);
  }

  #release(slot: Slot<T>): Promise<void> {
    const agent = slot.agent!;
    const now = this.#clock.now();
    const heldMs = now - slot.heldSince;
    slot.agent = null;
    slot.lastUsedAt = now;
    this.#used--;
    this.#counters.released++;
    agent.held--;
    agent.totalHoldMs += heldMs;
    if (heldMs > agent.maxHoldMs) agent.maxHoldMs = heldMs;
    this.#metrics.released(agent.agentId, heldMs);
    // Below its quota again: its waiters rejoin the rotation.
    if (agent.head !== null) this.#queue.admit(agent);
    if (this.#factory.reset !== undefined) return this.#track(this.#resetThenReturn(slot));
    return this.#return(slot);
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
    const now = this.#clock.now();
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
      this.#filler.kick();
    }
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
    const slot = new Slot(this.#nextId++, connection, this.#clock.now(), this.#generation, overflow);
    this.#slots.add(slot);
    void this.#return(slot);
  }

  #createFailed(error: unknown, failures: number): void {
    this.#counters.createErrors++;
    this.#metrics.createFailed(error);
    this.#emit("createerror", { error, failures });
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
