/**
 * close(): waiters rejected, idle and in-flight connections closed, held ones closed on return,
 * timers cleared. Misuse: double release, foreign handles, use after release, bad agent ids; after
 * each the pool's counts stay consistent and it keeps serving.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncConnectionPool, PoolClosedError, PoolError, PooledConnection } from "../src/core/mod.ts";
import { flush, ManualClock } from "./support/manual_clock.ts";
import { assertConsistent, makePool, type TestPool, track } from "./support/stub_factory.ts";

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof PoolError, `expected PoolError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}

async function fullPool(size: number, extra: Parameters<typeof makePool>[0] = {}): Promise<TestPool> {
  const t = makePool({ minConnections: size, maxConnections: size, overflow: 0, ...extra });
  await t.clock.advance(0);
  return t;
}

/** The pool still hands out and takes back a connection, and its counts add up. */
async function stillServes(t: TestPool): Promise<void> {
  const h = await t.pool.acquire({ agentId: "probe" });
  assert.equal(h.released, false);
  await h.release();
  assertConsistent(t);
}

describe("close()", () => {
  test("rejects pending acquires, closes idle ones, closes held ones when returned, clears timers", async () => {
    const t = await fullPool(3, { acquireTimeoutMs: 5000 });
    const { pool, stub, clock } = t;
    const held = await pool.acquire({ agentId: "a" });
    const held2 = await pool.acquire({ agentId: "b" });
    await held2.release();
    const busy = await Promise.all(["c", "d"].map((agentId) => pool.acquire({ agentId })));
    const waiters = ["e", "f", "g"].map((agentId) => track(pool.acquire({ agentId, signal: new AbortController().signal })));
    await flush();
    assert.ok(clock.pendingTimers > 0);
    const first = pool.close();
    const second = pool.close();
    assert.equal(first, second, "close twice returns the same promise");
    assert.equal(pool.closed, true);
    await first;
    for (const w of waiters) {
      assert.equal(w.status, "rejected");
      assert.ok(w.error instanceof PoolClosedError);
      assert.equal((w.error as PoolClosedError).code, "POOL_CLOSED");
    }
    assert.equal(clock.pendingTimers, 0, "deadline timer and housekeeper cleared");
    assert.deepEqual([pool.stats().total, pool.stats().used, pool.stats().idle, pool.stats().pending], [3, 3, 0, 0]);
    assert.equal(stub.destroyCalls, 0, "no connection was idle at close");
    await assert.rejects(pool.acquire({ agentId: "late" }), (e: unknown) => e instanceof PoolClosedError && e.code === "POOL_CLOSED");
    // Held connections are closed as they come back.
    await held.release();
    assert.deepEqual([stub.destroyCalls, pool.stats().total], [1, 2]);
    for (const h of busy) await h.release();
    assert.deepEqual([stub.destroyCalls, pool.stats().total, stub.live], [3, 0, 0]);
    assert.equal(pool.stats().closed, true);
    assert.equal(clock.pendingTimers, 0);
    assertConsistent(t);
  });

  test("idle connections are closed at once; close() resolves after their destroys finish", async () => {
    const t = makePool({ minConnections: 2, maxConnections: 2 }, { destroyMode: "deferred" });
    const { pool, stub, clock } = t;
    await clock.advance(0);
    const closing = track(pool.close());
    await flush();
    assert.equal(stub.destroyCalls, 2);
    assert.equal(closing.status, "pending", "waits for the destroys");
    assert.equal(pool.stats().closing, 2);
    stub.finishDestroys();
    await closing.promise;
    assert.deepEqual([stub.live, pool.stats().total, pool.stats().closing, pool.stats().destroyed], [0, 0, 0, 2]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("creates in flight are aborted through their signal; none leaks", async () => {
    const t = makePool({ minConnections: 2, maxConnections: 4 }, { createMode: "deferred" });
    const { pool, stub, clock } = t;
    const w = track(pool.acquire({ agentId: "a" }));
    await flush();
    assert.equal(stub.inFlightCreates, 2);
    await pool.close();
    assert.equal(w.status, "rejected");
    assert.equal(stub.createAborts, 2);
    assert.ok(stub.pendingCreates.every((p) => p.signal.aborted));
    assert.deepEqual([stub.live, pool.stats().total, pool.stats().creating], [0, 0, 0]);
    assert.equal(pool.stats().createErrors, 0, "aborted-by-close creates are not failures");
    assert.equal(clock.pendingTimers, 0, "create timeout timers cleared");
  });

  test("a create that ignores the abort and succeeds later is closed on arrival; close() waits for it", async () => {
    const clock = new ManualClock();
    let resolveLate!: (c: { id: number }) => void;
    let destroyed = 0;
    const stubborn = new AsyncConnectionPool<{ id: number }>({
      factory: {
        create: () => new Promise((resolve) => (resolveLate = resolve)),
        destroy: () => void destroyed++,
      },
      minConnections: 1,
      clock,
    });
    const done = track(stubborn.close());
    await flush();
    assert.equal(done.status, "pending", "close() waits for the create in flight");
    resolveLate({ id: 1 });
    await done.promise;
    assert.equal(destroyed, 1, "the late connection was closed, not adopted as idle");
    assert.deepEqual([stubborn.stats().total, stubborn.stats().idle], [0, 0]);
  });

  test("close during create backoff clears the retry timer", async () => {
    const t = makePool({ minConnections: 1, createRetryInitialMs: 1000, createRetryMaxMs: 1000 }, { createMode: "fail" });
    const { pool, stub, clock } = t;
    await flush();
    assert.equal(stub.createFailures, 1);
    assert.ok(clock.pendingTimers >= 2, "housekeeper + retry timer");
    await pool.close();
    assert.equal(clock.pendingTimers, 0);
  });
});

describe("misuse", () => {
  test("double release: DOUBLE_RELEASE, via the handle and via the pool; counts unchanged", async () => {
    const t = await fullPool(2);
    const h = await t.pool.acquire({ agentId: "a" });
    await h.release();
    const before = t.pool.stats();
    await assert.rejects(h.release(), isCode("DOUBLE_RELEASE"));
    await assert.rejects(t.pool.release(h), isCode("DOUBLE_RELEASE"));
    // Never a synchronous throw: the promise rejects, naming the connection and the agent.
    const again = h.release();
    assert.ok(again instanceof Promise);
    await assert.rejects(again, /Connection 2 was already released by agent 'a'/);
    const after = t.pool.stats();
    assert.deepEqual([after.released, after.idle, after.used], [before.released, before.idle, before.used]);
    await stillServes(t);
    await t.pool.close();
  });

  test("a stale handle cannot release the connection its next holder has", async () => {
    const t = await fullPool(1);
    const h1 = await t.pool.acquire({ agentId: "a" });
    await h1.release();
    const h2 = await t.pool.acquire({ agentId: "b" });
    assert.equal(h2.id, h1.id, "same connection, new lease");
    await assert.rejects(h1.release(), isCode("DOUBLE_RELEASE"));
    assert.throws(() => h1.connection, isCode("USE_AFTER_RELEASE"));
    assert.equal(h2.connection.id, 1);
    assert.deepEqual([t.pool.stats().used, t.pool.agents().find((x) => x.agentId === "b")!.held], [1, 1]);
    await h2.release();
    await stillServes(t);
    await t.pool.close();
  });

  test("handle.connection after release: USE_AFTER_RELEASE naming connection and agent", async () => {
    const t = await fullPool(1);
    const h = await t.pool.acquire({ agentId: "planner-1" });
    assert.equal(h.connection.id, 1);
    await h.release();
    assert.throws(() => h.connection, (e: unknown) => {
      assert.ok(e instanceof PoolError);
      assert.equal(e.code, "USE_AFTER_RELEASE");
      assert.match(e.message, /Connection 1 .*'planner-1'/);
      return true;
    });
    await stillServes(t);
    await t.pool.close();
  });

  test("foreign handles: another pool's handle, a fake object, a prototype impostor", async () => {
    const t = await fullPool(1);
    const other = await fullPool(1);
    const theirs = await other.pool.acquire({ agentId: "x" });
    await assert.rejects(t.pool.release(theirs), isCode("FOREIGN_HANDLE"));
    assert.equal(theirs.released, false, "the other pool's lease is untouched");
    assert.equal(other.pool.stats().used, 1);
    const fake = { id: 1, agentId: "x", connection: {}, release: async () => {} };
    await assert.rejects(t.pool.release(fake as unknown as PooledConnection<never>), isCode("FOREIGN_HANDLE"));
    for (const junk of [null, undefined, 42, "handle"]) {
      await assert.rejects(t.pool.release(junk as unknown as PooledConnection<never>), isCode("FOREIGN_HANDLE"));
    }
    const impostor = Object.create(PooledConnection.prototype);
    await assert.rejects(t.pool.release(impostor), isCode("FOREIGN_HANDLE"));
    assertConsistent(t);
    await stillServes(t);
    await theirs.release();
    await other.pool.close();
    await t.pool.close();
  });

  test("non-string or empty agentId: TypeError naming agentId; nothing recorded", async () => {
    const t = await fullPool(1);
    for (const bad of [42, {}, "", true]) {
      await assert.rejects(t.pool.acquire({ agentId: bad as unknown as string }), (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, /'agentId' must be a non-empty string/);
        return true;
      });
    }
    await assert.rejects(t.pool.use(() => 1, { agentId: 7 as unknown as string }), TypeError);
    assert.deepEqual([t.pool.stats().acquired, t.pool.stats().pending, t.pool.agents().length], [0, 0, 0]);
    await stillServes(t);
    await t.pool.close();
  });

  test("acquire and use after close reject with PoolClosedError; release after close still works", async () => {
    const t = await fullPool(1);
    const h = await t.pool.acquire({ agentId: "a" });
    await t.pool.close();
    await assert.rejects(t.pool.acquire({ agentId: "a" }), isCode("POOL_CLOSED"));
    await assert.rejects(t.pool.use(() => 1, { agentId: "a" }), PoolClosedError);
    await t.pool.release(h);
    await assert.rejects(h.release(), isCode("DOUBLE_RELEASE"));
    assert.deepEqual([t.pool.stats().total, t.stub.live], [0, 0]);
  });
});
