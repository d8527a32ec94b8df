/**
 * Overflow above maxConnections and the hard cap (maxConnections + overflow), checked at every
 * step with creates and destroys held in flight.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, track } from "./support/stub_factory.ts";

describe("overflow", () => {
  test("above max, up to `overflow` extra connections are created on demand and flagged", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 2, overflow: 2 });
    const { pool, stub } = t;
    const handles = await Promise.all(["a", "b", "c", "d"].map((agentId) => pool.acquire({ agentId })));
    assert.deepEqual([pool.stats().total, pool.stats().used, pool.stats().overflow], [4, 4, 2]);
    assert.deepEqual(pool.connections().map((c) => c.overflow), [false, false, true, true]);
    assert.equal(stub.createCalls, 4);
    // At the cap: the fifth waits, and no create starts.
    const e = track(pool.acquire({ agentId: "e" }));
    await flush();
    assert.equal(e.status, "pending");
    assert.equal(stub.createCalls, 4);
    assert.equal(pool.stats().cap, 4);
    // A release with someone waiting hands off: nothing is closed.
    await handles[3].release();
    await flush();
    assert.equal(e.status, "resolved");
    assert.equal(stub.destroyCalls, 0);
    assertConsistent(t);
    // Returned with nobody waiting: the pool shrinks back to max, closing one per return above it.
    await handles[0].release();
    assert.deepEqual([pool.stats().total, pool.stats().overflow, stub.destroyCalls], [3, 1, 1]);
    await handles[1].release();
    assert.deepEqual([pool.stats().total, pool.stats().overflow, stub.destroyCalls], [2, 0, 2]);
    await handles[2].release();
    await e.value!.release();
    assert.deepEqual([pool.stats().total, pool.stats().idle, pool.stats().overflow, stub.destroyCalls], [2, 2, 0, 2]);
    assert.deepEqual(pool.connections().map((c) => c.overflow), [false, false]);
    assert.equal(pool.stats().destroyed, 2);
    assertConsistent(t);
    await pool.close();
  });

  test("overflowIdleMs: returned overflow connections linger idle, then the housekeeper closes them down to max", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 2, overflow: 2, overflowIdleMs: 1000, housekeepingIntervalMs: 100 });
    const { pool, stub, clock } = t;
    const handles = await Promise.all(["a", "b", "c", "d"].map((agentId) => pool.acquire({ agentId })));
    for (const h of handles) await h.release();
    // Nobody waits, but the burst may come back: all four stay open for now.
    assert.deepEqual([pool.stats().total, pool.stats().idle, stub.destroyCalls], [4, 4, 0]);
    // A new burst within the linger reuses them: no new connection is opened.
    const again = await Promise.all(["e", "f", "g", "h"].map((agentId) => pool.acquire({ agentId })));
    assert.equal(stub.createCalls, 4);
    for (const h of again) await h.release();
    await clock.advance(900);
    assert.equal(pool.stats().total, 4, "still within overflowIdleMs");
    await clock.advance(200);
    assert.deepEqual([pool.stats().total, pool.stats().overflow, stub.destroyCalls], [2, 0, 2], "closed down to max");
    await clock.advance(5000);
    assert.equal(pool.stats().total, 2, "never below max because of the overflow rule");
    assertConsistent(t);
    await pool.close();
  });

  test("overflow 0: the pool never goes above maxConnections", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 2, overflow: 0 });
    const { pool, stub } = t;
    const held = await Promise.all(["a", "b"].map((agentId) => pool.acquire({ agentId })));
    const waiters = ["c", "d", "e"].map((agentId) => track(pool.acquire({ agentId })));
    await flush();
    assert.equal(stub.createCalls, 2);
    assert.equal(stub.peakLive, 2);
    assert.equal(pool.stats().pending, 3);
    await pool.close();
    for (const h of held) await h.release();
    assert.ok(waiters.every((w) => w.status === "rejected"));
  });

  test("the hard cap holds while creates and destroys are in flight", async () => {
    const t = makePool(
      { minConnections: 0, maxConnections: 2, overflow: 1, createConcurrency: 2 },
      { createMode: "deferred", destroyMode: "deferred" },
    );
    const { pool, stub } = t;
    const w = ["a", "b", "c", "d", "e", "f"].map((agentId) => track(pool.acquire({ agentId })));
    await flush();
    assert.equal(stub.inFlightCreates, 2, "createConcurrency creates in flight");
    stub.pendingCreates[0].resolve();
    await flush();
    assert.equal(stub.inFlightCreates, 2, "one open + two creating = cap");
    assert.equal(stub.createCalls, 3);
    stub.resolveAll();
    await flush();
    assert.equal(stub.createCalls, 3, "no create beyond the cap");
    assert.deepEqual(w.map((x) => x.status), ["resolved", "resolved", "resolved", "pending", "pending", "pending"]);
    assertConsistent(t);
    // Hand-offs: d, e get connections as a, b return.
    await w[0].value!.release();
    await w[1].value!.release();
    await flush();
    assert.deepEqual(w.map((x) => x.status).slice(3), ["resolved", "resolved", "pending"]);
    // f times out; c returns with nobody waiting: 3 > max, so it is closed, its destroy held.
    await t.clock.advance(5000);
    assert.equal(w[5].status, "rejected");
    // release() resolves once the connection is closed, so it is not awaited while destroys are held.
    const closing = w[2].value!.release();
    await flush();
    assert.deepEqual([pool.stats().total, pool.stats().closing, stub.live], [2, 1, 3]);
    // A new waiter: the closing connection still counts against the cap, so nothing is created.
    const g = track(pool.acquire({ agentId: "g" }));
    await flush();
    assert.equal(stub.createCalls, 3);
    assert.equal(g.status, "pending");
    assertConsistent(t);
    // The destroy finishes: now there is room, and a create starts for g.
    stub.finishDestroys();
    await closing;
    await flush();
    assert.equal(stub.createCalls, 4);
    assert.equal(stub.live, 3);
    stub.resolveAll();
    await flush();
    assert.equal(g.status, "resolved");
    assert.deepEqual([pool.stats().total, pool.stats().overflow, pool.stats().closing], [3, 1, 0]);
    assert.equal(pool.connections().find((c) => c.agentId === "g")!.overflow, true);
    assertConsistent(t);
    const returns = [w[3], w[4], g].map((x) => x.value!.release());
    await flush();
    assert.equal(stub.pendingDestroys.length, 1, "one return above max is being closed");
    assert.ok(stub.live <= 3);
    stub.finishDestroys();
    await Promise.all(returns);
    assert.deepEqual([pool.stats().total, pool.stats().overflow, pool.stats().idle], [2, 0, 2]);
    assert.ok(stub.peakLive <= 3, `peak live ${stub.peakLive}`);
    assertConsistent(t);
    const closed = pool.close();
    await flush();
    stub.finishDestroys();
    await closed;
    assert.equal(stub.live, 0);
  });

  test("an overflow connection created for a waiter that gave up is closed on arrival", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 1 }, { createMode: "deferred" });
    const { pool, stub } = t;
    stub.resolveAll();
    await flush();
    const h = await pool.acquire({ agentId: "a" });
    const controller = new AbortController();
    const w = track(pool.acquire({ agentId: "b", signal: controller.signal }));
    await flush();
    assert.equal(stub.inFlightCreates, 1, "an overflow create started for b");
    controller.abort();
    await flush();
    assert.equal(w.status, "rejected");
    stub.resolveAll();
    await flush();
    assert.deepEqual([pool.stats().total, pool.stats().idle, pool.stats().overflow], [1, 0, 0]);
    assert.equal(stub.destroyCalls, 1, "closed at once: above maxConnections with nobody waiting");
    assertConsistent(t);
    await h.release();
    await pool.close();
  });

  test("a steady connection closing promotes an overflow one; flags and counts stay in step", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 1, overflow: 2 }, {
      reset: (c) => {
        if (c.id === 1) throw new Error("reset failed");
      },
    });
    const { pool } = t;
    const [h1, h2, h3] = await Promise.all(["a", "b", "c"].map((agentId) => pool.acquire({ agentId })));
    assert.deepEqual(pool.connections().map((c) => [c.id, c.overflow]), [[1, false], [2, true], [3, true]]);
    await h1.release(); // its reset throws: the steady connection is destroyed
    await flush();
    assert.deepEqual([pool.stats().total, pool.stats().overflow], [2, 1]);
    assert.equal(pool.connections().filter((c) => !c.overflow).length, 1, "one connection became steady");
    assertConsistent(t);
    await h2.release();
    await h3.release();
    await flush();
    assert.deepEqual([pool.stats().total, pool.stats().overflow, pool.stats().idle], [1, 0, 1]);
    assertConsistent(t);
    await pool.close();
  });
});
