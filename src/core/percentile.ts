/**
 * Percentile rank: the one definition the pool's histograms and the exact (sorted-sample)
 * percentiles of the stress run and the benchmarks share, so their p99s mean the same thing.
 *
 * @module
 */

/**
 * The 1-based nearest rank of fraction `q` (0..1) among `count` values: the smallest rank with at
 * least `q` of the values at or below it (at least 1).
 *
 * @example
 * ```ts
 * import { percentileRank } from "./percentile.ts";
 * percentileRank(0.99, 1000); // 990
 * percentileRank(0, 10); // 1
 * ```
 */
export function percentileRank(q: number, count: number): number {
  return Math.min(count, Math.max(1, Math.ceil(q * count)));
}

/**
 * Nearest-rank percentile of an ascending array of exact values (NaN when empty).
 *
 * @example
 * ```ts
 * import { nearestRank } from "./percentile.ts";
 * nearestRank([1, 2, 3, 4], 0.5); // 2
 * nearestRank([1, 2, 3, 4], 0.99); // 4
 * ```
 */
export function nearestRank(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[percentileRank(q, sorted.length) - 1];
}
