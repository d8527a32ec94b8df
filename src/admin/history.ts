/**
 * A short history of the pool's gauges for the dashboard's charts. Sampled lazily, when someone
 * asks for a snapshot and at least `intervalMs` passed, so the router starts no timer of its own.
 *
 * @module
 */

import type { PoolStats } from "../core/mod.ts";

/** One sample: epoch ms and the gauges at that moment. */
export interface HistorySample {
  readonly t: number;
  readonly used: number;
  readonly idle: number;
  readonly pending: number;
  readonly total: number;
  /** Lifetime counters, so a reader can derive rates between samples. */
  readonly acquired: number;
  readonly timeouts: number;
}

/**
 * A ring of the last `capacity` samples, at most one per `intervalMs`.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * import { GaugeHistory } from "./history.ts";
 * declare const pool: AsyncConnectionPool<unknown>;
 * const history = new GaugeHistory(300, 1000);
 * history.sample(pool.stats(), Date.now());
 * history.samples(); // oldest first
 * ```
 */
export class GaugeHistory {
  readonly capacity: number;
  readonly intervalMs: number;
  #ring: HistorySample[] = [];
  #next = 0;

  constructor(capacity: number, intervalMs: number) {
    this.capacity = capacity;
    this.intervalMs = intervalMs;
  }

  /** Records `stats` at `now` unless the last sample is younger than `intervalMs`. */
  sample(stats: PoolStats, now: number): void {
    const last = this.#ring.length === 0 ? undefined : this.#ring[(this.#next + this.capacity - 1) % this.capacity];
    // A small tolerance: a poller on the same interval must not skip every other tick.
    if (last !== undefined && now - last.t < this.intervalMs * 0.8) return;
    const sample: HistorySample = {
      t: now,
      used: stats.used,
      idle: stats.idle,
      pending: stats.pending,
      total: stats.total,
      acquired: stats.acquired,
      timeouts: stats.timeouts,
    };
    if (this.#ring.length < this.capacity) this.#ring.push(sample);
    else this.#ring[this.#next] = sample;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** The samples, oldest first. */
  samples(): HistorySample[] {
    if (this.#ring.length < this.capacity) return [...this.#ring];
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}
