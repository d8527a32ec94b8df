/**
 * Pending acquires. Each agent keeps its own FIFO; agents that have waiters and may take a
 * connection form a round-robin rotation. A freed connection goes to the head agent's oldest
 * waiter and that agent moves to the back, so an agent queueing 40 requests delays an agent
 * queueing 1 by at most one hand-off. Every operation is O(1).
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";
import type { Ancestry } from "./deadlock.ts";
import type { Deadline } from "./deadlines.ts";

/**
 * One pending acquire. Resolved or rejected exactly once, by the pool.
 *
 * @example
 * ```ts
 * import { AgentRecord } from "./agents.ts";
 * const waiter = new Waiter(new AgentRecord("planner-1", Infinity), 0, 5000, undefined, console.log, console.error);
 * waiter.deadlineAt; // 5000
 * ```
 */
export class Waiter implements Deadline {
  readonly agent: AgentRecord;
  readonly enqueuedAt: number;
  deadlineAt: number;
  heapIndex = -1;
  /** @internal */ prev: Waiter | null = null;
  /** @internal */ next: Waiter | null = null;
  /** @internal */ queued = false;
  // deno-lint-ignore no-explicit-any
  readonly resolve: (value: any) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  /** The abort listener, kept to remove it once the waiter settles. */
  onAbort: (() => void) | undefined = undefined;
  /** The leases of this pool the acquire runs inside (null for none): the wait-for graph's edges. */
  ancestry: Ancestry | null = null;
  /** The caller's acquire stack (with `captureStacks`), taken when it started waiting. */
  stack: string | undefined = undefined;

  constructor(
    agent: AgentRecord,
    enqueuedAt: number,
    deadlineAt: number,
    signal: AbortSignal | undefined,
    // deno-lint-ignore no-explicit-any
    resolve: (value: any) => void,
    reject: (reason: unknown) => void,
  ) {
    this.agent = agent;
    this.enqueuedAt = enqueuedAt;
    this.deadlineAt = deadlineAt;
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/**
 * The fair queue of waiters across agents.
 *
 * @example
 * ```ts
 * import { systemClock } from "agentpool";
 * import { AgentRecord } from "./agents.ts";
 * const queue = new FairQueue((agent) => agent.held < 3);
 * const now = systemClock.now();
 * const waiter = new Waiter(new AgentRecord("planner-1", 3), now, now + 5000, undefined, console.log, console.error);
 * queue.enqueue(waiter);
 * const next = queue.shift(); // oldest waiter of the next agent in rotation
 * ```
 */
export class FairQueue {
  #size = 0;
  #takeable = 0;
  #head: AgentRecord | null = null;
  #tail: AgentRecord | null = null;
  #mayTake: (agent: AgentRecord) => boolean;

  /** `mayTake(agent)` says whether the agent may be handed a connection now (its quota). */
  constructor(mayTake: (agent: AgentRecord) => boolean) {
    this.#mayTake = mayTake;
  }

  /** Waiters pending, including those of agents at their quota. */
  get size(): number {
    return this.#size;
  }

  /** True when no agent in rotation can take a connection. */
  get rotationEmpty(): boolean {
    return this.#head === null;
  }

  /** Appends `waiter` to its agent's FIFO. */
  enqueue(waiter: Waiter): void {
    const agent = waiter.agent;
    waiter.prev = agent.tail;
    waiter.next = null;
    if (agent.tail === null) agent.head = waiter;
    else agent.tail.next = waiter;
    agent.tail = waiter;
    waiter.queued = true;
    agent.pending++;
    this.#size++;
    if (agent.inRotation) this.#takeable++;
    else this.admit(agent);
  }

  /** Removes `waiter` wherever it is in its agent's FIFO; a no-op when it is not queued. */
  remove(waiter: Waiter): void {
    if (!waiter.queued) return;
    const agent = waiter.agent;
    if (waiter.prev === null) agent.head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === null) agent.tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = null;
    waiter.queued = false;
    if (agent.inRotation) this.#takeable--;
    agent.pending--;
    this.#size--;
    if (agent.head === null) this.#leave(agent);
  }

  /**
   * Takes the oldest waiter of the agent at the head of the rotation. The agent leaves the
   * rotation; call {@linkcode admit} after the hand-off to put it back at the tail.
   */
  shift(): Waiter | null {
    const agent = this.#head;
    if (agent === null) return null;
    const waiter = agent.head!;
    this.#leave(agent);
    this.remove(waiter);
    return waiter;
  }

  /** Puts `agent` at the back of the rotation if it has waiters and may take a connection. */
  admit(agent: AgentRecord): void {
    if (agent.inRotation || agent.head === null || !this.#mayTake(agent)) return;
    agent.inRotation = true;
    this.#takeable += agent.pending;
    agent.rotationPrev = this.#tail;
    agent.rotationNext = null;
    if (this.#tail === null) this.#head = agent;
    else this.#tail.rotationNext = agent;
    this.#tail = agent;
  }

  /** Takes `agent` out of the rotation (it reached its quota, or has no waiters left). */
  leave(agent: AgentRecord): void {
    this.#leave(agent);
  }

  /** Removes and returns every waiter (used by `close()`), oldest agent first. */
  drain(agents: Iterable<AgentRecord>): Waiter[] {
    const all: Waiter[] = [];
    for (const agent of agents) {
      while (agent.head !== null) {
        const waiter = agent.head;
        this.remove(waiter);
        all.push(waiter);
      }
    }
    return all;
  }

  /** Waiters of agents that may take a connection now: the demand for new connections. */
  get takeable(): number {
    return this.#takeable;
  }

  #leave(agent: AgentRecord): void {
    if (!agent.inRotation) return;
    agent.inRotation = false;
    this.#takeable -= agent.pending;
    if (agent.rotationPrev === null) this.#head = agent.rotationNext;
    else agent.rotationPrev.rotationNext = agent.rotationNext;
    if (agent.rotationNext === null) this.#tail = agent.rotationPrev;
    else agent.rotationNext.rotationPrev = agent.rotationPrev;
    agent.rotationPrev = agent.rotationNext = null;
  }
}
