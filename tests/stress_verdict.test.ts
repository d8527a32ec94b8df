/**
 * The stress verdict's peer criterion (src/cli/stress_report.ts) on made-up comparison results: it
 * judges what each pool added to its callers' waits, so a run where agentpool's raw p99 is worse
 * only because the database was busier during its turn passes, and one where agentpool itself kept
 * callers waiting (e.g. connects after a burst) fails. No database needed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { bestPeer, evaluate, type StressReport } from "../src/cli/stress_report.ts";
import type { ComparisonResult } from "../src/cli/stress_compare.ts";
import type { Percentiles } from "../src/cli/stress_split.ts";

function pct(p99: number): Percentiles {
  return { count: 1000, p50: p99 / 10, p99, p999: p99 * 2, max: p99 * 3, mean: p99 / 5 };
}

/** A comparison row with the given raw and pool-added p99 (ms). */
function row(name: string, rawP99: number, addsP99: number): ComparisonResult {
  return {
    name,
    config: "",
    durationS: 15,
    transactions: 30_000,
    transactionsPerS: 2000,
    split: {
      wait: pct(rawP99),
      poolAdded: pct(addsP99),
      busyWait: pct(rawP99 - addsP99),
      idleOrOpenable: pct(addsP99),
      handoff: pct(addsP99 / 2),
      busyShareOfWaiting: 0.5,
      allHeldShare: 0.1,
    },
    peakHeld: 30,
    cpuUsPerTx: 200,
    errors: 0,
    errorSamples: [],
  };
}

/** A passing report except for the comparison rows. */
function report(results: ComparisonResult[]): Omit<StressReport, "criteria" | "pass"> {
  const quiet = pct(0.01);
  return {
    run: { agents: 50, pool: { min: 5, max: 20, overflow: 10, cap: 30 } },
    split: { wait: quiet, poolAdded: quiet, busyWait: quiet, idleOrOpenable: quiet, handoff: quiet, busyShareOfWaiting: 0, allHeldShare: 0 },
    peaks: { concurrentHeld: 30, poolOpen: 30, pending: 0, serverConnections: 30, serverAllClients: 31 },
    leaks: { usedAfterStop: 0, acquired: 10, released: 10, reclaimed: 0, unaccounted: 0, detected: 0, serverAfterClose: 0 },
    errors: { expected: 0, unexpected: 0, samples: [] },
    database: { transactionsPerS: 2000, allHeldShare: 0, activeMean: 1, activePeak: 5, bottleneck: "" },
    comparison: { durationS: 15, rounds: 2, results, skipped: [] },
  } as unknown as Omit<StressReport, "criteria" | "pass">;
}

function peerCriterion(results: ComparisonResult[]): { pass: boolean; actual: string; limit: string } {
  const found = evaluate(report(results)).find((c) => c.name === "pool adds p99 vs the best peer");
  assert.ok(found, "the peer criterion is present when a peer ran");
  return found;
}

test("verdict: a worse raw p99 that the database caused (the pool added no more than the peer) passes", () => {
  // The run of 2026-12-01 13:17: agentpool-pg raw p99 0.311 ms vs pg-pool 0.031 ms, pool adds 0.037 vs 0.025 ms.
  const c = peerCriterion([row("agentpool", 1.732, 0.153), row("pg-pool", 0.031, 0.025), row("postgres.js", 18.1, 15.1), row("agentpool-pg", 0.311, 0.037)]);
  assert.equal(c.pass, true, c.actual);
  assert.match(c.actual, /^agentpool-pg adds 0\.037 ms \(raw p99 0\.311 ms, 200 µs CPU\/tx\); pg-pool adds 0\.025 ms/);
  assert.match(c.limit, /= 0\.275 ms$/);
});

test("verdict: agentpool keeping callers waiting that the peer served at once fails", () => {
  // The calibrated run of 2026-12-01: overflow connections reopened for every burst.
  const c = peerCriterion([row("agentpool", 78.5, 40.1), row("pg-pool", 0.048, 0.048), row("postgres.js", 37, 30.5)]);
  assert.equal(c.pass, false);
  assert.match(c.limit, /= 0\.298 ms$/);
});

test("verdict: the best peer is the one that added least; agentpool's own bindings are never peers", () => {
  const results = [row("agentpool", 5, 0.2), row("pg-pool", 1, 0.9), row("postgres.js", 9, 0.1), row("agentpool-pg", 0.5, 0.05)];
  assert.equal(bestPeer({ comparison: { durationS: 15, rounds: 2, results, skipped: [] } })?.name, "postgres.js");
  // The allowance is 10 % or 0.25 ms, whichever is larger: 20 ms may become 22 ms, 1 ms 1.25 ms.
  assert.equal(peerCriterion([row("agentpool", 90, 21.9), row("pg-pool", 90, 20)]).pass, true);
  assert.equal(peerCriterion([row("agentpool", 90, 22.1), row("pg-pool", 90, 20)]).pass, false);
  assert.equal(peerCriterion([row("agentpool", 9, 1.24), row("pg-pool", 9, 1)]).pass, true);
  assert.equal(peerCriterion([row("agentpool", 9, 1.26), row("pg-pool", 9, 1)]).pass, false);
  // Without a peer that ran, there is no peer criterion.
  assert.equal(evaluate(report([row("agentpool", 1, 0.1)])).some((c) => c.name.includes("best peer")), false);
});
