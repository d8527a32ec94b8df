/**
 * The borrow path and the return path, HikariCP's `getConnection()` and its return: acquire →
 * the fast path or a wait; release → end the lease, then retire, reset or hand the connection on.
 * Every state change goes through `ConnectionSet` (move, and its short paths lend and shelve).
 * Creation, closing and housekeeping live elsewhere (supply.ts, engine.ts, housekeeper.ts).
 *
 * @module
 */

import { type AgentRecord, type AgentRegistry, DEFAULT_AGENT_ID } from "./agents.ts";
import type { ConnectionSet } from "./connections.ts";
import type { PoolCounters } from "./counters.ts";
import { isDead } from "./death.ts";
import { CallTrees } from "./deadlock.ts";
import { PoolClosedError } from "./errors.ts";
import type { Filler } from "./filler.ts";
import { PooledConnection, type ReleaseLease } from "./handle.ts";
import { type LeaseView, viewed } from "./lease_view.ts";
import type { PoolMetrics } from "./metrics.ts";
import type { ResolvedPoolOptions } from "./options.ts";
import type { AcquireOptions } from "./pool.ts";
import type { Recovery } from "./recovery.ts";
import type { Resets } from "./reset.ts";
import type { Slot } from "./slot.ts";
import type { Supply } from "./supply.ts";
import type { WaitGraph, WaitingRoom } from "./waiting_room.ts";
import type { FairQueue, Waiter } from "./waiters.ts";

const RESOLVED: Promise<void> = Promise.resolve();
/** The graph of a wait without a parent lease: never read (only child acquires are checked). */
const NO_GRAPH: WaitGraph = Object.freeze({ used: [], capacityComing: true });

/** Counts a wait that ended with a connection. */
function waited(agent: AgentRecord, waitMs: number): void {
  agent.totalWaitMs += waitMs;
  if (waitMs > agent.maxWaitMs) agent.maxWaitMs = waitMs;
}

/** The caller's stack for leak reports (`captureStacks`); out of line, so #lease stays small. */
function acquireStack(): string | undefined {
  return new Error("acquired here").stack;
}

/** The parts of the pool that leases move connections between; all exist before the leases. */
export interface LeaseParts<T> {
  readonly set: ConnectionSet<T>;
  readonly agents: AgentRegistry;
  readonly room: WaitingRoom;
  readonly filler: Filler<T>;
  readonly supply: Supply<T>;
  readonly recovery: Recovery<T>;
  readonly resets: Resets<T>;
  readonly counters: PoolCounters;
  readonly metrics: PoolMetrics;
  readonly cap: number;
}

/**
 * Lends connections to agents and takes them back. `owner` is the public pool object: it issues
 * the handles.
 *
 * @example
 * ```ts
 * import { resolvePoolOptions } from "./options.ts";
 * import type { ConnectionFactory } from "./factory.ts";
 * declare const factory: ConnectionFactory<unknown>;
 * declare const parts: LeaseParts<unknown>; // the pool's collections, queue and helpers (engine.ts)
 * const owner = new EventTarget(); // the public pool object
 * const leases = new Leases(owner, resolvePoolOptions({ factory }), parts, () => {});
 * const handle = await leases.acquire({ agentId: "a" });
 * await handle.release();
 * ```
 */
export class Leases<T> {
  /** Set once by the pool's close(); read by both fast paths. */
  closed = false;
  #owner: object;
  #options: ResolvedPoolOptions<T>;
  #emit: (type: string, detail: unknown) => void;
  // The fast paths' view: fixed references and flags, read without a hop.
  #set: ConnectionSet<T>;
  #idle: Slot<T>[];
  #queue: FairQueue;
  #agents: AgentRegistry;
  #room: WaitingRoom;
  #filler: Filler<T>;
  #supply: Supply<T>;
  #recovery: Recovery<T>;
  #resets: Resets<T>;
  #counters: PoolCounters;
  #metrics: PoolMetrics;
  #cap: number;
  #max: number;
  #captureStacks: boolean;
  #preciseTiming: boolean;
  #closeOverflowAtOnce: boolean;
  /** The factory has isFatal or isBroken. */
  #deathHooks: boolean;
  /** No death hooks and no stack capture: the fast paths may run. */
  #plain: boolean;
  /** Also no `reset`: the return's fast path may run. */
  #plainReturn: boolean;
  #validateAfterIdleMs: number;
  /** Held leases that run a call tree: their acquires may be children (hold-and-wait). */
  #trees: CallTrees;
  /** Clock of the borrow/return fast path: the real one, or with `preciseTiming: false` the coarse time below. */
  #leaseNow: () => number;
  /** The last time any slow path or the housekeeper read the clock. */
  #coarseNow: number;
  #releaseLease: ReleaseLease = (_handle, lease, error) => this.#release(lease as Slot<T>, error);

