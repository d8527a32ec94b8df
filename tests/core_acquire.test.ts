/**
 * Start-up, the acquire/release paths, handles, `use()`, no barging, and `factory.reset`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PoolError, PooledConnection } from "../src/core/mod.ts";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, track } from "./support/stub_factory.ts";

describe("start-up and background creation", () => {
  test("minConnections are created in the background, createConcurrency at a time", async () => {
    const t = makePool({ minConnections: 5, maxConnections: 10, createConcurrency: 2 }, { createMode: "deferred" });
    const { pool, stub } = t;
    assert.equal(stub.createCalls, 2, "two creates started by the constructor");
    assert.equal(pool.stats().total, 0);
    assert.equal(pool.stats().creating, 2);
    for (let i = 0; i < 5; i++) {
      stub.pendingCreates[0].resolve();
      await flush();
      assert.ok(stub.inFlightCreates <= 2);
    }
    await flush();
    assert.equal(stub.createCalls, 5, "stops at minConnections");
    assert.deepEqual([pool.stats().total, pool.stats().idle, pool.stats().creating], [5, 5, 0]);
    assertConsistent(t);
    await pool.close();
  });

  test("acquire never creates inline: it waits for the background create", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 3 }, { createMode: "deferred" });
    const { pool, stub } = t;
    assert.equal(stub.createCalls, 0);
    const a = track(pool.acquire({ agentId: "a" }));
    await flush();
    assert.equal(a.status, "pending", "the caller does not get a connection before a create finishes");
    assert.equal(stub.createCalls, 1, "demand started exactly one background create");
    assert.equal(pool.stats().pending, 1);
    stub.pendingCreates[0].resolve();
    await flush();
    assert.equal(a.status, "resolved");
    assert.equal(a.value!.connection.id, 1);
    assertConsistent(t);
    await a.value!.release();
    await pool.close();
  });

  test("a waiter takes the first connection freed, even while its own create is in flight", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 2 }, { createMode: "deferred" });
    const { pool, stub } = t;
    const first = track(pool.acquire({ agentId: "a" }));
    stub.pendingCreates[0].resolve();
    await flush();
    const held = first.value!;
    const waiter = track(pool.acquire({ agentId: "b" }));
    await flush();
    assert.equal(stub.pendingCreates.length, 1, "a create started for b");
    await held.release();
    await flush();
    assert.equal(waiter.status, "resolved");
    assert.equal(waiter.value!.id, held.id, "b got the freed connection, not the one being created");
    stub.pendingCreates[0].resolve();
    await flush();
    assert.equal(pool.stats().idle, 1, "the late create idles");
    assertConsistent(t);
    await waiter.value!.release();
    await pool.close();
  });
});

describe("handles", () => {
  test("acquire returns a handle with connection, id, agentId; release() returns it", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 2 });
    const { pool, clock } = t;
    await clock.advance(0);
    const handle = await pool.acquire({ agentId: "planner-1" });
    assert.ok(handle instanceof PooledConnection);
    assert.equal(handle.agentId, "planner-1");
    assert.equal(handle.id, 1);
    assert.equal(handle.connection.id, 1);
    assert.equal(handle.released, false);
    const info = pool.connections()[0];
    assert.deepEqual([info.id, info.state, info.agentId, info.uses], [1, "used", "planner-1", 1]);
    assert.deepEqual([pool.stats().used, pool.stats().idle], [1, 0]);
    await handle.release();
    assert.equal(handle.released, true);
    assert.deepEqual([pool.stats().used, pool.stats().idle], [0, 1]);
    assert.deepEqual([pool.connections()[0].state, pool.connections()[0].agentId], ["idle", null]);
    assertConsistent(t);
    await pool.close();
  });

  test("acquire without agentId uses the 'default' agent", async () => {
    const { pool, clock } = makePool({ minConnections: 1 });
    await clock.advance(0);
    const handle = await pool.acquire();
    assert.equal(handle.agentId, "default");
    assert.equal(pool.agents()[0].agentId, "default");
    await handle.release();
    await pool.close();
  });

  test("`await using` releases on scope exit, also when the scope throws", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0 });
    const { pool, clock } = t;
    await clock.advance(0);
    {
      await using handle = await pool.acquire({ agentId: "a" });
      assert.equal(handle.agentId, "a");
      assert.equal(pool.stats().used, 1);
    }
    assert.equal(pool.stats().used, 0);
    await assert.rejects(async () => {
      await using _handle = await pool.acquire({ agentId: "b" });
      throw new Error("boom");
    }, /boom/);
    assert.equal(pool.stats().used, 0);
    // Disposing an already released handle is a no-op, not DOUBLE_RELEASE.
    {
      await using handle = await pool.acquire({ agentId: "c" });
      await handle.release();
    }
    assert.equal(pool.stats().released, 3);
    assertConsistent(t);
    await pool.close();
  });

  test("Symbol.asyncDispose can be called directly", async () => {
    const { pool, clock } = makePool({ minConnections: 1 });
    await clock.advance(0);
    const handle = await pool.acquire({ agentId: "a" });
    await handle[Symbol.asyncDispose]();
    assert.equal(handle.released, true);
    assert.equal(pool.stats().used, 0);
    await handle[Symbol.asyncDispose]();
    await pool.close();
  });

  test("pool.release(handle) works like handle.release()", async () => {
    const t = makePool({ minConnections: 1 });
    const { pool, clock } = t;
    await clock.advance(0);
    const handle = await pool.acquire({ agentId: "a" });
    await pool.release(handle);
    assert.equal(handle.released, true);
    assert.deepEqual([pool.stats().used, pool.stats().released], [0, 1]);
    assertConsistent(t);
    await pool.close();
  });

  test("use() runs fn with the connection and releases; also when fn throws or rejects", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0 });
    const { pool, clock } = t;
    await clock.advance(0);
    const result = await pool.use((connection, handle) => {
      assert.equal(handle.agentId, "a");
      assert.equal(pool.stats().used, 1);
      return connection.id * 10;
    }, { agentId: "a" });
    assert.equal(result, 10);
    assert.equal(pool.stats().used, 0);
    await assert.rejects(pool.use(() => {
      throw new Error("sync boom");
    }, { agentId: "b" }), /sync boom/);
    assert.equal(pool.stats().used, 0);
    await assert.rejects(pool.use(async () => {
      await null;
      throw new Error("async boom");
    }, { agentId: "c" }), /async boom/);
    assert.equal(pool.stats().used, 0);
    // fn releasing the handle itself does not cause a double release.
    await pool.use((_c, handle) => handle.release(), { agentId: "d" });
    assert.deepEqual([pool.stats().acquired, pool.stats().released], [4, 4]);
    assertConsistent(t);
    await pool.close();
  });
});

describe("no barging", () => {
  test("a returned connection goes straight to the head waiter, not to a newcomer", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0 });
    const { pool, clock } = t;
    await clock.advance(0);
    const held = await pool.acquire({ agentId: "a" });
    const waiter = track(pool.acquire({ agentId: "b" }));
    await flush();
    const released = held.release();
    // A newcomer in the same tick as the release: the connection is already b's.
    const newcomer = track(pool.acquire({ agentId: "c" }));
    await released;
    await flush();
    assert.equal(waiter.status, "resolved");
    assert.equal(waiter.value!.agentId, "b");
    assert.equal(newcomer.status, "pending");
    assert.equal(pool.stats().idle, 0, "the connection never went idle");
    await waiter.value!.release();
    await flush();
    assert.equal(newcomer.status, "resolved");
    await newcomer.value!.release();
    assertConsistent(t);
    await pool.close();
  });

  test("a newcomer queues behind waiters even when its agent holds nothing", async () => {
    const t = makePool({ minConnections: 2, maxConnections: 2, overflow: 0 });
    const { pool, clock } = t;
    await clock.advance(0);
    const h1 = await pool.acquire({ agentId: "a" });
    const h2 = await pool.acquire({ agentId: "a2" });
    const order: string[] = [];
    const w = ["x", "y", "z"].map((id) => pool.acquire({ agentId: id }).then((h) => (order.push(id), h)));
    await h1.release();
    await h2.release();
    const late = pool.acquire({ agentId: "late" }).then((h) => (order.push("late"), h));
    const [hx, hy] = await Promise.all([w[0], w[1]]);
    await hx.release();
    await hy.release();
    const [hz, hl] = await Promise.all([w[2], late]);
    assert.deepEqual(order, ["x", "y", "z", "late"]);
    await hz.release();
    await hl.release();
    assertConsistent(t);
    await pool.close();
  });
});

describe("factory.reset", () => {
  test("reset is called on every release, before the connection is reused", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0 }, {
      reset: async () => {
        await null;
      },
    });
    const { pool, clock, stub } = t;
    await clock.advance(0);
    const h1 = await pool.acquire({ agentId: "a" });
    const waiter = track(pool.acquire({ agentId: "b" }));
    const released = h1.release();
    assert.equal(stub.resetCalls, 1);
    assert.equal(pool.connections()[0].state, "resetting");
    assert.equal(waiter.status, "pending");
    await released;
    await flush();
    assert.equal(waiter.status, "resolved");
    assert.equal(waiter.value!.connection.resets, 1);
    await waiter.value!.release();
    assert.equal(stub.resetCalls, 2);
    assertConsistent(t);
    await pool.close();
  });

  test("a throwing reset destroys the connection, reports it, and the waiter gets a fresh one", async () => {
    let failReset = true;
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0 }, {
      reset: () => {
        if (failReset) throw new Error("ROLLBACK failed");
      },
    });
    const { pool, clock, stub } = t;
    const errors: unknown[] = [];
    pool.addEventListener("error", (event) => errors.push((event as CustomEvent).detail));
    await clock.advance(0);
    const h1 = await pool.acquire({ agentId: "a" });
    const waiter = track(pool.acquire({ agentId: "b" }));
    await h1.release();
    await flush();
    failReset = false;
    assert.equal(stub.destroyCalls, 1, "the connection whose reset threw was destroyed");
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as { during: string }).during, "reset");
    assert.equal(waiter.status, "resolved");
    assert.notEqual(waiter.value!.connection.id, h1.id, "b got a new connection");
    assert.equal(stub.created, 2);
    await waiter.value!.release();
    assertConsistent(t);
    await pool.close();
  });

  test("a throwing reset while other connections idle: the agent's waiter is served from them", async () => {
    // maxPerAgent 1: a's second acquire waits for a's own release; that release's reset throws.
    let failReset = false;
    const t = makePool({ minConnections: 0, maxConnections: 2, overflow: 0, maxPerAgent: 1 }, {
      reset: () => {
        if (failReset) throw new Error("ROLLBACK failed");
      },
    });
    const { pool, stub } = t;
    const h1 = await pool.acquire({ agentId: "a" });
    await (await pool.acquire({ agentId: "b" })).release();
    const second = track(pool.acquire({ agentId: "a" }));
    await flush();
    assert.equal(second.status, "pending", "a is at its quota");
    assert.equal(pool.stats().idle, 1);
    failReset = true;
    await h1.release();
    await flush();
    failReset = false;
    assert.equal(stub.destroyCalls, 1);
    await t.clock.advance(100);
    assert.equal(second.status, "resolved", "a connection was idle and a's waiter may take it");
    await second.value!.release();
    assertConsistent(t);
    await pool.close();
  });

  test("an expired connection closed on release: the agent's quota-blocked waiter takes an idle one", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 2, overflow: 0, maxPerAgent: 1, maxLifetimeMs: 1000, lifetimeJitter: 0 });
    const { pool, stub, clock } = t;
    const a1 = await pool.acquire({ agentId: "a" });
    await clock.advance(500);
    await (await pool.acquire({ agentId: "b" })).release(); // idle, expires 500 ms after a's
    const second = track(pool.acquire({ agentId: "a" }));
    await clock.advance(500);
    assert.equal(second.status, "pending");
    await a1.release(); // past its lifetime: closed instead of handed on
    await flush();
    assert.equal(stub.destroyCalls, 1);
    assert.equal(second.status, "resolved", "a's waiter got the idle connection");
    assert.equal(second.value!.id, 2);
    await second.value!.release();
    assertConsistent(t);
    await pool.close();
  });

  test("misuse after release: USE_AFTER_RELEASE, DOUBLE_RELEASE", async () => {
    const t = makePool({ minConnections: 1 });
    const { pool, clock } = t;
    await clock.advance(0);
    const handle = await pool.acquire({ agentId: "a" });
    await handle.release();
    assert.throws(() => handle.connection, (e: unknown) => e instanceof PoolError && e.code === "USE_AFTER_RELEASE");
    await assert.rejects(async () => await handle.release(), (e: unknown) => e instanceof PoolError && e.code === "DOUBLE_RELEASE");
    assert.equal(pool.stats().released, 1);
    assertConsistent(t);
    await pool.close();
  });
});

describe("acquireAs: the acquire resolves to a view of the handle", () => {
  test("the view runs at the grant, idle or inside the release that hands over; the caller resumes one hop later", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0 });
    const { pool } = t;
    await flush();
    const order: string[] = [];
    const markers = (): void => void Promise.resolve().then(() => order.push("1 hop")).then(() => order.push("2 hops"));
    const view = (handle: PooledConnection<unknown>): { handle: PooledConnection<unknown> } => (order.push("view"), { handle });
    const first = pool.acquireAs({ agentId: "a" }, view).then((lease) => (order.push("caller"), lease));
    markers();
    const held = await first;
    await flush();
    assert.deepEqual(order.splice(0), ["view", "caller", "1 hop", "2 hops"]);
    const waiting = pool.acquireAs({ agentId: "b" }, view).then((lease) => (order.push("caller"), lease));
    await flush();
    assert.deepEqual(order, [], "b waits");
    const released = held.handle.release();
    assert.deepEqual(order, ["view"], "the view ran inside release()");
    markers();
    const next = await waiting;
    await released;
    await flush();
    assert.deepEqual(order, ["view", "caller", "1 hop", "2 hops"]);
    assert.equal(next.handle.agentId, "b");
    await next.handle.release();
    assertConsistent(t);
    await pool.close();
  });

  test("a view that throws rejects the acquire and the connection goes back", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0 });
    const { pool } = t;
    await flush();
    const boom = (): never => {
      throw new Error("view failed");
    };
    await assert.rejects(pool.acquireAs({ agentId: "a" }, boom), /view failed/);
    await flush();
    assert.equal(pool.stats().used, 0, "idle path: handed back");
    const holder = await pool.acquire({ agentId: "a" });
    const waiting = pool.acquireAs({ agentId: "b" }, boom);
    await flush();
    await holder.release();
    await assert.rejects(waiting, /view failed/);
    await flush();
    assert.deepEqual([pool.stats().used, pool.stats().idle], [0, 1], "hand-over path: handed back");
    assertConsistent(t);
    await pool.close();
  });
});

test("a waiter served by a new connection sees it open, no longer in flight (total + creating counts it once)", async () => {
  const t = makePool({ minConnections: 0, maxConnections: 2, overflow: 0 }, { createMode: "deferred" });
  const { pool, stub } = t;
  const served = pool.acquire({ agentId: "a" }).then((handle) => ({ handle, stats: pool.stats() }));
  await flush();
  stub.pendingCreates[0].resolve();
  const { handle, stats } = await served;
  assert.deepEqual([stats.total, stats.creating], [1, 0]);
  await handle.release();
  assertConsistent(t);
  await pool.close();
});
