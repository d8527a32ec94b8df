/**
 * Offered load for `agentpool stress --calibrate`: a pacer hands out evenly spaced start times at
 * a fixed rate, shared by all agents, so the team offers that many transactions per second
 * whatever the database's speed (as long as enough agents are free to take the slots).
 *
 * @module
 */

import { sleep } from "./sleep.ts";

/**
 * Paces transactions at `ratePerS` across every caller of {@linkcode wait}.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * const pacer = new Pacer(500); // 500 transactions per second in all
 * await pacer.wait(stop.signal); // before each transaction
 * ```
 */
export class Pacer {
  readonly ratePerS: number;
  readonly #gapMs: number;
  #next = 0;

  constructor(ratePerS: number) {
    if (!(ratePerS > 0) || !Number.isFinite(ratePerS)) {
      throw new RangeError(`Cannot create pacer as 'ratePerS' must be a positive number: current value is ${ratePerS}`);
    }
    this.ratePerS = ratePerS;
    this.#gapMs = 1000 / ratePerS;
  }

  /**
   * Resolves at this caller's slot (at once when the slot has passed), or when `signal` aborts.
   * Slots missed while nobody was free are not made up in a burst: the schedule restarts from now.
   */
  wait(signal: AbortSignal): Promise<void> {
    const now = performance.now();
    this.#next = Math.max(this.#next + this.#gapMs, now - this.#gapMs);
    const delay = this.#next - now;
    return delay <= 0 ? Promise.resolve() : sleep(delay, signal);
  }
}