  constructor(owner: object, o: ResolvedPoolOptions<T>, parts: LeaseParts<T>, emit: (type: string, detail: unknown) => void) {
    this.#owner = owner;
    this.#options = o;
    this.#emit = emit;
    this.#set = parts.set;
    this.#idle = parts.set.idle;
    this.#queue = parts.room.queue;
    this.#agents = parts.agents;
    this.#room = parts.room;
    this.#filler = parts.filler;
    this.#supply = parts.supply;
    this.#recovery = parts.recovery;
    this.#resets = parts.resets;
    this.#counters = parts.counters;
    this.#metrics = parts.metrics;
    this.#trees = new CallTrees(owner, o.context);
    this.#cap = parts.cap;
    this.#max = o.maxConnections;
    this.#captureStacks = o.captureStacks;
    this.#preciseTiming = o.preciseTiming;
    this.#closeOverflowAtOnce = o.overflowIdleMs === 0;
    this.#deathHooks = o.factory.isFatal !== undefined || o.factory.isBroken !== undefined;
    this.#plain = !this.#deathHooks && !this.#captureStacks;
    this.#plainReturn = this.#plain && o.factory.reset === undefined;
    this.#validateAfterIdleMs = parts.recovery.validateAfterIdleMs;
    this.#coarseNow = o.clock.now();
    this.#leaseNow = o.preciseTiming ? () => o.clock.now() : () => this.#coarseNow;
  }

