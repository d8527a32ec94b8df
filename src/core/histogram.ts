/**
 * A fixed-bucket latency histogram: recording is a binary search over a shared boundary table
 * and one array bump, with no allocation, so it can sit on the pool's hot path. Percentiles are
 * interpolated within a bucket; the buckets are dense (10 per decade, at most 33% wide), so a
 * percentile is within a few percent of the true value. `max`, `sum` and `count` are exact.
 *
 * @module
 */

import { percentileRank } from "./percentile.ts";
import type { Percentiles } from "./metrics.ts";

// 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8 per decade: every Prometheus-style round bound is in it.
const MANTISSAS = [1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8];

/** Rounds away binary noise such as 0.30000000000000004. */
function tidy(value: number): number {
  return Number(value.toPrecision(12));
}

function buildBounds(): Float64Array {
  const bounds: number[] = [];
  for (let exponent = -3; exponent <= 5; exponent++) {
    for (const mantissa of MANTISSAS) bounds.push(tidy(mantissa * 10 ** exponent));
  }
  bounds.push(1_000_000); // 1 µs … 1000 s
  return Float64Array.from(bounds);
}

/**
 * Upper bounds of the histogram buckets, in milliseconds, ascending: 0.001 (1 µs) to 1,000,000
 * (about 17 min). Values above the last bound land in an overflow bucket; values ≤ 0 in a zero
 * bucket, so fast-path acquires (wait 0) report a p50 of exactly 0.
 *
 * @example
 * ```ts
 * import { HISTOGRAM_BOUNDS_MS } from "./histogram.ts";
 * HISTOGRAM_BOUNDS_MS.includes(2.5); // true
 * ```
 */
export const HISTOGRAM_BOUNDS_MS: readonly number[] = Object.freeze([...buildBounds()]);

const BOUNDS: Float64Array = Float64Array.from(HISTOGRAM_BOUNDS_MS);
const N = BOUNDS.length;

/**
 * The bucket bounds exported to Prometheus and OpenTelemetry, in milliseconds: a coarser subset of
 * {@linkcode HISTOGRAM_BOUNDS_MS} (so their cumulative counts are exact), 0.1 ms to 60 s.
 *
 * @example
 * ```ts
 * import { EXPORT_BOUNDS_MS } from "./histogram.ts";
 * EXPORT_BOUNDS_MS.map((ms: number) => ms / 1000); // seconds, as Prometheus `le` labels
 * ```
 */
export const EXPORT_BOUNDS_MS: readonly number[] = Object.freeze([
  0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000,
]);

/** A copy of a histogram's state, for exposition. */
export interface HistogramSnapshot {
  /** Cumulative counts of values ≤ each of `boundsMs` (same order). */
  readonly cumulative: readonly number[];
  /** The bounds `cumulative` refers to, in milliseconds. */
  readonly boundsMs: readonly number[];
  /** Values ≤ 0 (a fast-path acquire waits 0). */
  readonly zeroCount: number;
  readonly count: number;
  /** Sum of all values, in milliseconds. */
  readonly sumMs: number;
  readonly maxMs: number;
}

/**
 * Records durations in milliseconds into fixed buckets and answers percentiles.
 *
 * @example
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * const h = new Histogram();
 * for (const ms of [0, 1, 2, 3, 100]) h.record(ms);
 * h.summary(); // { count: 5, p50: ~2, p99: ~100, p999: ~100, max: 100, mean: 21.2 }
 * ```
 */
export class Histogram {
  // [0] values ≤ 0; [i + 1] values in (BOUNDS[i - 1], BOUNDS[i]]; [N + 1] values above the last bound.
  #counts = new Float64Array(N + 2);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Adds one value (milliseconds). Negative and NaN values count as 0. */
  record(ms: number): void {
    this.#count++;
    if (!(ms > 0)) {
      this.#counts[0]++;
      return;
    }
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
    let lo = 0;
    let hi = N;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (BOUNDS[mid] < ms) lo = mid + 1;
      else hi = mid;
    }
    this.#counts[lo + 1]++;
  }

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** Sum of the values, in milliseconds. */
  get sum(): number {
    return this.#sum;
  }

  /** Largest value, in milliseconds (0 when empty). */
  get max(): number {
    return this.#max;
  }

  /**
   * The value below which fraction `q` (0..1) of the values lie, interpolated within its bucket
   * and never above `max`. 0 when empty.
   */
  percentile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = percentileRank(q, this.#count);
    let below = 0;
    for (let i = 0; i < N + 2; i++) {
      const inBucket = this.#counts[i];
      if (below + inBucket < rank) {
        below += inBucket;
        continue;
      }
      if (i === 0) return 0;
      const lower = i === 1 ? 0 : BOUNDS[i - 2];
      const upper = i <= N ? BOUNDS[i - 1] : this.#max;
      const value = lower + (upper - lower) * ((rank - below) / inBucket);
      return Math.min(value, this.#max);
    }
    return this.#max;
  }

  /** Count, p50, p99, p99.9, max and mean. */
  summary(): Percentiles {
    return {
      count: this.#count,
      p50: this.percentile(0.5),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.#max,
      mean: this.#count === 0 ? 0 : this.#sum / this.#count,
    };
  }

  /**
   * Cumulative counts at `boundsMs`, each of which must be one of {@linkcode HISTOGRAM_BOUNDS_MS}
   * (default {@linkcode EXPORT_BOUNDS_MS}), plus count, sum and max.
   */
  snapshot(boundsMs: readonly number[] = EXPORT_BOUNDS_MS): HistogramSnapshot {
    const cumulative: number[] = [];
    let running = this.#counts[0];
    let next = 0;
    for (const bound of boundsMs) {
      const index = HISTOGRAM_BOUNDS_MS.indexOf(bound);
      if (index < 0) {
        throw new RangeError(`Cannot export histogram as bound ${bound} ms is not one of HISTOGRAM_BOUNDS_MS`);
      }
      if (index < next - 1) throw new RangeError(`Cannot export histogram as bounds must ascend: ${bound} ms is out of order`);
      while (next <= index) running += this.#counts[++next];
      cumulative.push(running);
    }
    return { cumulative, boundsMs: [...boundsMs], zeroCount: this.#counts[0], count: this.#count, sumMs: this.#sum, maxMs: this.#max };
  }
}
