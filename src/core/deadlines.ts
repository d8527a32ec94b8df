/**
 * One shared timer for every acquire deadline. A per-acquire `setTimeout` costs ~0.25 µs on Node
 * and ~1.1 µs on Deno; here a wait pays an O(1) append, and the timer is only re-armed when the
 * earliest deadline moves earlier (with one `acquireTimeoutMs` for all, never).
 *
 * @module
 */

/** `heapIndex` of an entry that sits in the in-order FIFO. */
const IN_FIFO = -2;
/** The FIFO drops its dead prefix once it is this long and at least half the array. */
const COMPACT_AT = 1024;
/** Dead entries the FIFO may keep past its head beyond one per live entry, before it compacts. */
const DEAD_SLACK = 32;

import type { Clock } from "./clock.ts";

/**
 * Something with a deadline. `heapIndex` is owned by the timer: -1 while not scheduled. Entries
 * are one-shot: an entry is added at most once.
 */
export interface Deadline {
  deadlineAt: number;
  heapIndex: number;
}

/**
 * Deadlines driven by a single timer. With one timeout for everyone, deadlines arrive in order:
 * those go to a FIFO (O(1) add; O(1) remove by marking, skipping dead entries at its head). An
 * entry earlier than the FIFO's tail (a shorter per-acquire timeout) goes to a binary min-heap
 * (O(log n)). The timer is left armed after removals and re-arms for the new earliest entry when it
 * fires.
 *
 * @example
 * ```ts
 * import { systemClock } from "agentpool";
 * import { type Deadline, DeadlineTimer } from "./deadlines.ts";
 * const timer = new DeadlineTimer(systemClock, (entry: Deadline) => console.log("expired", entry));
 * timer.add({ deadlineAt: systemClock.now() + 100, heapIndex: -1 });
 * ```
 */
export class DeadlineTimer<E extends Deadline> {
  #heap: E[] = [];
  #fifo: (E | undefined)[] = [];
  #head = 0;
  #live = 0;
  /** Removed entries still in the FIFO past its head (behind a live one). */
  #dead = 0;
  #clock: Clock;
  #onExpire: (entry: E) => void;
  #timer: unknown = undefined;
  #armedAt = Infinity;

  /** `onExpire` runs for each entry whose deadline passed, already removed from the heap. */
  constructor(clock: Clock, onExpire: (entry: E) => void) {
    this.#clock = clock;
    this.#onExpire = onExpire;
  }

  /** Number of scheduled entries. */
  get size(): number {
    return this.#heap.length + this.#live;
  }

  /**
   * Entries the timer still references, scheduled or removed: at most about twice `size`, so a
   * removed entry (a settled waiter, and through it its promise and handle) is soon let go even
   * while an older entry waits at the head.
   */
  get retained(): number {
    return this.#heap.length + this.#live + this.#dead;
  }

  /** Schedules `entry` at `entry.deadlineAt`. */
  add(entry: E): void {
    const fifo = this.#fifo;
    if (this.#live === 0 || entry.deadlineAt >= fifo[fifo.length - 1]!.deadlineAt) {
      entry.heapIndex = IN_FIFO;
      fifo.push(entry);
      this.#live++;
    } else {
      const heap = this.#heap;
      entry.heapIndex = heap.length;
      heap.push(entry);
      this.#up(entry.heapIndex);
    }
    if (entry.deadlineAt < this.#armedAt) this.#arm(entry.deadlineAt);
  }

  /** Unschedules `entry`; a no-op when it is not scheduled. */
  remove(entry: E): void {
    const i = entry.heapIndex;
    if (i === -1) return;
    entry.heapIndex = -1;
    if (i === IN_FIFO) this.#removeFromFifo(entry);
    else this.#removeFromHeap(entry, i);
    // Nothing left to wait for: let the process exit instead of holding a timer.
    if (this.size === 0) this.#disarm();
  }

  /** Unschedules everything and clears the timer. */
  clear(): E[] {
    const entries = [...this.#heap, ...this.#liveInFifo()];
    this.#heap = [];
    this.#fifo = [];
    this.#head = this.#live = this.#dead = 0;
    for (const entry of entries) entry.heapIndex = -1;
    this.#disarm();
    return entries;
  }

  #removeFromFifo(entry: E): void {
    const fifo = this.#fifo;
    if (--this.#live === 0) {
      fifo.length = 0;
      this.#head = this.#dead = 0;
      return;
    }
    if (fifo[this.#head] !== entry) {
      // Behind a live head: it stays in place, counted, until the head passes or a compaction.
      if (++this.#dead > this.#live + DEAD_SLACK) this.#compact();
      return;
    }
    // The head skips past dead entries so #earliest() is O(1) amortised, dropping each one.
    fifo[this.#head] = undefined;
    while (fifo[++this.#head]!.heapIndex !== IN_FIFO) {
      fifo[this.#head] = undefined;
      this.#dead--;
    }
    if (this.#head >= COMPACT_AT && this.#head * 2 >= fifo.length) {
      this.#fifo = fifo.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Keeps only the live entries of the FIFO, in order (amortised O(1): it halves the array at least). */
  #compact(): void {
    this.#fifo = this.#liveInFifo();
    this.#head = this.#dead = 0;
  }

  #liveInFifo(): E[] {
    const live: E[] = [];
    const fifo = this.#fifo;
    for (let i = this.#head; i < fifo.length; i++) if (fifo[i]!.heapIndex === IN_FIFO) live.push(fifo[i]!);
    return live;
  }

  #removeFromHeap(entry: E, i: number): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (last !== entry) {
      heap[i] = last;
      last.heapIndex = i;
      this.#down(i);
      this.#up(last.heapIndex);
    }
  }

  #earliest(): E | undefined {
    const inOrder = this.#live > 0 ? this.#fifo[this.#head]! : undefined;
    const early = this.#heap[0];
    if (inOrder === undefined || (early !== undefined && early.deadlineAt < inOrder.deadlineAt)) return early;
    return inOrder;
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    for (let entry = this.#earliest(); entry !== undefined && entry.deadlineAt <= now; entry = this.#earliest()) {
      this.remove(entry);
      this.#onExpire(entry);
    }
    const next = this.#earliest();
    if (next !== undefined && this.#timer === undefined) this.#arm(next.deadlineAt);
  };

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, at - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  #up(i: number): void {
    const heap = this.#heap;
    const entry = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].deadlineAt <= entry.deadlineAt) break;
      heap[i] = heap[parent];
      heap[i].heapIndex = i;
      i = parent;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const entry = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1].deadlineAt < heap[child].deadlineAt) child++;
      if (heap[child].deadlineAt >= entry.deadlineAt) break;
      heap[i] = heap[child];
      heap[i].heapIndex = i;
      i = child;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }
}
