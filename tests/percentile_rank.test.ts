/**
 * One percentile definition: exact nearest-rank percentiles (stress run, benchmarks) and the
 * pool's histogram agree on which value is the p-th.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Histogram } from "../src/core/histogram.ts";
import { nearestRank, percentileRank } from "../src/core/percentile.ts";

test("nearestRank: the smallest value with at least q of the values at or below it", () => {
  assert.equal(nearestRank([], 0.5), NaN);
  assert.equal(nearestRank([7], 0), 7);
  assert.equal(nearestRank([1, 2, 3, 4], 0.5), 2);
  assert.equal(nearestRank([1, 2, 3, 4], 0.51), 3);
  assert.equal(nearestRank([1, 2, 3, 4], 1), 4);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(nearestRank(hundred, 0.99), 99);
  assert.equal(nearestRank(hundred, 0.999), 100);
  assert.equal(percentileRank(0, 10), 1, "rank is at least 1");
  assert.equal(percentileRank(2, 10), 10, "rank is at most count");
});

test("a histogram's percentile lands in the bucket of the exact nearest-rank value", () => {
  const values = Array.from({ length: 1000 }, (_, i) => 0.05 * 1.01 ** i); // 0.05 ms .. ~1 s
  const histogram = new Histogram();
  for (const v of values) histogram.record(v);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = nearestRank(values, q);
    const approx = histogram.percentile(q);
    assert.ok(Math.abs(approx - exact) / exact < 0.1, `p${q * 100}: histogram ${approx} vs exact ${exact}`);
  }
});
