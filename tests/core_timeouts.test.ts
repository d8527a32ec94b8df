/**
 * Bounded waits on the manual clock: timeouts and their message, per-acquire overrides, the queue
 * bound, the one shared deadline timer, AbortSignal, and exact per-agent accounting.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionPoolExhaustedError } from "../src/core/mod.ts";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, type TestPool, track } from "./support/stub_factory.ts";

async function fullPool(size: number, extra: Parameters<typeof makePool>[0] = {}): Promise<TestPool> {
  const t = makePool({ minConnections: size, maxConnections: size, overflow: 0, ...extra });
  await t.clock.advance(0);
  return t;
}

describe("acquire timeouts", () => {
  test("after acquireTimeoutMs: ConnectionPoolExhaustedError with reason, code, counts and top holders", async () => {
    const t = await fullPool(3, { acquireTimeoutMs: 5000 });
    const { pool, clock } = t;
    const held = [
      await pool.acquire({ agentId: "planner" }),
      await pool.acquire({ agentId: "planner" }),
      await pool.acquire({ agentId: "critic" }),
    ];
    await clock.advance(2000);
    const w = track(pool.acquire({ agentId: "coder" }));
    const other = track(pool.acquire({ agentId: "coder" }));
    await clock.advance(4999);
    assert.equal(w.status, "pending");
    await clock.advance(1);
    assert.equal(w.status, "rejected");
    assert.equal(other.status, "rejected", "same deadline, same firing");
    const error = w.error as ConnectionPoolExhaustedError;
    assert.ok(error instanceof ConnectionPoolExhaustedError);
    assert.equal(error.name, "ConnectionPoolExhaustedError");
    assert.equal(error.reason, "timeout");
    assert.equal(error.code, "ACQUIRE_TIMEOUT");
    assert.equal(error.agentId, "coder");
    assert.equal(error.cause, undefined, "no create failed: no cause");
    const m = error.message;
    assert.match(m, /Timed out after 5\.00 s waiting for a connection for agent 'coder'/);
    assert.match(m, /total 3\/3/);
    assert.match(m, /used 3/);
    assert.match(m, /idle 0/);
    assert.match(m, /pending 1/, "the other coder waiter is still counted when the first one fails");
    assert.match(m, /top holders: 'planner' ×2 \(longest 7\.00 s\), 'critic' ×1 \(longest 7\.00 s\)/);
    assert.doesNotMatch(m, /unreachable/);
    const coder = pool.agents().find((a) => a.agentId === "coder")!;
    assert.deepEqual([coder.timeouts, coder.pending, coder.acquired], [2, 0, 0]);
    assert.equal(pool.stats().timeouts, 2);
    assertConsistent(t);
    for (const h of held) await h.release();
    await pool.close();
  });

  test("per-acquire timeoutMs overrides the default, also for the idle fast path", async () => {
    const t = await fullPool(1, { acquireTimeoutMs: 5000 });
    const { pool, clock } = t;
    // With a connection idle, an acquire with timeoutMs still gets it at once.
    const h = await pool.acquire({ agentId: "a", timeoutMs: 10 });
    const short = track(pool.acquire({ agentId: "b", timeoutMs: 100 }));
    const long = track(pool.acquire({ agentId: "c", timeoutMs: 20_000 }));
    const forever = track(pool.acquire({ agentId: "d", timeoutMs: Infinity }));
    const normal = track(pool.acquire({ agentId: "e" }));
    await clock.advance(100);
    assert.deepEqual([short.status, long.status, forever.status, normal.status], ["rejected", "pending", "pending", "pending"]);
    assert.match((short.error as Error).message, /Timed out after 100 ms/);
    await clock.advance(4900);
    assert.deepEqual([long.status, forever.status, normal.status], ["pending", "pending", "rejected"]);
    await clock.advance(15_000);
    assert.deepEqual([long.status, forever.status], ["rejected", "pending"]);
    await clock.advance(1_000_000);
    assert.equal(forever.status, "pending", "Infinity never times out");
    await h.release();
    await flush();
    assert.equal(forever.status, "resolved");
    await forever.value!.release();
    assertConsistent(t);
    await pool.close();
  });

  test("an invalid timeoutMs rejects with a RangeError/TypeError naming it; the pool is unaffected", async () => {
    const t = await fullPool(1);
    const { pool } = t;
    for (const bad of [0, -1, NaN]) {
      await assert.rejects(pool.acquire({ agentId: "a", timeoutMs: bad }), (e: unknown) => {
        assert.ok(e instanceof RangeError, String(e));
        assert.match(e.message, new RegExp(`^Cannot acquire as 'timeoutMs'.*current value is ${bad}`));
        return true;
      });
    }
    await assert.rejects(pool.acquire({ agentId: "a", timeoutMs: "5" as unknown as number }), TypeError);
    assert.deepEqual([pool.stats().pending, pool.stats().used, pool.stats().idle], [0, 0, 1]);
    const h = await pool.acquire({ agentId: "a" });
    await h.release();
    assertConsistent(t);
    await pool.close();
  });

  test("maxWaiting: the acquire beyond it is refused at once with reason queue_full", async () => {
    const t = await fullPool(1, { maxWaiting: 2 });
    const { pool } = t;
    const h = await pool.acquire({ agentId: "a" });
    const w1 = track(pool.acquire({ agentId: "b" }));
    const w2 = track(pool.acquire({ agentId: "c" }));
    const w3 = track(pool.acquire({ agentId: "d" }));
    await flush();
    assert.deepEqual([w1.status, w2.status, w3.status], ["pending", "pending", "rejected"]);
    const error = w3.error as ConnectionPoolExhaustedError;
    assert.ok(error instanceof ConnectionPoolExhaustedError);
    assert.equal(error.reason, "queue_full");
    assert.equal(error.code, "QUEUE_FULL");
    assert.match(error.message, /2 acquires are already waiting \(maxWaiting\)/);
    assert.equal(pool.stats().pending, 2);
    assert.equal(pool.stats().rejected, 1);
    assert.equal(pool.agents().find((a) => a.agentId === "d")!.rejected, 1);
    // maxWaiting 0: no waiting at all, but an idle connection is still handed out.
    const zero = await fullPool(1, { maxWaiting: 0 });
    const z1 = await zero.pool.acquire({ agentId: "x" });
    await assert.rejects(zero.pool.acquire({ agentId: "y" }), (e: unknown) => (e as ConnectionPoolExhaustedError).reason === "queue_full");
    await z1.release();
    await zero.pool.close();
    await h.release();
    await flush();
    await w1.value!.release();
    await flush();
    await w2.value!.release();
    assertConsistent(t);
    await pool.close();
  });

  test("one shared deadline timer for many waiters with the same timeout", async () => {
    const t = await fullPool(1, { acquireTimeoutMs: 3000 });
    const { pool, clock } = t;
    const h = await pool.acquire({ agentId: "a" });
    const calls = clock.scheduled.length;
    const waiters = Array.from({ length: 50 }, (_, i) => track(pool.acquire({ agentId: `w${i % 5}` })));
    await flush();
    // Time passing between enqueues does not re-arm either (later deadlines).
    await clock.advance(10);
    const later = Array.from({ length: 10 }, () => track(pool.acquire({ agentId: "late" })));
    await flush();
    assert.deepEqual(clock.scheduled.slice(calls), [3000], "60 waiters armed exactly one timer");
    await clock.advance(2990);
    assert.ok(waiters.every((w) => w.status === "rejected"));
    assert.ok(later.every((w) => w.status === "pending"));
    await clock.advance(10);
    assert.ok(later.every((w) => w.status === "rejected"));
    await h.release();
    assertConsistent(t);
    await pool.close();
  });

  test("an earlier deadline re-arms the timer; served waiters leave no timer behind", async () => {
    const t = await fullPool(1, { acquireTimeoutMs: 3000 });
    const { pool, clock } = t;
    const h = await pool.acquire({ agentId: "a" });
    const slow = track(pool.acquire({ agentId: "b" }));
    const fast = track(pool.acquire({ agentId: "c", timeoutMs: 50 }));
    await clock.advance(50);
    assert.deepEqual([slow.status, fast.status], ["pending", "rejected"]);
    await h.release();
    await flush();
    assert.equal(slow.status, "resolved");
    const deadlines = clock.pendingDelays().filter((ms) => ms !== 1000 && ms > 0);
    assert.ok(deadlines.length <= 1, `pending timers: ${clock.pendingDelays()}`);
    await slow.value!.release();
    await pool.close();
    assert.equal(clock.pendingTimers, 0);
  });
});

describe("AbortSignal", () => {
  test("an already aborted signal rejects with its reason; nothing is queued or taken", async () => {
    const t = await fullPool(1);
    const { pool } = t;
    const reason = new Error("agent cancelled");
    const signal = AbortSignal.abort(reason);
    await assert.rejects(pool.acquire({ agentId: "a", signal }), (e) => e === reason);
    await assert.rejects(pool.acquire({ agentId: "a", signal, timeoutMs: 10 }), (e) => e === reason);
    const h = await pool.acquire({ agentId: "b" });
    await assert.rejects(pool.acquire({ agentId: "a", signal }), (e) => e === reason);
    assert.deepEqual([pool.stats().pending, pool.stats().used, pool.stats().acquired], [0, 1, 1]);
    await h.release();
    assertConsistent(t);
    await pool.close();
  });

  test("aborting while waiting rejects with the reason and removes the waiter", async () => {
    const t = await fullPool(1);
    const { pool } = t;
    const h = await pool.acquire({ agentId: "a" });
    const controller = new AbortController();
    const w = track(pool.acquire({ agentId: "b", signal: controller.signal }));
    const next = track(pool.acquire({ agentId: "c" }));
    await flush();
    assert.equal(pool.stats().pending, 2);
    controller.abort("stop");
    await flush();
    assert.equal(w.status, "rejected");
    assert.equal(w.error, "stop");
    assert.equal(pool.stats().pending, 1);
    assert.equal(pool.stats().aborted, 1);
    assert.equal(pool.agents().find((a) => a.agentId === "b")!.aborted, 1);
    await h.release();
    await flush();
    assert.equal(next.status, "resolved", "the connection skips the aborted waiter");
    await next.value!.release();
    assertConsistent(t);
    await pool.close();
  });

  test("abort in the same tick right after the hand-off: the connection is not lost", async () => {
    const t = await fullPool(1);
    const { pool } = t;
    const h = await pool.acquire({ agentId: "a" });
    const controller = new AbortController();
    const w = track(pool.acquire({ agentId: "b", signal: controller.signal }));
    const released = h.release();
    controller.abort(new Error("too late"));
    await released;
    await flush();
    assert.equal(w.status, "resolved", "the hand-off happened first: the acquire keeps the connection");
    assert.deepEqual([pool.stats().used, pool.stats().total, pool.stats().aborted], [1, 1, 0]);
    await w.value!.release();
    assert.deepEqual([pool.stats().idle, pool.stats().total], [1, 1]);
    // The same race through use(): fn does not run, the connection comes back.
    const h2 = await pool.acquire({ agentId: "a" });
    const c2 = new AbortController();
    let ran = false;
    const u = track(pool.use(() => (ran = true), { agentId: "b", signal: c2.signal }));
    const r2 = h2.release();
    c2.abort(new Error("too late"));
    await r2;
    await flush();
    assert.equal(u.status, "rejected");
    assert.equal(ran, false);
    assert.deepEqual([pool.stats().idle, pool.stats().used, pool.stats().total], [1, 0, 1]);
    assertConsistent(t);
    await pool.close();
  });

  test("abort with a reset in progress: the connection goes to the next waiter", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0 }, {
      reset: async () => {
        await null;
      },
    });
    const { pool, clock } = t;
    await clock.advance(0);
    const h = await pool.acquire({ agentId: "a" });
    const controller = new AbortController();
    const w = track(pool.acquire({ agentId: "b", signal: controller.signal }));
    const next = track(pool.acquire({ agentId: "c" }));
    const released = h.release();
    controller.abort();
    await released;
    await flush();
    assert.equal(w.status, "rejected");
    assert.equal((w.error as Error).name, "AbortError");
    assert.equal(next.status, "resolved");
    await next.value!.release();
    assertConsistent(t);
    await pool.close();
  });
});

describe("agent accounting on the manual clock", () => {
  test("held, pending, acquired, timeouts, totalWaitMs, totalHoldMs, maxima and connections() are exact", async () => {
    // maxPerAgent grants A a second connection at the cap (else its second acquire is nested).
    const t = await fullPool(2, { acquireTimeoutMs: 1000, maxPerAgent: 2 });
    const { pool, clock } = t;
    const a1 = await pool.acquire({ agentId: "A" });
    await clock.advance(100);
    const b1 = await pool.acquire({ agentId: "B" });
    const a2 = track(pool.acquire({ agentId: "A" }));
    const c1 = track(pool.acquire({ agentId: "C" }));
    await clock.advance(250);
    let info = Object.fromEntries(pool.agents().map((a) => [a.agentId, a]));
    assert.deepEqual([info.A.held, info.A.pending, info.A.acquired, info.A.longestHeldMs], [1, 1, 1, 350]);
    assert.deepEqual([info.B.held, info.B.pending, info.B.longestHeldMs], [1, 0, 250]);
    assert.deepEqual([info.C.held, info.C.pending], [0, 1]);
    const conns = pool.connections();
    assert.deepEqual(conns.map((c) => [c.id, c.state, c.agentId, c.overflow, c.uses, c.heldMs]), [
      [1, "used", "B", false, 1, 250],
      [2, "used", "A", false, 1, 350],
    ]);
    assert.equal(pool.stats().activeAgents, 3);
    await a1.release(); // held 350 ms; goes to A's waiter (first in rotation), waited 250 ms
    await flush();
    assert.equal(a2.status, "resolved");
    await clock.advance(1000); // C times out at 1000 ms after it queued (750 ms from now)
    assert.equal(c1.status, "rejected");
    await a2.value!.release(); // held 1000 ms
    await b1.release(); // held 1250 ms
    info = Object.fromEntries(pool.agents().map((a) => [a.agentId, a]));
    assert.deepEqual(
      [info.A.acquired, info.A.totalWaitMs, info.A.maxWaitMs, info.A.totalHoldMs, info.A.maxHoldMs, info.A.held],
      [2, 250, 250, 1350, 1000, 0],
    );
    assert.deepEqual([info.B.acquired, info.B.totalWaitMs, info.B.totalHoldMs, info.B.longestHeldMs], [1, 0, 1250, 0]);
    assert.deepEqual([info.C.acquired, info.C.timeouts, info.C.pending, info.C.totalWaitMs], [0, 1, 0, 0]);
    const s = pool.stats();
    assert.deepEqual([s.acquired, s.released, s.timeouts, s.used, s.idle, s.pending, s.activeAgents], [3, 3, 1, 0, 2, 0, 0]);
    assert.deepEqual(pool.connections().map((c) => [c.state, c.agentId, c.heldMs, c.heldSince]), [
      ["idle", null, 0, null],
      ["idle", null, 0, null],
    ]);
    assertConsistent(t);
    await pool.close();
  });
});
