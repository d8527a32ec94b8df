/**
 * benchmarks/lib/report.ts: an end-to-end verdict compares two peers only when both were measured
 * in the same run (a partial run keeps older rows, which saw another machine load).
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type AggregatedResult, evaluateTargets } from "../benchmarks/lib/report.ts";

function e2e(peer: string, txPerSec: number, keptFrom?: string, rounds: number[] = [txPerSec]): AggregatedResult {
  return {
    suite: "e2e",
    peer,
    params: { agents: 50, connections: 20 },
    config: "",
    opsPerIteration: 1,
    samples: 1,
    nsPerOp: 1e9 / txPerSec,
    p50NsPerOp: NaN,
    p99NsPerOp: NaN,
    txPerSec,
    rounds,
    ...(keptFrom === undefined ? {} : { keptFrom }),
  };
}

const verdict = (rows: AggregatedResult[], id: string) => evaluateTargets(rows).find((v) => v.id === id)!;

test("an e2e verdict is the median of per-round ratios: each round saw one machine load", () => {
  // The machine slowed down in rounds 2 and 3 for everyone: the medians of tx/s mislead, the
  // round-by-round ratios do not.
  const adapter = e2e("adapter", 6_000, undefined, [10_000, 6_000, 5_500, 9_000, 5_000]);
  const pg = e2e("pg-pool", 7_000, undefined, [9_000, 5_000, 5_000, 8_000, 7_000]);
  const v = verdict([adapter, pg], "adapter-vs-pg");
  assert.ok(Math.abs(v.value! - 10_000 / 9_000) < 1e-9, `median of 1.11 1.20 1.10 1.125 0.71 is 1.11: ${v.value}`);
  assert.equal(v.verdict, "PASS");
  assert.match(v.why, /adapter 6000 tx\/s vs pg-pool 7000 tx\/s = 0\.86×; round by round 1\.11 1\.20 1\.10 1\.13 0\.71: median 1\.11×/);
  // Rounds that do not pair up (a peer missing from a round) fall back to the medians' ratio.
  const uneven = verdict([adapter, e2e("pg-pool", 7_000, undefined, [9_000, 5_000])], "adapter-vs-pg");
  assert.ok(Math.abs(uneven.value! - 6 / 7) < 1e-9);
});

test("e2e verdicts compare peers of the same run and refuse to mix runs", () => {
  const same = verdict([e2e("adapter", 11_000), e2e("pg-pool", 10_000)], "adapter-vs-pg");
  assert.equal(same.verdict, "PASS");
  assert.ok(Math.abs(same.value! - 1.1) < 1e-9);

  const miss = verdict([e2e("adapter", 9_000), e2e("pg-pool", 10_000)], "adapter-vs-pg");
  assert.equal(miss.verdict, "MISS");

  const mixed = verdict([e2e("agentpool-noreset", 9_000, "2026-12-01T23:55:17.618Z"), e2e("minimal", 5_000)], "e2e-noreset-vs-minimal");
  assert.equal(mixed.verdict, "N/A");
  assert.equal(mixed.value, null);
  assert.match(mixed.why, /agentpool-noreset \(the run of 2026-12-01T23:55:17\.618Z\) and minimal \(this run\) were not measured in the same run/);

  const bothKept = verdict([e2e("adapter", 9_000, "2026-12-01T23:55:17.618Z"), e2e("pg-pool", 10_000, "2026-12-01T23:55:17.618Z")], "adapter-vs-pg");
  assert.equal(bothKept.verdict, "MISS", "two rows kept from the same earlier run still compare");
});

test("the untagged adapter is judged against plain pg-pool, the same server work", () => {
  const rows = [e2e("adapter", 9_000), e2e("adapter-untagged", 12_000), e2e("pg-pool", 10_000), e2e("pg-pool-tagged", 8_000)];
  const untagged = verdict(rows, "adapter-untagged-vs-pg");
  assert.equal(untagged.verdict, "PASS");
  assert.ok(Math.abs(untagged.value! - 1.2) < 1e-9);
  assert.match(untagged.label, /tagTransactions: false/);
  // The default adapter (tag on) is still the one the target judges.
  assert.equal(verdict(rows, "adapter-vs-pg").verdict, "MISS");
  assert.equal(verdict(rows, "adapter-vs-pg-tagged").verdict, "PASS");
});
