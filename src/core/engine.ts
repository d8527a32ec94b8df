/**
 * The pool's machinery behind {@linkcode AsyncConnectionPool}: one borrow path (acquire → the
 * fast path, or #wait) and one return path (release → #return), every state change in
 * `ConnectionSet` (move, and its short paths lend and shelve). Internal: users see the pool class.
 *
 * @module
 */

import { type AgentRecord, AgentRegistry, DEFAULT_AGENT_ID } from "./agents.ts";
import type { Clock } from "./clock.ts";
import { ConnectionSet } from "./connections.ts";
import type { AgentContext } from "./context.ts";
import { newCounters, type PoolCounters } from "./counters.ts";
import { ancestryOf } from "./deadlock.ts";
import { type ExhaustedReason, PoolClosedError } from "./errors.ts";
import { exhaustedError } from "./exhausted.ts";
import type { ConnectionFactory } from "./factory.ts";
import { Filler } from "./filler.ts";
import { Governor } from "./governance.ts";
import { PooledConnection, type ReleaseLease } from "./handle.ts";
import { Housekeeper, housekeepingIntervalMs, sweep } from "./housekeeper.ts";
import { type LeaseView, viewed } from "./lease_view.ts";
import type { PoolMetrics } from "./metrics.ts";
import { checkDuration, type ResolvedPoolOptions } from "./options.ts";
import { Recovery } from "./recovery.ts";
import { Resets } from "./reset.ts";
import { Slot } from "./slot.ts";
import { stateCounts, topHolders } from "./snapshots.ts";
import type { AcquireOptions } from "./pool.ts";
import { type NestedRefusal, WaitingRoom } from "./waiting_room.ts";
import type { FairQueue, Waiter } from "./waiters.ts";

const RESOLVED: Promise<void> = Promise.resolve();
/** Agents that hold and wait for nothing are forgotten beyond this many, oldest first. */
const MAX_IDLE_AGENTS = 10_000;

/** Counts a wait that ended with a connection. */
function waited(agent: AgentRecord, waitMs: number): void {
  agent.totalWaitMs += waitMs;
  if (waitMs > agent.maxWaitMs) agent.maxWaitMs = waitMs;
}

/** The caller's stack for leak reports (`captureStacks`); out of line, so #lease stays small. */
function acquireStack(): string | undefined {
  return new Error("acquired here").stack;
}

const NO_GRAPH = Object.freeze({ used: [] as readonly Slot<unknown>[], capacityComing: true });

/**
 * State and machinery of one pool. `owner` is the public pool object: it issues the handles.
 *
 * @example
 * ```ts
 * import { type ConnectionFactory, noopMetrics } from "agentpool";
 * import { resolvePoolOptions } from "./options.ts";
 * declare const factory: ConnectionFactory<unknown>;
 * const owner = new EventTarget(); // the public pool object
 * const emit = (type: string, detail: unknown) => owner.dispatchEvent(new CustomEvent(type, { detail }));
 * const engine = new PoolEngine(owner, resolvePoolOptions({ factory }), noopMetrics, emit);
 * const handle = await engine.acquire({ agentId: "a" });
 * ```
 */
