/**
 * Time for several simulated processes at once: one shared monotonic time (the "database clock"
 * reads it too), one timer list per process, and processes that can be paused like SIGSTOP
 * (time goes on, their timers do not fire until they are resumed).
 *
 * @module
 */
import type { Clock } from "../../src/core/clock.ts";
import { flush } from "./manual_clock.ts";

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** The shared time; `process()` makes one process's clock. */
export class SharedTime {
  now = 1_000_000;
  readonly #clocks: ProcessClock[] = [];

  /** A clock for one simulated process. */
  process(): ProcessClock {
    const clock = new ProcessClock(this);
    this.#clocks.push(clock);
    return clock;
  }

  /** Moves time forward in `stepMs` steps, firing each running process's due timers (earliest first). */
  async advance(ms: number, stepMs = 10): Promise<void> {
    const target = this.now + ms;
    await flush();
    while (this.now < target) {
      this.now = Math.min(target, this.now + stepMs);
      for (const clock of this.#clocks) await clock.fireDue();
    }
  }
}

/** One process's {@linkcode Clock}: pausable. */
export class ProcessClock implements Clock {
  #timers = new Map<number, Timer>();
  #nextId = 1;
  paused = false;
  constructor(readonly time: SharedTime) {}

  now(): number {
    return this.time.now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.time.now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Fires every due timer in time order (none while paused), settling promises after each. */
  async fireDue(): Promise<void> {
    for (;;) {
      if (this.paused) return;
      let next: Timer | undefined;
      for (const t of this.#timers.values()) if (t.at <= this.time.now && (next === undefined || t.at < next.at)) next = t;
      if (next === undefined) return;
      this.#timers.delete(next.id);
      next.fn();
      await flush();
    }
  }
}

/**
 * The real clock, except that `crash()` makes it forget every timer and ignore new ones: the
 * process it serves stops renewing, like a process that was killed.
 */
export class CrashableClock implements Clock {
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #crashed = false;

  now(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    if (this.#crashed) return undefined;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
    this.#timers.delete(handle as ReturnType<typeof setTimeout>);
  }

  crash(): void {
    this.#crashed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
