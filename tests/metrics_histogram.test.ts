/**
 * Histogram: bucket layout, exact count/sum/max, percentile accuracy, exported cumulative counts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EXPORT_BOUNDS_MS, Histogram, HISTOGRAM_BOUNDS_MS } from "../src/core/histogram.ts";

test("histogram: bounds ascend from 1 µs, include every exported bound, no binary noise", () => {
  assert.equal(HISTOGRAM_BOUNDS_MS[0], 0.001);
  for (let i = 1; i < HISTOGRAM_BOUNDS_MS.length; i++) assert.ok(HISTOGRAM_BOUNDS_MS[i] > HISTOGRAM_BOUNDS_MS[i - 1]);
  // Neighbouring buckets are at most 33% apart, so interpolated percentiles stay close.
  for (let i = 1; i < HISTOGRAM_BOUNDS_MS.length; i++) assert.ok(HISTOGRAM_BOUNDS_MS[i] / HISTOGRAM_BOUNDS_MS[i - 1] <= 1.34);
  for (const bound of EXPORT_BOUNDS_MS) assert.ok(HISTOGRAM_BOUNDS_MS.includes(bound), `${bound} is a bucket bound`);
  assert.ok(HISTOGRAM_BOUNDS_MS.includes(0.3) && HISTOGRAM_BOUNDS_MS.includes(2.5));
});

test("histogram: empty summary is all zeros", () => {
  assert.deepEqual(new Histogram().summary(), { count: 0, p50: 0, p99: 0, p999: 0, max: 0, mean: 0 });
});

test("histogram: count, sum, max and mean are exact; zero and negative values land in the zero bucket", () => {
  const h = new Histogram();
  for (const v of [0, -5, Number.NaN, 1, 2, 3, 100]) h.record(v);
  assert.equal(h.count, 7);
  assert.equal(h.sum, 106);
  assert.equal(h.max, 100);
  const s = h.summary();
  assert.equal(s.mean, 106 / 7);
  assert.equal(s.p50, 1, "4th of 7 values is 1 (bucket (0.8, 1], interpolated to its top)");
  assert.equal(s.p99, 100);
  assert.equal(h.percentile(0.1), 0, "the lowest values were zeros");
});

test("histogram: percentiles of a uniform 1..1000 ms series are within 15%", () => {
  const h = new Histogram();
  for (let v = 1; v <= 1000; v++) h.record(v);
  for (const [q, exact] of [[0.5, 500], [0.9, 900], [0.99, 990], [0.999, 999]] as const) {
    const got = h.percentile(q);
    assert.ok(Math.abs(got - exact) / exact <= 0.15, `p${q * 100} = ${got}, expected about ${exact}`);
  }
  assert.equal(h.percentile(1), 1000);
});

test("histogram: values beyond the top bound go to the overflow bucket, capped at max", () => {
  const h = new Histogram();
  h.record(5_000_000);
  h.record(7_000_000);
  assert.equal(h.summary().max, 7_000_000);
  assert.ok(h.percentile(0.5) > 1_000_000 && h.percentile(0.5) <= 7_000_000);
});

test("histogram: snapshot gives exact cumulative counts at the exported bounds", () => {
  const h = new Histogram();
  const values = [0, 0, 0.05, 0.1, 0.3, 0.5, 0.9, 1, 7, 10, 26, 999, 1000, 1001, 59_999, 60_000, 61_000, 2_000_000];
  for (const v of values) h.record(v);
  const snap = h.snapshot();
  assert.deepEqual(snap.boundsMs, EXPORT_BOUNDS_MS);
  assert.equal(snap.zeroCount, 2);
  snap.boundsMs.forEach((bound, i) => {
    assert.equal(snap.cumulative[i], values.filter((v) => v <= bound).length, `le ${bound}`);
  });
  assert.equal(snap.count, values.length);
  assert.equal(snap.maxMs, 2_000_000);
  const custom = h.snapshot([1, 1000]);
  assert.deepEqual(custom.cumulative, [8, 13]);
});

test("histogram: snapshot refuses bounds that are not bucket bounds or do not ascend", () => {
  const h = new Histogram();
  assert.throws(() => h.snapshot([0.7]), RangeError);
  assert.throws(() => h.snapshot([10, 1]), RangeError);
});