export class PoolEngine<T> {
  readonly set: ConnectionSet<T>;
  readonly agents: AgentRegistry;
  readonly room: WaitingRoom;
  readonly filler: Filler<T>;
  readonly recovery: Recovery<T>;
  readonly governor: Governor<T>;
  readonly counters: PoolCounters = newCounters();
  readonly metrics: PoolMetrics;
  readonly context: AgentContext | undefined;
  readonly cap: number;
  closed = false;
  #owner: object;
  #options: ResolvedPoolOptions<T>;
  #factory: ConnectionFactory<T>;
  #clock: Clock;
  #max: number;
  #captureStacks: boolean;
  #preciseTiming: boolean;
  #closeOverflowAtOnce: boolean;
  /** The factory has isFatal or isBroken. */
  #deathHooks: boolean;
  #housekeeper: Housekeeper;
  #resets: Resets<T>;
  #emit: (type: string, detail: unknown) => void;
  #nextId = 1;
  // The fast paths' view (see acquire and #release): fixed references and flags, read without a hop.
  #idle: Slot<T>[];
  #queue: FairQueue;
  /** No death hooks and no stack capture: the fast paths may run. */
  #plain: boolean;
  /** Also no `reset`: the return's fast path may run. */
  #plainReturn: boolean;
  #validateAfterIdleMs: number;
  /**
   * Held leases that have run a call tree (withLease). While none has, no acquire can be a child
   * of a lease, so the borrow path skips reading the context (an AsyncLocalStorage lookup: ~0.1 µs
   * on Deno). Kept exact by #lease/#endLease; the model test checks it against the slots.
   */
  #scopedLeases = 0;
  /** Clock of the borrow/return fast path: the real one, or with `preciseTiming: false` the coarse time below. */
  #leaseNow: () => number;
  /** The last time any slow path or the housekeeper read the clock. */
  #coarseNow: number;
  #releaseLease: ReleaseLease = (_handle, lease, error) => this.#release(lease as Slot<T>, error);

