/**
 * Create failures: exponential backoff with full jitter capped by createRetryMaxMs, a single
 * prober while failing, waiters that wait out their deadline and then learn why (`cause`), create
 * timeouts, and recovery back to minConnections.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionPoolExhaustedError, type PooledConnection, type PoolError } from "../src/core/mod.ts";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, type StubConnection, track } from "./support/stub_factory.ts";

const HOUSEKEEPING_MS = 1000;
const CREATE_TIMEOUT_MS = 10_000;

/** Runs `fn` with Math.random returning the given values in turn (the last one repeats). */
async function withRandom<R>(values: number[], fn: () => Promise<R>): Promise<R> {
  const original = Math.random;
  let i = 0;
  Math.random = () => values[Math.min(i++, values.length - 1)];
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}

/** The delays of retry timers among the clock's timers (not housekeeping, not create timeouts). */
function retryDelays(scheduled: readonly number[]): number[] {
  return scheduled.filter((ms) => ms !== HOUSEKEEPING_MS && ms !== CREATE_TIMEOUT_MS);
}

describe("create failures", () => {
  test("backoff doubles per failure, with full jitter, capped by createRetryMaxMs", async () => {
    await withRandom([0.5], async () => {
      const t = makePool({ minConnections: 1, createRetryInitialMs: 100, createRetryMaxMs: 700 }, { createMode: "fail" });
      const { pool, stub, clock } = t;
      for (let failures = 1; failures <= 7; failures++) {
        await flush();
        assert.equal(stub.createFailures, failures);
        await clock.advance(retryDelays(clock.scheduled).at(-1)!);
      }
      // ceiling = min(700, 100 * 2^(n-1)); delay = random * ceiling.
      assert.deepEqual(retryDelays(clock.scheduled).slice(0, 6), [50, 100, 200, 350, 350, 350]);
      assert.equal(pool.stats().createErrors, stub.createFailures);
      await pool.close();
      assert.equal(clock.pendingTimers, 0);
    });
  });

  test("full jitter: the delay is random * ceiling, anywhere from 0 up to the ceiling", async () => {
    await withRandom([0, 0.999, 0.3], async () => {
      const t = makePool({ minConnections: 1, createRetryInitialMs: 1000, createRetryMaxMs: 4000 }, { createMode: "fail" });
      const { pool, clock } = t;
      await flush(); // failure 1: random 0 -> 0 ms
      await clock.advance(0);
      await flush(); // failure 2: ceiling 2000, random 0.999
      await clock.advance(2000);
      await flush(); // failure 3: ceiling 4000, random 0.3
      const delays = retryDelays(clock.scheduled);
      assert.equal(delays[0], 0);
      assert.ok(Math.abs(delays[1] - 1998) < 1e-6, String(delays[1]));
      assert.equal(delays[2], 1200);
      await pool.close();
    });
  });

  test("while failing, a single prober: never more than one create in flight after a failure", async () => {
    const t = makePool({ minConnections: 4, maxConnections: 10, createConcurrency: 4, createRetryInitialMs: 10, createRetryMaxMs: 40 }, {
      createMode: "deferred",
    });
    const { pool, stub, clock } = t;
    const waiters = ["a", "b", "c", "d", "e", "f"].map((agentId) => track(pool.acquire({ agentId, timeoutMs: 100_000 })));
    await flush();
    assert.equal(stub.inFlightCreates, 4);
    stub.pendingCreates[0].reject();
    await flush();
    const failedAt = stub.events.length;
    // The other three were already in flight; no new one starts while any is.
    for (let round = 0; round < 20; round++) {
      if (stub.pendingCreates.length > 0) stub.pendingCreates[0].reject();
      await clock.advance(50);
    }
    const starts = stub.events.slice(failedAt).filter((e) => e.type === "create");
    assert.ok(starts.length >= 5, `the prober kept trying (${starts.length} starts)`);
    for (const e of starts) assert.equal(e.inFlight, 1, "a create started while another was in flight");
    assert.ok(waiters.every((w) => w.status === "pending"), "waiters are not failed early");
    // Recovery: the next probe succeeds, then creates go back to full concurrency.
    stub.createMode = "immediate";
    if (stub.pendingCreates.length > 0) stub.pendingCreates[0].resolve();
    await clock.advance(50);
    assert.ok(waiters.every((w) => w.status === "resolved"), "every waiter served after recovery");
    assert.equal(pool.stats().total, 6);
    assertConsistent(t);
    for (const w of waiters) await w.value!.release();
    await pool.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test("several creates failing at once leave a single retry timer (none left after close)", async () => {
    const t = makePool({ minConnections: 3, createConcurrency: 3, createRetryInitialMs: 1000, createRetryMaxMs: 1000 }, {
      createMode: "deferred",
    });
    const { pool, stub, clock } = t;
    assert.equal(stub.inFlightCreates, 3);
    while (stub.pendingCreates.length > 0) stub.pendingCreates[0].reject();
    await flush();
    assert.equal(stub.createFailures, 3);
    const retryTimers = clock.pendingDelays().filter((ms) => ms !== HOUSEKEEPING_MS);
    assert.equal(retryTimers.length, 1, `retry timers pending: ${retryTimers}`);
    await pool.close();
    assert.equal(clock.pendingTimers, 0, "close() left a retry timer armed");
  });

  test("waiters wait out their deadline; then the error carries the last create error as cause", async () => {
    const t = makePool({ minConnections: 0, acquireTimeoutMs: 5000, createRetryInitialMs: 100, createRetryMaxMs: 400 }, {
      createMode: "fail",
    });
    const { pool, stub, clock } = t;
    const w = track(pool.acquire({ agentId: "planner" }));
    await clock.advance(4999);
    assert.equal(w.status, "pending", "not failed early although every create fails");
    assert.ok(stub.createFailures >= 5);
    await clock.advance(1);
    assert.equal(w.status, "rejected");
    const error = w.error as ConnectionPoolExhaustedError;
    assert.ok(error instanceof ConnectionPoolExhaustedError);
    assert.equal(error.cause, stub.lastError, "cause is the most recent create error");
    assert.ok(error.cause instanceof Error);
    assert.match(error.message, /database is unreachable/);
    assert.ok(error.message.includes((stub.lastError as Error).message), error.message);
    assert.equal(error.reason, "unavailable");
    assert.equal(error.code, "DATABASE_UNAVAILABLE");
    assert.equal(pool.health, "down");
    await pool.close();
  });

  test("creates refused at the server's limit (atCapacity): waiters time out with DATABASE_AT_CAPACITY, no connection is suspected", async () => {
    // Two connections open; the third create is refused as a capacity limit (PostgreSQL's 53300,
    // PgBouncer's max_client_conn), and so is every one after. The server is there: an outage's
    // create failure would make the pool probe an idle connection; this one must not.
    // "throws": a hook that throws proves nothing: reported on `error`, the failure is an outage's.
    for (const mode of ["yes", "no", "throws"] as const) {
      const atCapacity = mode === "yes";
      const t = makePool({ minConnections: 3, maxConnections: 3, overflow: 0, acquireTimeoutMs: 1000, createRetryInitialMs: 100, createRetryMaxMs: 200 }, {
        createMode: "deferred",
        validate: () => true,
        atCapacity: () => {
          if (mode === "throws") throw new Error("classifier broke");
          return atCapacity;
        },
      });
      const { pool, stub, clock } = t;
      const reported: string[] = [];
      pool.addEventListener("error", (e) => reported.push((e as CustomEvent<{ during: string }>).detail.during));
      while (stub.created < 2) {
        stub.pendingCreates[0].resolve();
        await flush();
      }
      stub.createMode = "fail";
      stub.pendingCreates[0].reject();
      await flush();
      assert.equal(pool.stats().idle, 2);
      // Control: without the hook's yes, the same failure is an outage's, and one idle connection is probed.
      assert.equal(stub.validateCalls, atCapacity ? 0 : 1, `atCapacity ${mode}: checks after the refused create`);
      assert.deepEqual(reported, mode === "throws" ? ["factory.atCapacity"] : []);
      const a = await pool.acquire({ agentId: "a" });
      const b = await pool.acquire({ agentId: "b" });
      const waiting = track(pool.acquire({ agentId: "c" }));
      await clock.advance(999);
      assert.equal(waiting.status, "pending", "not failed early");
      await b.release(); // a freed connection serves the waiter
      await flush();
      assert.equal(waiting.status, "resolved");
      const c = waiting.value as PooledConnection<StubConnection>;
      const late = track(pool.acquire({ agentId: "d" }));
      await clock.advance(1000);
      assert.equal(late.status, "rejected");
      const error = late.error as ConnectionPoolExhaustedError;
      assert.equal(error.cause, stub.lastError, "the last refusal is the cause");
      if (atCapacity) {
        assert.equal(error.reason, "at_capacity");
        assert.equal(error.code, "DATABASE_AT_CAPACITY");
        assert.match(error.message, /refuses new connections at its connection limit/);
        assert.doesNotMatch(error.message, /unreachable/);
      } else {
        assert.equal(error.code, "DATABASE_UNAVAILABLE");
      }
      await Promise.all([a.release(), c.release()]);
      assert.equal(pool.stats().idle, 2, "both connections kept");
      assertConsistent(t);
      await pool.close();
    }
  });

  test("a create that hangs is aborted after createTimeoutMs and counts as a failure", async () => {
    const t = makePool({ minConnections: 1, createTimeoutMs: 300, acquireTimeoutMs: 1000 }, { createMode: "deferred" });
    const { pool, stub, clock } = t;
    const events: unknown[] = [];
    pool.addEventListener("createerror", (e) => events.push((e as CustomEvent).detail));
    const w = track(pool.acquire({ agentId: "a" }));
    await clock.advance(299);
    assert.equal(stub.pendingCreates[0].signal.aborted, false);
    await clock.advance(1);
    assert.equal(stub.createAborts, 1, "the create's signal aborted and the stub gave up");
    assert.equal(pool.stats().createErrors, 1);
    assert.equal(events.length, 1);
    const detail = events[0] as { error: PoolError; failures: number };
    assert.equal(detail.error.code, "CREATE_TIMEOUT");
    assert.equal(detail.failures, 1);
    await clock.advance(700);
    assert.equal(w.status, "rejected");
    assert.equal(((w.error as Error).cause as PoolError).code, "CREATE_TIMEOUT");
    await pool.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test("recovery: once creates succeed again the pool refills to minConnections", async () => {
    const t = makePool({ minConnections: 3, maxConnections: 5, createRetryInitialMs: 50, createRetryMaxMs: 200 }, {
      createMode: "fail",
    });
    const { pool, stub, clock } = t;
    const changes: string[] = [];
    pool.addEventListener("statechange", (e) => changes.push((e as CustomEvent).detail.to));
    await clock.advance(1000);
    assert.equal(pool.stats().total, 0);
    assert.equal(pool.health, "down");
    const w = track(pool.acquire({ agentId: "a" }));
    stub.createMode = "immediate";
    await clock.advance(200);
    assert.equal(w.status, "resolved", "the waiter is served on recovery, before its deadline");
    assert.equal(pool.stats().total, 3, "refilled to minConnections");
    assert.equal(pool.health, "healthy");
    assert.deepEqual(changes, ["down", "healthy"]);
    assert.equal(stub.createCalls - stub.createFailures, 3);
    assertConsistent(t);
    await w.value!.release();
    await pool.close();
  });
});
