/**
 * Connection health on the stub factory: the cap counts creates that ignore their abort, a borrow
 * after a lull validates only the connection it hands out, a fatal error retires one session
 * (a second strike evicts the generation), and a hold-policy cancel keeps the connection from
 * every other lease until it settles.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, type StubConnection, track } from "./support/stub_factory.ts";

const FATAL = Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
const isFatal = (error: unknown): boolean => (error as { code?: string })?.code === "57P01";

describe("the cap", () => {
  test("creates that ignore their abort keep counting against the cap until they settle (cap 1)", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 1, overflow: 0, createTimeoutMs: 100, acquireTimeoutMs: 60_000 }, {
      createMode: "deferred",
      ignoreAbort: true,
    });
    const waiter = track(t.pool.acquire({ agentId: "a" }));
    for (let i = 0; i < 10; i++) await t.clock.advance(1000); // timeouts, abandonments, backoff
    assert.equal(t.stub.peakInFlightCreates, 1, "never a second create while the first may still open a session");
    assert.ok(t.pool.stats().createErrors >= 1, "the stuck create counted as failed");
    assert.equal(t.pool.stats().creating, 1, "still in flight: it counts");
    t.stub.ignoreAbort = false;
    t.stub.createMode = "immediate";
    t.stub.pendingCreates[0].resolve(); // it opens after all: closed at once (abandoned)
    await t.clock.advance(2000);
    assert.equal(waiter.status, "resolved", "recovered once the stuck create settled");
    assert.deepEqual(t.stub.violations, []);
    await waiter.value!.release();
    assertConsistent(t);
    await t.pool.close();
  });

  test("with room above the stuck creates, the pool still recovers (cap 2)", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 2, overflow: 0, createTimeoutMs: 100, acquireTimeoutMs: 10_000 }, {
      createMode: "deferred",
      ignoreAbort: true,
    });
    const waiter = track(t.pool.acquire({ agentId: "a" }));
    await flush();
    assert.equal(t.stub.inFlightCreates, 1);
    t.stub.ignoreAbort = false; // only the first create is stuck
    t.stub.createMode = "immediate";
    await t.clock.advance(1200); // it is abandoned; the next prober goes
    await t.clock.advance(2000);
    assert.equal(waiter.status, "resolved");
    assert.ok(t.stub.peakLive <= 2, `live ${t.stub.peakLive} <= cap 2`);
    assert.deepEqual(t.stub.violations, []);
    await waiter.value!.release();
    t.stub.pendingCreates[0]?.resolve();
    await t.pool.close();
  });
});

describe("validation", () => {
  test("after a lull, one acquire runs one validation (not one per idle connection)", async () => {
    const t = makePool({ minConnections: 20, maxConnections: 20, overflow: 0, validateAfterIdleMs: 500 }, { validate: () => true });
    await t.clock.advance(0);
    assert.equal(t.pool.stats().idle, 20);
    await t.clock.advance(2000);
    const h = await t.pool.acquire({ agentId: "a" });
    assert.equal(t.stub.validateCalls, 1);
    assert.equal(t.pool.stats().validations, 1);
    assert.equal(t.pool.stats().idle, 19);
    await h.release();
    assertConsistent(t);
    await t.pool.close();
  });

  test("a borrow whose check fails closes that connection and takes the next", async () => {
    const dead = new Set([20]);
    const t = makePool({ minConnections: 20, maxConnections: 20, overflow: 0, validateAfterIdleMs: 500 }, {
      validate: (c: StubConnection) => !dead.has(c.id),
    });
    await t.clock.advance(0);
    await t.clock.advance(2000);
    const h = await t.pool.acquire({ agentId: "a" });
    assert.ok(!dead.has(h.connection.id), "a live connection was handed out");
    assert.equal(t.pool.stats().validationFailures, 1);
    assert.ok(t.stub.validateCalls <= 3, `${t.stub.validateCalls} checks for one borrow (the failed one, a probe, the next)`);
    await h.release();
    await t.clock.advance(0);
    assertConsistent(t);
    await t.pool.close();
  });
});

describe("fatal errors", () => {
  test("one fatal error retires that session only and costs one check", async () => {
    const t = makePool({ minConnections: 5, maxConnections: 5, overflow: 0 }, { validate: () => true, isFatal });
    await t.clock.advance(0);
    const h = await t.pool.acquire({ agentId: "a" });
    await h.release(FATAL);
    await flush();
    assert.equal(t.pool.stats().fatalErrors, 1);
    assert.equal(t.stub.validateCalls, 1, "one probe, not the whole pool");
    assert.equal(t.stub.destroyCalls, 1, "only the dead session was closed");
    await t.clock.advance(0);
    assert.equal(t.pool.stats().total, 5, "refilled");
    const next = await t.pool.acquire({ agentId: "a" });
    assert.equal(t.stub.validateCalls, 1, "the probe passed: the next borrow is not checked");
    await next.release();
    assertConsistent(t);
    await t.pool.close();
  });

  test("a server restart: the second failure evicts every idle connection of the old generation", async () => {
    let serverUp = true;
    const t = makePool({ minConnections: 5, maxConnections: 5, overflow: 0 }, {
      validate: () => serverUp,
      isFatal,
    });
    await t.clock.advance(0);
    const before = new Set(t.pool.connections().map((c) => c.id));
    serverUp = false; // every open session is now dead
    const h = await t.pool.acquire({ agentId: "a" });
    await h.release(FATAL); // strike one; its probe fails: strike two
    await flush();
    serverUp = true;
    await t.clock.advance(0);
    const handed = await Promise.all([1, 2, 3, 4, 5].map(() => t.pool.acquire({ agentId: "b" })));
    for (const handle of handed) assert.ok(!before.has(handle.id), `stale connection ${handle.id} was handed out`);
    assert.ok(t.stub.validateCalls <= 2, `${t.stub.validateCalls} checks`);
    await Promise.all(handed.map((x) => x.release()));
    assertConsistent(t);
    await t.pool.close();
  });
});

describe("hold-policy cancel", () => {
  test("a connection whose cancel is in flight goes to no other lease until the cancel settles", async () => {
    let finishCancel!: () => void;
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0, holdPolicy: { maxHoldMs: 100, action: "cancel" } }, {
      cancel: () => new Promise<void>((resolve) => (finishCancel = resolve)),
    });
    await t.clock.advance(0);
    const h = await t.pool.acquire({ agentId: "slow" });
    const next = track(t.pool.acquire({ agentId: "other" }));
    await t.clock.advance(1000); // the housekeeper fires the cancel
    assert.equal(t.stub.cancelCalls, 1);
    const released = track(h.release());
    await flush();
    assert.equal(next.status, "pending", "not handed on while the cancel may still hit it");
    assert.equal(t.pool.stats().resetting, 1);
    finishCancel();
    await flush();
    assert.equal(next.status, "resolved");
    assert.equal(released.status, "resolved");
    await next.value!.release();
    assertConsistent(t);
    await t.pool.close();
  });
});
