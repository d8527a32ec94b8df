/**
 * A clock the test drives by hand, for the pool's `clock` option. No real timers are ever started,
 * so Deno's sanitizers stay quiet and Bun (whose node:test has no mock timers) works the same.
 *
 * @module
 */
import type { Clock } from "../../src/core/clock.ts";

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** Settles pending promise chains: a few hundred microtask turns, no macrotask, no real timer. */
export async function flush(rounds = 200): Promise<void> {
  for (let i = 0; i < rounds; i++) await null;
}

/**
 * A {@linkcode Clock} whose time moves only through {@linkcode ManualClock.advance}.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const pool = new AsyncConnectionPool({ factory, clock });
 * await clock.advance(5000); // fires due timers in order, settling promises in between
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, Timer>();
  /** Every `setTimeout` call: its delay, in call order. */
  readonly scheduled: number[] = [];
  /** Number of `clearTimeout` calls that cancelled a live timer. */
  cleared = 0;

  constructor(start = 1000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    if (typeof fn !== "function") throw new TypeError("ManualClock.setTimeout needs a function");
    if (!(ms >= 0)) throw new RangeError(`ManualClock.setTimeout got a bad delay: ${ms}`);
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + ms, fn });
    this.scheduled.push(ms);
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (this.#timers.delete(handle as number)) this.cleared++;
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Delays of the live timers (for assertions such as "one deadline timer"). */
  pendingDelays(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now);
  }

  /** Number of `setTimeout` calls so far. */
  get setTimeoutCalls(): number {
    return this.scheduled.length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, earliest first (ties in
   * scheduling order), at its own time, and settling microtasks after each one. Timers that fire
   * schedule new timers which also run if they fall due within the window.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms})`);
    const target = this.#now + ms;
    await flush();
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.at > target) break;
      this.#timers.delete(next.id);
      if (next.at > this.#now) this.#now = next.at;
      next.fn();
      await flush();
    }
    this.#now = target;
    await flush();
  }

  /** Advances to the next due timer (if any) and fires it. Returns false when none is scheduled. */
  async runNext(): Promise<boolean> {
    const next = this.#earliest();
    if (next === undefined) return false;
    await this.advance(Math.max(0, next.at - this.#now));
    return true;
  }

  #earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    }
    return best;
  }
}