  /**
   * The borrow path. Its common case runs here straight through: an explicit agentId, no
   * `timeoutMs` or `signal`, the agent below its quota with none of its acquires waiting, and the
   * top idle connection fit to hand out as is (not expired, no check due), in a plain pool (no
   * death hooks, no stack capture). Everything else goes to #acquire, which decides that case the
   * same way. #lease written out: Bun's JIT does not inline that call, which cost ~20 ns of its
   * ~90 ns acquire+release cycle (fake clock).
   */
  acquire(options: AcquireOptions | undefined): Promise<PooledConnection<T>> {
    let agent: AgentRecord | undefined;
    if (options !== undefined && options.timeoutMs === undefined && options.signal === undefined && this.#plain) {
      // Only string ids are ever keys; any other value finds nothing and is refused by #acquire.
      agent = this.#agents.find(options.agentId as string);
      const idle = this.#idle;
      if (
        agent !== undefined && idle.length > 0 && agent.pending === 0 && agent.held < agent.quota && !agent.revoked &&
        !this.closed && !this.#recovery.suspicious
      ) {
        const slot = idle[idle.length - 1];
        const now = this.#leaseNow();
        if (now < slot.expiresAt && now - slot.checkedAt <= this.#validateAfterIdleMs) {
          this.#set.lend(slot);
          slot.agent = agent;
          slot.heldSince = now;
          slot.uses++;
          this.#counters.acquired++;
          agent.acquired++;
          if (++agent.held >= agent.quota) this.#queue.leave(agent);
          const handle = new PooledConnection<T>(this.#owner, this.#releaseLease, slot, slot.id, agent.agentId);
          slot.lease = handle;
          this.#metrics.acquired(agent.agentId, 0);
          return Promise.resolve(handle);
        }
      }
    }
    return this.#acquire(options, agent, undefined);
  }

  /**
   * `acquire`, resolving to `view(handle)` (lease_view.ts). It takes the general path: the
   * common case above stays free of the view's branch (Bun's contended cycle measured ~8 % slower
   * with it there).
   */
  acquireAs<R>(options: AcquireOptions | undefined, view: LeaseView<T, R>): Promise<R> {
    return this.#acquire(options, undefined, view);
  }

  /**
   * The borrow path in general: the fast path when a connection is idle and nobody waits ahead,
   * else #wait. `known` is the record of `options.agentId` if acquire() already looked it up.
   */
  #acquire<R = PooledConnection<T>>(options: AcquireOptions | undefined, known: AgentRecord | undefined, view: LeaseView<T, R> | undefined): Promise<R> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    const agentId = options?.agentId ?? this.#options.context?.get()?.agentId ?? DEFAULT_AGENT_ID;
    if (typeof agentId !== "string" || agentId === "") {
      return Promise.reject(
        new TypeError(`Cannot acquire as 'agentId' must be a non-empty string: current value is ${String(agentId)}`),
      );
    }
    const agent = known ?? this.#agents.tryGet(agentId);
    if (agent instanceof Error) return Promise.reject(agent); // a bad agentQuotas value for this agent
    // The fast path: an idle connection, nobody of this agent ahead, below its quota. A timeoutMs
    // that #wait would refuse (not a positive number) sends the call there.
    const timeoutMs = options?.timeoutMs;
    if (
      this.#idle.length > 0 && agent.pending === 0 && agent.held < agent.quota && !agent.revoked &&
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

  #lease(slot: Slot<T>, agent: AgentRecord, waitMs: number, now: number, stack?: string): PooledConnection<T> {
    if (slot.place !== "used") this.#set.lend(slot); // a hand-off from a release: still used
    slot.agent = agent;
    slot.heldSince = now;
    slot.uses++;
    this.#counters.acquired++;
    agent.acquired++;
    if (++agent.held >= agent.quota) this.#queue.leave(agent);
    if (waitMs > 0) waited(agent, waitMs);
    const handle = new PooledConnection<T>(this.#owner, this.#releaseLease, slot, slot.id, agent.agentId);
    slot.lease = handle;
    // A waiter's stack was taken when it called acquire(); here we may be in a hand-off (a release
    // or a create), whose stack would name the pool's internals instead of the caller.
    if (this.#captureStacks) slot.stack = stack ?? acquireStack();
    this.#metrics.acquired(agent.agentId, waitMs);
    return handle;
  }

  /**
   * The top idle connection if it can be handed out as is. Expired or broken ones are closed on
   * the way; null when none is left or the top one must be checked first (see serveFromIdle).
   */
  #takeIdle(now: number): Slot<T> | null {
    const idle = this.#idle;
    while (idle.length > 0) {
      const slot = idle[idle.length - 1];
      if (now >= slot.expiresAt || (this.#deathHooks && isDead(this.#options.factory, slot, undefined, this.#emit))) {
        void this.#set.destroy(slot);
      } else {
        // Inline of recovery.needsCheck (the fast path): idle too long, or the pool is suspicious.
        const recovery = this.#recovery;
        return now - slot.checkedAt > recovery.validateAfterIdleMs || recovery.suspicious ? (recovery.needsCheck(slot, now) ? null : slot) : slot;
      }
    }
    return null;
  }

  /** No connection for `agent` now: wait, or be refused at once (see WaitingRoom.wait). */
  #wait<R>(agent: AgentRecord, options: AcquireOptions | undefined, view: LeaseView<T, R> | undefined): Promise<R> {
    const ancestry = this.#trees.ancestry();
    const graph = ancestry === null
      ? NO_GRAPH
      : { used: this.#set.used, capacityComing: this.#set.capacityComing(this.#cap, this.#filler.creating) };
    const now = (this.#coarseNow = this.#options.clock.now());
    return this.#room.wait(agent, options, now, ancestry, graph, this.#onQueued, view as LeaseView<never, unknown> | undefined);
  }

  /** A waiter joined: serve it from idle connections (checking one for it if need be), or create. */
  #onQueued = (): void => {
    if (this.#idle.length > 0) this.serveFromIdle();
    // At the cap nothing can be opened: skip the filler's demand count (this runs per queued acquire).
    if (this.#supply.roomToOpen(this.#filler.creating) > 0) this.#filler.kick();
  };

  /** `handle`'s lease runs a call tree: acquires inside it may be its children. */
  scope(handle: PooledConnection<T>): void {
    this.#trees.enter(handle);
  }

  /** The housekeeper read the clock: with `preciseTiming: false` leases are timed from this reading. */
  observe(now: number): void {
    this.#coarseNow = now;
  }

  /** The return path: end the lease, then retire, reset or hand the connection on. */
  #release(slot: Slot<T>, error: unknown): Promise<void> {
    const now = this.#leaseNow();
    const agent = slot.agent!;
    // The common case straight through (see acquire): no error, a plain pool without reset, the
    // connection alive and current, no waiter of this agent, the lease not run as a call tree:
    // #endLease written out, then returnSlot: the next waiter, a close above the steady size, or idle.
    if (
      error === undefined && this.#plainReturn && now < slot.expiresAt && agent.head === null && !slot.scoped &&
      slot.cancelling === undefined && slot.place === "used" && !this.closed && slot.generation >= this.#recovery.generation
    ) {
      const heldMs = now - slot.heldSince;
      slot.agent = null;
      slot.lease = undefined;
      slot.leakReported = slot.holdReported = false;
      slot.lastUsedAt = slot.checkedAt = now;
      agent.held--;
      agent.totalHoldMs += heldMs;
      if (heldMs > agent.maxHoldMs) agent.maxHoldMs = heldMs;
      this.#counters.released++;
      this.#recovery.suspicious = false; // it came back alive: the server is there
      const waiter = this.#queue.shift();
      let done = RESOLVED;
      if (waiter !== null) this.#handOff(slot, waiter, this.#preciseTiming ? now : undefined);
      else if (this.#closeOverflowAtOnce && this.#set.open > this.#max) done = this.#set.destroy(slot);
      else this.#set.shelve(slot);
      this.#metrics.released(agent.agentId, heldMs);
      return done;
    }
    let done = RESOLVED;
    const fatal = this.#deathHooks && isDead(this.#options.factory, slot, error, this.#emit);
    const heldMs = this.#endLease(slot, now, false);
    if (fatal) {
      // Dead: out of circulation now, closed in the background (close() still waits for it). The
      // caller, who already has its error, must not wait for the driver to give up on a reset
      // socket (postgres.js on Bun: the whole endTimeoutMs, 5 s, after pg_terminate_backend).
      void this.#set.destroy(slot);
      this.#recovery.onFatal();
    } else if (now >= slot.expiresAt) {
      this.#recovery.suspicious = false; // it came back alive: the server is there
      done = this.#set.destroy(slot);
    } else {
      this.#recovery.suspicious = false;
      slot.checkedAt = now;
      const current = this.#preciseTiming ? now : undefined;
      done = slot.cancelling !== undefined || this.#options.factory.reset !== undefined
        ? this.#resets.reset(slot, current)
        : this.returnSlot(slot, current);
    }
    if (agent.head !== null && this.#idle.length > 0) this.serveFromIdle();
    this.#metrics.released(agent.agentId, heldMs);
    if (error !== undefined) this.#metrics.errored?.(agent.agentId, error);
    return done;
  }

  /** The pool took `slot` back from its holder (hold policy, revoke): the lease ends as reclaimed. */
  reclaim(slot: Slot<T>): void {
    const agentId = slot.agent!.agentId;
    this.#metrics.released(agentId, this.#endLease(slot, this.#options.clock.now(), true));
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
    if (slot.scoped) this.#trees.leave(slot);
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

  /** A free connection goes to the next waiter, else is closed if above max, else idles (`now`: a current clock reading). */
  returnSlot(slot: Slot<T>, now?: number): Promise<void> {
    if (this.closed || slot.generation < this.#recovery.generation) return this.#set.destroy(slot);
    const waiter = this.#queue.shift();
    if (waiter !== null) {
      this.#handOff(slot, waiter, now);
      return RESOLVED;
    }
    // Above the steady size: close now, or let the housekeeper close it after overflowIdleMs.
    if (this.#closeOverflowAtOnce && this.#set.open > this.#max) return this.#set.destroy(slot);
    this.#set.shelve(slot);
    return RESOLVED;
  }

  #handOff(slot: Slot<T>, waiter: Waiter, at?: number): void {
    this.#room.settle(waiter);
    const now = (this.#coarseNow = at ?? this.#options.clock.now());
    const handle = this.#lease(slot, waiter.agent, now - waiter.enqueuedAt, now, waiter.stack);
    this.#queue.admit(waiter.agent);
    waiter.resolve(handle);
  }

  /**
   * Hands idle connections to waiters in the rotation until one or the other runs out. One that
   * must be checked first is validated for the waiter (one check per waiter, never one per idle
   * connection); it comes back through returnSlot, or is closed and the next one is taken.
   */
  serveFromIdle(): void {
    const idle = this.#idle;
    const queue = this.#queue;
    const recovery = this.#recovery;
    while (!this.closed && !queue.rotationEmpty && idle.length > 0) {
      const now = this.#options.clock.now();
      const slot = this.#takeIdle(now);
      if (slot !== null) {
        this.#handOff(slot, queue.shift()!, now);
      } else if (idle.length > 0 && recovery.borrowChecks < queue.takeable) {
        recovery.check(idle[idle.length - 1], "borrow");
      } else {
        return;
      }
    }
  }
}