  constructor(owner: object, o: ResolvedPoolOptions<T>, metrics: PoolMetrics, emit: (type: string, detail: unknown) => void) {
    this.#owner = owner;
    this.#options = o;
    this.#factory = o.factory;
    this.#clock = o.clock;
    this.metrics = metrics;
    this.context = o.context;
    this.#emit = emit;
    this.#max = o.maxConnections;
    this.cap = o.maxConnections + o.overflow;
    this.#captureStacks = o.captureStacks;
    this.#preciseTiming = o.preciseTiming;
    this.#closeOverflowAtOnce = o.overflowIdleMs === 0;
    this.#deathHooks = o.factory.isFatal !== undefined || o.factory.isBroken !== undefined;
    this.#coarseNow = o.clock.now();
    this.#leaseNow = o.preciseTiming ? () => o.clock.now() : () => this.#coarseNow;
    this.agents = new AgentRegistry(o.quotaOf);
    this.set = new ConnectionSet(o.factory, {
      closed: () => {
        this.counters.destroyed++;
        this.recovery.updateHealth(this.closed);
        this.filler.kick();
        metrics.destroyed();
      },
      failed: (error, slot) => emit("error", { error, connectionId: slot.id, during: "destroy" }),
    });
    this.#idle = this.set.idle;
    this.#plain = !this.#deathHooks && !this.#captureStacks;
    this.#plainReturn = this.#plain && o.factory.reset === undefined;
    this.room = new WaitingRoom(o.clock, this.counters, {
      errorFor: (reason, agent, waitedMs, nested) => this.#exhaustedError(reason, agent, waitedMs, nested),
      expiryReason: (agent) =>
        agent.held >= agent.quota
          ? "agent_quota"
          : this.recovery.unavailable(this.cap)
          ? (this.recovery.failure?.atCapacity ? "at_capacity" : "unavailable")
          : "timeout",
      rejected: (agentId, reason) => metrics.rejected(agentId, reason),
    });
    this.#queue = this.room.queue;
    this.filler = new Filler(o.factory, o.clock, {
      deficit: (creating, active) => this.#deficit(creating, active),
      adopt: (connection, createMs) => this.#adopt(connection, createMs),
      createFailed: (error, failures) => {
        this.counters.createErrors++;
        this.recovery.createFailed(error);
        this.recovery.updateHealth(this.closed);
        metrics.createFailed(error);
        emit("createerror", { error, failures });
      },
    }, o);
    this.recovery = new Recovery(o, this.set, this.counters, this.filler, {
      returnSlot: (slot) => void this.#return(slot),
      checkFailed: () => {
        this.serveFromIdle();
        this.filler.kick();
      },
      emit,
    });
    this.#validateAfterIdleMs = this.recovery.validateAfterIdleMs;
    this.governor = new Governor(o, this.agents, this.set, this.counters, {
      reclaimLease: (slot) => {
        const agentId = slot.agent!.agentId;
        metrics.released(agentId, this.#endLease(slot, this.#clock.now(), true));
      },
      refuseWaiters: (agent) => this.room.refuseAll(agent),
      check: (slot) => this.recovery.check(slot, "keepalive"),
      metrics,
      emit,
    });
    this.#resets = new Resets(o.factory, this.set, {
      returnSlot: (slot, now) => this.#return(slot, now),
      failed: (error, slot) => emit("error", { error, connectionId: slot.id, during: "reset" }),
    });
    this.#housekeeper = new Housekeeper(o.clock, housekeepingIntervalMs(o), () => this.#sweep());
    this.#housekeeper.start();
    this.filler.kick();
  }

  /**
   * The borrow path. Its common case runs here straight through: an explicit agentId, no
   * `timeoutMs` or `signal`, the agent below its quota with none of its acquires waiting, and the
   * top idle connection fit to hand out as is (not expired, no check due), in a plain pool (no
   * death hooks, no stack capture). Everything else goes to #acquire, which decides that case the
   * same way. #lease written out: Bun's JIT does not inline that call, which cost ~20 ns of its
   * ~90 ns acquire+release cycle (fake clock). With `view`, resolves to `view(handle)` (lease_view.ts).
   */
  acquire<R = PooledConnection<T>>(options: AcquireOptions | undefined, view?: LeaseView<T, R>): Promise<R> {
    let agent: AgentRecord | undefined;
    if (options !== undefined && options.timeoutMs === undefined && options.signal === undefined && this.#plain) {
      // Only string ids are ever keys; any other value finds nothing and is refused by #acquire.
      agent = this.agents.find(options.agentId as string);
      const idle = this.#idle;
      if (
        agent !== undefined && idle.length > 0 && agent.pending === 0 && agent.held < agent.quota && !agent.revoked &&
        !this.closed && !this.recovery.suspicious
      ) {
        const slot = idle[idle.length - 1];
        const now = this.#leaseNow();
        if (now < slot.expiresAt && now - slot.checkedAt <= this.#validateAfterIdleMs) {
          this.set.lend(slot);
          slot.agent = agent;
          slot.heldSince = now;
          slot.uses++;
          this.counters.acquired++;
          agent.acquired++;
          if (++agent.held >= agent.quota) this.#queue.leave(agent);
          const handle = new PooledConnection<T>(this.#owner, this.#releaseLease, slot, slot.id, agent.agentId, slot.connection);
          slot.lease = handle;
          this.metrics.acquired(agent.agentId, 0);
          return view === undefined ? Promise.resolve(handle as R) : viewed(handle, view);
        }
      }
    }
    return this.#acquire(options, agent, view);
  }

  /**
   * The borrow path in general: the fast path when a connection is idle and nobody waits ahead,
   * else #wait. `known` is the record of `options.agentId` if acquire() already looked it up.
   */
  #acquire<R>(options: AcquireOptions | undefined, known: AgentRecord | undefined, view: LeaseView<T, R> | undefined): Promise<R> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    const agentId = options?.agentId ?? this.context?.get()?.agentId ?? DEFAULT_AGENT_ID;
    if (typeof agentId !== "string" || agentId === "") {
      return Promise.reject(
        new TypeError(`Cannot acquire as 'agentId' must be a non-empty string: current value is ${String(agentId)}`),
      );
    }
    let agent = known ?? this.agents.find(agentId);
    if (agent === undefined) {
      const created = this.#newAgent(agentId);
      if (created instanceof Error) return Promise.reject(created); // a bad agentQuotas value for this agent
      agent = created;
    }
    // The fast path: an idle connection, nobody of this agent ahead, below its quota. A timeoutMs
    // that #wait would refuse (not a positive number) sends the call there.
    const timeoutMs = options?.timeoutMs;
    if (
      this.set.idle.length > 0 && agent.pending === 0 && agent.held < agent.quota && !agent.revoked &&
      (timeoutMs === undefined || (typeof timeoutMs === "number" && timeoutMs > 0))
    ) {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const now = this.#leaseNow();
      const slot = this.#takeIdle(now);
      if (slot !== null) {
        const handle = this.#lease(slot, agent, 0, now);
        return view === undefined ? Promise.resolve(handle as R) : viewed(handle, view);
      }
    }
    return this.#wait(agent, options, view);
  }

  /** A first acquire of `agentId`: its record, or the error of a bad `agentQuotas` value (kept off the fast path). */
  #newAgent(agentId: string): AgentRecord | Error {
    try {
      return this.agents.get(agentId);
    } catch (error) {
      return error instanceof Error ? error : new RangeError(String(error));
    }
  }

  /** Closes: waiters rejected, idle connections and creates closed, timers cleared. */
  async close(): Promise<void> {
    this.closed = true;
    this.#housekeeper.stop();
    this.room.close(this.agents.values(), new PoolClosedError("The pool was closed while this acquire waited"));
    while (this.set.idle.length > 0) void this.set.destroy(this.set.idle[this.set.idle.length - 1]);
    await this.filler.close();
    await this.set.settle();
    this.recovery.updateHealth(true);
  }

  #lease(slot: Slot<T>, agent: AgentRecord, waitMs: number, now: number, stack?: string): PooledConnection<T> {
    if (slot.place !== "used") this.set.lend(slot); // a hand-off from a release: still used
    slot.agent = agent;
    slot.heldSince = now;
    slot.uses++;
    this.counters.acquired++;
    agent.acquired++;
    if (++agent.held >= agent.quota) this.#queue.leave(agent);
    if (waitMs > 0) waited(agent, waitMs);
    const handle = new PooledConnection<T>(this.#owner, this.#releaseLease, slot, slot.id, agent.agentId, slot.connection);
    slot.lease = handle;
    // A waiter's stack was taken when it called acquire(); here we may be in a hand-off (a release
    // or a create), whose stack would name the pool's internals instead of the caller.
    if (this.#captureStacks) slot.stack = stack ?? acquireStack();
    this.metrics.acquired(agent.agentId, waitMs);
    return handle;
  }

  /**
   * The top idle connection if it can be handed out as is. Expired or broken ones are closed on
   * the way; null when none is left or the top one must be checked first (see serveFromIdle).
   */
  #takeIdle(now: number): Slot<T> | null {
    const idle = this.set.idle;
    while (idle.length > 0) {
      const slot = idle[idle.length - 1];
      if (now >= slot.expiresAt || (this.#deathHooks && this.#dead(slot, undefined))) {
        void this.set.destroy(slot);
      } else {
        // Inline of recovery.needsCheck (the fast path): idle too long, or the pool is suspicious.
        const recovery = this.recovery;
        return now - slot.checkedAt > recovery.validateAfterIdleMs || recovery.suspicious ? (recovery.needsCheck(slot, now) ? null : slot) : slot;
      }
    }
    return null;
  }

  #wait<R>(agent: AgentRecord, options: AcquireOptions | undefined, view: LeaseView<T, R> | undefined): Promise<R> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let timeoutMs = this.#options.acquireTimeoutMs;
    if (options?.timeoutMs !== undefined) {
      try {
        timeoutMs = checkDuration("timeoutMs", options.timeoutMs, true, "acquire");
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (agent.revoked) return Promise.reject(this.room.refuse("revoked", agent));
    const ancestry = this.#scopedLeases === 0 ? null : ancestryOf(this.context?.get()?.lease, this.#owner);
    if (this.room.queue.size >= this.#options.maxWaiting) return Promise.reject(this.room.refuse("queue_full", agent));
    const now = (this.#coarseNow = this.#clock.now());
    const graph = ancestry === null ? NO_GRAPH : { used: this.set.used, capacityComing: this.set.capacityComing(this.cap, this.filler.creating) };
    return this.room.wait(agent, now, timeoutMs, signal, ancestry, graph, this.#captureStacks, this.#onQueued, view);
  }

  /** `handle`'s lease runs a call tree: acquires inside it may be its children (see #scopedLeases). */
  scope(handle: PooledConnection<T>): void {
    const slot = PooledConnection.leaseOf(handle, this.#owner) as Slot<T> | undefined;
    if (slot === undefined || slot.scoped) return;
    slot.scoped = true;
    this.#scopedLeases++;
  }

  /** How many held leases have run a call tree (for the invariant checks). */
  get scopedLeases(): number {
    return this.#scopedLeases;
  }

  /** A waiter joined: serve it from idle connections (checking one for it if need be), or create. */
  #onQueued = (): void => {
    if (this.set.idle.length > 0) this.serveFromIdle();
    // At the cap nothing can be opened: skip the filler's demand count (this runs per queued acquire).
    if (this.#roomToOpen(this.filler.creating) > 0) this.filler.kick();
  };

  #exhaustedError(reason: ExhaustedReason, agent: AgentRecord, waitedMs: number, nested?: NestedRefusal): Error {
    return exhaustedError(reason, agent, waitedMs, {
      // Not stats(): a burst of timeouts must not walk every agent once per failed waiter.
      stats: stateCounts(this.set, this.cap, this.#max, this.room.queue.size, this.filler.creating),
      holders: topHolders(this.set.used, this.#clock.now(), 3),
      maxWaiting: this.#options.maxWaiting,
      failure: this.recovery.failure,
      nested,
    });
  }

  /** The return path: end the lease, then retire, reset or hand the connection on. */
  #release(slot: Slot<T>, error: unknown): Promise<void> {
    const now = this.#leaseNow();
    const agent = slot.agent!;
    // The common case straight through (see acquire): no error, a plain pool without reset, the
    // connection alive and current, no waiter of this agent, the lease not run as a call tree:
    // #endLease written out, then #return: the next waiter, a close above the steady size, or idle.
    if (
      error === undefined && this.#plainReturn && now < slot.expiresAt && agent.head === null && !slot.scoped &&
      slot.cancelling === undefined && slot.place === "used" && !this.closed && slot.generation >= this.recovery.generation
    ) {
      const heldMs = now - slot.heldSince;
      slot.agent = null;
      slot.lease = undefined;
      slot.leakReported = slot.holdReported = false;
      slot.lastUsedAt = slot.checkedAt = now;
      agent.held--;
      agent.totalHoldMs += heldMs;
      if (heldMs > agent.maxHoldMs) agent.maxHoldMs = heldMs;
      this.counters.released++;
      this.recovery.suspicious = false; // it came back alive: the server is there
      const waiter = this.#queue.shift();
      let done = RESOLVED;
      if (waiter !== null) this.#handOff(slot, waiter, this.#preciseTiming ? now : undefined);
      else if (this.#closeOverflowAtOnce && this.set.open > this.#max) done = this.set.destroy(slot);
      else this.set.shelve(slot);
      this.metrics.released(agent.agentId, heldMs);
      return done;
    }
    let done = RESOLVED;
    const fatal = this.#deathHooks && this.#dead(slot, error);
    const heldMs = this.#endLease(slot, now, false);
    if (fatal) {
      // Dead: out of circulation now, closed in the background (close() still waits for it). The
      // caller, who already has its error, must not wait for the driver to give up on a reset
      // socket (postgres.js on Bun: the whole endTimeoutMs, 5 s, after pg_terminate_backend).
      void this.set.destroy(slot);
      this.recovery.onFatal();
    } else if (now >= slot.expiresAt) {
      this.recovery.suspicious = false; // it came back alive: the server is there
      done = this.set.destroy(slot);
    } else {
      this.recovery.suspicious = false;
      slot.checkedAt = now;
      const current = this.#preciseTiming ? now : undefined;
      done = slot.cancelling !== undefined || this.#factory.reset !== undefined
        ? this.#resets.reset(slot, current)
        : this.#return(slot, current);
    }
    if (agent.head !== null && this.set.idle.length > 0) this.serveFromIdle();
    this.metrics.released(agent.agentId, heldMs);
    if (error !== undefined) this.metrics.errored?.(agent.agentId, error);
    return done;
  }

  /**
   * Is the connection gone: `error` fatal (`isFatal`) or the connection known broken (`isBroken`)?
   * A hook that throws counts as yes (reported on `error`), never as a throw out of release().
   * Callers ask only when the factory has one of the hooks (#deathHooks), off the hot path.
   */
  #dead(slot: Slot<T>, error: unknown): boolean {
    try {
      return (error !== undefined && this.#factory.isFatal?.(error) === true) || this.#factory.isBroken?.(slot.connection) === true;
    } catch (hookError) {
      this.#emit("error", { error: hookError, connectionId: slot.id, during: "factory.isFatal / factory.isBroken" });
      return true;
    }
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
    if (slot.scoped) {
      slot.scoped = false;
      this.#scopedLeases--;
    }
    agent.held--;
    agent.totalHoldMs += heldMs;
    if (heldMs > agent.maxHoldMs) agent.maxHoldMs = heldMs;
    if (reclaimed) {
      agent.reclaimed++;
      this.counters.reclaimed++;
    } else {
      this.counters.released++;
    }
    // Below its quota again: its waiters rejoin the rotation (served by this connection or an idle one).
    if (agent.head !== null) this.room.queue.admit(agent);
    return heldMs;
  }

  /** A free connection goes to the next waiter, else is closed if above max, else idles. */
  #return(slot: Slot<T>, now?: number): Promise<void> {
    if (this.closed || slot.generation < this.recovery.generation) return this.set.destroy(slot);
    const waiter = this.room.queue.shift();
    if (waiter !== null) {
      this.#handOff(slot, waiter, now);
      return RESOLVED;
    }
    // Above the steady size: close now, or let the housekeeper close it after overflowIdleMs.
    if (this.#closeOverflowAtOnce && this.set.open > this.#max) return this.set.destroy(slot);
    this.set.shelve(slot);
    return RESOLVED;
  }

  #handOff(slot: Slot<T>, waiter: Waiter, at?: number): void {
    this.room.settle(waiter);
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
  serveFromIdle(): void {
    const idle = this.set.idle;
    const queue = this.room.queue;
    while (!this.closed && !queue.rotationEmpty && idle.length > 0) {
      const now = this.#clock.now();
      const slot = this.#takeIdle(now);
      if (slot !== null) {
        this.#handOff(slot, queue.shift()!, now);
      } else if (idle.length > 0 && this.recovery.borrowChecks < queue.takeable) {
        this.recovery.check(idle[idle.length - 1], "borrow");
      } else {
        return;
      }
    }
  }

  #sweep(): void {
    if (this.closed) return;
    sweep(this.governor.sweepHost(), (this.#coarseNow = this.#clock.now()));
    if (this.agents.size > MAX_IDLE_AGENTS) this.agents.prune(MAX_IDLE_AGENTS);
    this.filler.kick();
  }

  /** How many creates to start: demand not met by open connections and active creates, within the cap. */
  #deficit(creating: number, active: number): number {
    const set = this.set;
    const open = set.open;
    const wanted = Math.min(this.cap, Math.max(this.#options.minConnections, set.used.length + this.room.queue.takeable));
    return Math.min(this.#roomToOpen(creating), wanted - open - active);
  }

  /** Connections that may still be opened: the cap less open, creating and closing ones. */
  #roomToOpen(creating: number): number {
    return this.cap - this.set.open - creating - this.set.closing.length;
  }

  #adopt(connection: T, createMs: number): void {
    this.counters.created++;
    const now = this.#clock.now();
    const recovery = this.recovery;
    // Jittered lifetime and keepalive: connections opened together are not retired together.
    const slot = new Slot(this.#nextId++, connection, now, recovery.generation, recovery.expiresAt(now), recovery.keepaliveAt(now));
    this.set.move(slot, "idle"); // open from now on; #return hands it on, keeps or closes it
    void this.#return(slot);
    recovery.updateHealth(this.closed);
    this.metrics.created(createMs);
  }
}
