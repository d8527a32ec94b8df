/**
 * The waiting room: pending acquires in the fair queue, their deadlines on one shared timer, the
 * child acquires (those inside a lease of the pool, the only ones hold-and-wait concerns), and
 * every way an acquire that found no connection ends without one: refused at the door (bad
 * timeout, aborted, revoked, queue full, nested), or later (deadline, abort, revoke, close).
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";
import type { Clock } from "./clock.ts";
import type { PoolCounters } from "./counters.ts";
import { type Ancestry, stuckWaiters } from "./deadlock.ts";
import { DeadlineTimer } from "./deadlines.ts";
import type { ExhaustedReason } from "./errors.ts";
import { type LeaseView, viewGrant } from "./lease_view.ts";
import { checkDuration } from "./pool_checks.ts";
import type { AcquireOptions } from "./pool.ts";
import type { Slot } from "./slot.ts";
import { FairQueue, Waiter } from "./waiters.ts";

const NOOP = (): void => {};
/** The functions of the promise `capture` was last given, read right after `new Promise(capture)`. */
const captured: { resolve: (value: unknown) => void; reject: (reason: unknown) => void } = { resolve: NOOP, reject: NOOP };

function capture(resolve: (value: never) => void, reject: (reason: unknown) => void): void {
  captured.resolve = resolve as (value: unknown) => void;
  captured.reject = reject;
}

/** The parent lease and the cycle of waits of a refused nested acquire. */
export interface NestedRefusal {
  readonly parentId: number;
  readonly cycle: string;
}

/** The pool's bounds on waiting. */
export interface WaitLimits {
  /** How long a wait lasts unless the acquire names its own `timeoutMs`. */
  readonly acquireTimeoutMs: number;
  /** Acquires beyond this many waiting are refused at once. */
  readonly maxWaiting: number;
  /** Take each waiter's stack for leak reports. */
  readonly captureStacks: boolean;
}

/** What a child acquire's hold-and-wait check needs to know of the pool at the time it waits. */
export interface WaitGraph {
  readonly used: readonly Slot<unknown>[];
  readonly capacityComing: boolean;
}

/** What the waiting room needs from the pool. */
export interface WaitingRoomHost {
  /** The error for a wait that ends without a connection. */
  errorFor(reason: ExhaustedReason, agent: AgentRecord, waitedMs: number, nested?: NestedRefusal): Error;
  /** Why a wait that reached its deadline failed: its quota, the database, or the cap. */
  expiryReason(agent: AgentRecord): ExhaustedReason;
  /** Reports a failed acquire to the metrics sink (after the waiter was settled). */
  rejected(agentId: string, reason: ExhaustedReason): void;
}

/**
 * Pending acquires and how their waits end.
 *
 * @example
 * ```ts
 * import { systemClock } from "agentpool";
 * import { newCounters } from "./counters.ts";
 * import type { Waiter } from "./waiters.ts";
 * declare const host: WaitingRoomHost; // the pool: the errors and metrics of failed waits
 * declare const waiter: Waiter; // a pending acquire
 * const limits = { acquireTimeoutMs: 5000, maxWaiting: 1000, captureStacks: false };
 * const room = new WaitingRoom(systemClock, newCounters(), limits, host);
 * room.enqueue(waiter, 5000);
 * const next = room.queue.shift();
 * ```
 */
export class WaitingRoom {
  /** The fair queue across agents (round-robin, FIFO within an agent, quota-aware). */
  readonly queue: FairQueue = new FairQueue((agent) => agent.held < agent.quota);
  /** Waiters whose acquire runs inside a lease of this pool. */
  readonly children: Set<Waiter> = new Set();
  #deadlines: DeadlineTimer<Waiter>;
  #clock: Clock;
  #counters: PoolCounters;
  #limits: WaitLimits;
  #host: WaitingRoomHost;

  constructor(clock: Clock, counters: PoolCounters, limits: WaitLimits, host: WaitingRoomHost) {
    this.#clock = clock;
    this.#counters = counters;
    this.#limits = limits;
    this.#host = host;
    this.#deadlines = new DeadlineTimer(clock, (waiter) => this.#expire(waiter));
  }

