/**
 * MetricsTracker: values against a known workload (a hand-driven clock), per-agent series with a
 * cardinality cap, pool.stats().latency, option validation.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncConnectionPool, type Clock, createMetrics, MetricsTracker } from "../mod.ts";
import { OTHER_AGENT, trackerOf } from "../src/core/metrics_tracker.ts";
import type { TuningOptions } from "../src/core/options.ts";

/** An internal constant (createConcurrency), overridden for this test only. */
const oneCreateAtATime: TuningOptions = { createConcurrency: 1 };

interface ManualClock extends Clock {
  advance(ms: number): void;
}

/** Time moves only when the test says so; timers still run on the real clock. */
function manualClock(): ManualClock {
  let now = 1_000;
  return {
    now: () => now,
    advance: (ms) => void (now += ms),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

test("tracker: createMetrics validates maxAgents", () => {
  assert.throws(() => createMetrics({ maxAgents: -1 }), { name: "RangeError", message: /'maxAgents'.*-1/ });
  assert.throws(() => createMetrics({ maxAgents: 1.5 }), RangeError);
  assert.throws(() => createMetrics({ maxAgents: "10" as unknown as number }), { name: "TypeError", message: /'maxAgents'.*10/ });
  assert.throws(() => createMetrics(null as unknown as undefined), TypeError);
  assert.equal(createMetrics().maxAgents, 100);
  assert.equal(createMetrics({ maxAgents: 0 }).maxAgents, 0);
});

test("tracker: a known workload gives exact counts, sums and maxima, and fills pool.stats().latency", async () => {
  const clock = manualClock();
  const metrics = createMetrics();
  let next = 0;
  const pool = new AsyncConnectionPool({
    factory: {
      create: () => {
        clock.advance(4); // every connection takes 4 ms to open
        return Promise.resolve({ id: next++ });
      },
      destroy: () => {},
    },
    minConnections: 2,
    maxConnections: 2,
    overflow: 0,
    ...oneCreateAtATime, // so each create measures exactly its own 4 ms
    clock,
    metrics,
  });
  try {
    assert.equal(trackerOf(pool), metrics);
    await until(() => pool.stats().idle === 2);
    // planner takes both connections on the fast path (wait 0).
    const a = await pool.acquire({ agentId: "planner" });
    const b = await pool.acquire({ agentId: "planner" });
    // critic waits; 30 ms later planner returns one: critic waited 30.
    const waiting = pool.acquire({ agentId: "critic" });
    clock.advance(30);
    await a.release(); // planner held it 30 ms
    const c = await waiting;
    clock.advance(10);
    await b.release(); // planner held it 40 ms
    await c.release(); // critic held it 10 ms

    const latency = pool.stats().latency;
    assert.ok(latency !== undefined);
    assert.deepEqual(
      { count: latency.wait.count, max: latency.wait.max, mean: latency.wait.mean, p50: latency.wait.p50 },
      { count: 3, max: 30, mean: 10, p50: 0 },
    );
    assert.equal(latency.use.count, 3);
    assert.equal(latency.use.max, 40);
    assert.equal(latency.use.mean, 80 / 3);
    assert.ok(latency.use.p50 > 25 && latency.use.p50 <= 30, `use p50 ${latency.use.p50} is in the bucket of 30`);
    assert.equal(latency.create.count, 2);
    assert.equal(latency.create.max, 4);
    assert.equal(latency.create.mean, 4);

    const byAgent = Object.fromEntries(metrics.agentSeries().map((s) => [s.agent, s]));
    assert.deepEqual(Object.keys(byAgent).sort(), ["critic", "planner"]);
    assert.equal(byAgent.planner.acquires, 2);
    assert.equal(byAgent.planner.releases, 2);
    assert.equal(byAgent.planner.waitSumMs, 0);
    assert.equal(byAgent.planner.holdSumMs, 70);
    assert.equal(byAgent.planner.holdMaxMs, 40);
    assert.equal(byAgent.critic.waitSumMs, 30);
    assert.equal(byAgent.critic.waitMaxMs, 30);
    assert.equal(byAgent.critic.holdSumMs, 10);
  } finally {
    await pool.close();
  }
});

test("tracker: timeouts and refusals are counted per agent and per reason", async () => {
  const metrics = createMetrics();
  const pool = new AsyncConnectionPool({
    factory: { create: () => Promise.resolve({}), destroy: () => {} },
    minConnections: 1,
    maxConnections: 1,
    overflow: 0,
    maxWaiting: 1,
    metrics,
  });
  try {
    const held = await pool.acquire({ agentId: "hog" });
    const waiter = pool.acquire({ agentId: "slow", timeoutMs: 20 });
    await assert.rejects(pool.acquire({ agentId: "late" }), { code: "QUEUE_FULL" });
    await assert.rejects(waiter, { code: "ACQUIRE_TIMEOUT" });
    await held.release();
    const byAgent = Object.fromEntries(metrics.agentSeries().map((s) => [s.agent, s]));
    assert.equal(byAgent.slow.timeouts, 1);
    assert.equal(byAgent.slow.rejections, 0);
    assert.equal(byAgent.late.rejections, 1);
    assert.equal(byAgent.late.timeouts, 0);
    const reasons = metrics.rejectionsByReason();
    assert.equal(reasons.timeout, 1);
    assert.equal(reasons.queue_full, 1);
    assert.equal(reasons.nested_acquire, 0);
    assert.equal(pool.stats().timeouts, 1);
  } finally {
    await pool.close();
  }
});

test("tracker: agent labels are capped; the rest fold into __other__", () => {
  const metrics = new MetricsTracker({ maxAgents: 3 });
  for (let i = 0; i < 1000; i++) {
    metrics.acquired(`agent-${i}`, 1);
    metrics.released(`agent-${i}`, 2);
  }
  metrics.rejected("agent-999", "queue_full");
  metrics.leaked("agent-0");
  metrics.errored("agent-500");
  const series = metrics.agentSeries();
  assert.deepEqual(series.map((s) => s.agent), ["agent-0", "agent-1", "agent-2", OTHER_AGENT]);
  const other = series[3];
  assert.equal(other.acquires, 997);
  assert.equal(other.holdSumMs, 997 * 2);
  assert.equal(other.rejections, 1);
  assert.equal(other.errors, 1);
  assert.equal(series[0].leaks, 1);
  // An agent literally named __other__ shares the folded series instead of duplicating the label.
  metrics.acquired(OTHER_AGENT, 0);
  assert.equal(metrics.agentSeries().filter((s) => s.agent === OTHER_AGENT).length, 1);
  // Pool-wide histograms still see every observation.
  assert.equal(metrics.wait.count, 1001);
});

test("tracker: maxAgents 0 folds everyone; __other__ is hidden while empty", () => {
  const metrics = createMetrics({ maxAgents: 0 });
  assert.deepEqual(metrics.agentSeries(), []);
  metrics.acquired("a", 0);
  assert.deepEqual(metrics.agentSeries().map((s) => s.agent), [OTHER_AGENT]);
});

test("tracker: forwardTo installs one sink at a time and stops on unbind", () => {
  const metrics = createMetrics();
  const seen: string[] = [];
  const stop = metrics.forwardTo({
    acquired: (s, ms) => void seen.push(`acquired ${s.agent} ${ms}`),
    released: (s, ms) => void seen.push(`released ${s.agent} ${ms}`),
    created: (ms) => void seen.push(`created ${ms}`),
  });
  assert.throws(() => metrics.forwardTo({ acquired() {}, released() {}, created() {} }), /already forwards/);
  metrics.created(3);
  metrics.acquired("a", 1);
  metrics.released("a", 2);
  stop();
  metrics.acquired("a", 5);
  assert.deepEqual(seen, ["created 3", "acquired a 1", "released a 2"]);
  metrics.forwardTo({ acquired() {}, released() {}, created() {} })();
});

test("tracker: without a tracker, stats().latency stays undefined and trackerOf finds nothing", async () => {
  const pool = new AsyncConnectionPool({ factory: { create: () => Promise.resolve({}), destroy: () => {} }, minConnections: 0 });
  try {
    assert.equal(pool.stats().latency, undefined);
    assert.equal(trackerOf(pool), undefined);
  } finally {
    await pool.close();
  }
});