  /**
   * Waits for a connection, or refuses at once: an aborted `signal`, a bad `timeoutMs`, a revoked
   * agent, a full queue, or an acquire inside a lease of the pool (`ancestry`) that can never be
   * served (deadlock.ts). A queued wait runs `queued()`. With `view`, the grant resolves the wait
   * with `view(handle)` (lease_view.ts).
   */
  wait<R>(
    agent: AgentRecord,
    options: AcquireOptions | undefined,
    now: number,
    ancestry: Ancestry | null,
    graph: WaitGraph,
    queued: () => void,
    view?: LeaseView<never, unknown>,
  ): Promise<R> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let timeoutMs = this.#limits.acquireTimeoutMs;
    if (options?.timeoutMs !== undefined) {
      try {
        timeoutMs = checkDuration("timeoutMs", options.timeoutMs, true, "acquire");
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (agent.revoked) return Promise.reject(this.refuse("revoked", agent));
    if (this.queue.size >= this.#limits.maxWaiting) return Promise.reject(this.refuse("queue_full", agent));
    // No executor closure per wait: `capture` hands the promise's functions over (synchronously).
    const promise = new Promise<R>(capture);
    const resolve = view === undefined ? captured.resolve : viewGrant(view, captured.resolve, captured.reject);
    const waiter = new Waiter(agent, now, now + timeoutMs, signal, resolve, captured.reject);
    captured.resolve = captured.reject = NOOP; // keep no settled promise alive
    try {
      if (ancestry !== null) {
        waiter.ancestry = ancestry;
        const cycle = stuckWaiters(waiter, this.children, graph.used, graph.capacityComing);
        if (cycle !== null) {
          const describe = (w: Waiter): string => `'${w.agent.agentId}' waits inside connection ${w.ancestry!.slots[0].id}`;
          waiter.reject(this.refuse("nested_acquire", agent, { parentId: ancestry.slots[0].id, cycle: cycle.map(describe).join("; ") }));
          return promise;
        }
      }
      if (this.#limits.captureStacks) waiter.stack = new Error("acquired here").stack;
      this.enqueue(waiter, timeoutMs);
      queued();
    } catch (error) {
      // What an executor would do with a throw: the acquire rejects, it never throws.
      waiter.reject(error);
    }
    return promise;
  }

  /** Counts an acquire refused at once (revoked, queue full, nested) and returns its error. */
  refuse(reason: ExhaustedReason, agent: AgentRecord, nested?: NestedRefusal): Error {
    agent.rejected++;
    this.#counters.rejected++;
    const error = this.#host.errorFor(reason, agent, 0, nested);
    this.#host.rejected(agent.agentId, reason);
    return error;
  }

  /** Queues `waiter`, with its deadline unless `timeoutMs` is Infinity, listening to its signal. */
  enqueue(waiter: Waiter, timeoutMs: number): void {
    if (waiter.ancestry !== null) this.children.add(waiter);
    this.queue.enqueue(waiter);
    if (timeoutMs !== Infinity) this.#deadlines.add(waiter);
    if (waiter.signal !== undefined) {
      waiter.onAbort = () => this.#abort(waiter);
      waiter.signal.addEventListener("abort", waiter.onAbort, { once: true });
    }
  }

  /** Takes a waiter out of the queue, the deadline heap, the child set and its signal, before settling it. */
  settle(waiter: Waiter): void {
    this.queue.remove(waiter);
    this.#deadlines.remove(waiter);
    if (waiter.ancestry !== null) this.children.delete(waiter);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
  }

  /** Rejects every waiter of `agent` (it was revoked). */
  refuseAll(agent: AgentRecord): void {
    this.queue.leave(agent);
    while (agent.head !== null) {
      const waiter = agent.head;
      this.settle(waiter);
      agent.rejected++;
      this.#counters.rejected++;
      waiter.reject(this.#host.errorFor("revoked", agent, this.#clock.now() - waiter.enqueuedAt));
      this.#host.rejected(agent.agentId, "revoked");
    }
  }

  /** Rejects every waiter with `error` and clears the deadline timer (the pool closes). */
  close(agents: Iterable<AgentRecord>, error: Error): void {
    this.#deadlines.clear();
    for (const waiter of this.queue.drain(agents)) {
      this.settle(waiter);
      waiter.reject(error);
    }
  }

  #abort(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.settle(waiter);
    waiter.agent.aborted++;
    this.#counters.aborted++;
    waiter.reject(waiter.signal!.reason);
  }

  #expire(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.settle(waiter);
    const agent = waiter.agent;
    const reason = this.#host.expiryReason(agent);
    agent.timeouts++;
    this.#counters.timeouts++;
    waiter.reject(this.#host.errorFor(reason, agent, this.#clock.now() - waiter.enqueuedAt));
    this.#host.rejected(agent.agentId, reason);
  }
}
