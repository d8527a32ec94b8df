/**
 * Call-tree context and true hold-and-wait detection: `withAgent()` attribution, `use()` frames,
 * and NESTED_ACQUIRE_WOULD_DEADLOCK only for an acquire that provably cannot be served. Runs on
 * the real AsyncLocalStorage context (src/context/), the one "agentpool" installs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { asyncAgentContext, currentAgentId, withAgent } from "../src/context/mod.ts";
import { ConnectionPoolExhaustedError, type PooledConnection } from "../src/core/mod.ts";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, type StubConnection, type TestPool, track } from "./support/stub_factory.ts";

type Handle = PooledConnection<StubConnection>;

/** A pool of `size` connections (no overflow), all created and idle, on the ALS context. */
async function fullPool(size: number, extra: Parameters<typeof makePool>[0] = {}): Promise<TestPool> {
  const t = makePool({ minConnections: size, maxConnections: size, overflow: 0, context: asyncAgentContext, ...extra });
  await t.clock.advance(0);
  assert.equal(t.pool.stats().idle, size);
  return t;
}

/** A promise that settles when `release` is called: the body of a use() the test controls. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function nestedError(error: unknown): ConnectionPoolExhaustedError {
  assert.ok(error instanceof ConnectionPoolExhaustedError, `not an exhausted error: ${String(error)}`);
  assert.equal(error.reason, "nested_acquire");
  assert.equal(error.code, "NESTED_ACQUIRE_WOULD_DEADLOCK");
  return error;
}

describe("withAgent and use() frames", () => {
  test("every acquire inside withAgent, across awaits and Promise.all, is the agent's; an explicit id wins", async () => {
    const t = await fullPool(4);
    const ids = await withAgent("planner-1", async () => {
      await flush(3);
      const [a, b] = await Promise.all([t.pool.acquire(), (async () => {
        await null;
        return t.pool.acquire();
      })()]);
      const explicit = await t.pool.acquire({ agentId: "critic-2" });
      const result = [a.agentId, b.agentId, explicit.agentId, currentAgentId()];
      await Promise.all([a.release(), b.release(), explicit.release()]);
      return result;
    });
    assert.deepEqual(ids, ["planner-1", "planner-1", "critic-2", "planner-1"]);
    assert.equal(currentAgentId(), undefined, "outside withAgent: no agent");
    const outside = await t.pool.acquire();
    assert.equal(outside.agentId, "default");
    await outside.release();
    assertConsistent(t);
    await t.pool.close();
  });

  test("inside use(), acquires are the lease's agent's; withAgent inside use() switches agent", async () => {
    const t = await fullPool(3);
    const seen = await t.pool.use(async (_conn, outer) => {
      const inner = await t.pool.use((_c, h) => h.agentId);
      const other = await withAgent("critic-2", () => t.pool.use((_c, h) => h.agentId));
      return [outer.agentId, inner, other, currentAgentId()];
    }, { agentId: "planner-1" });
    assert.deepEqual(seen, ["planner-1", "planner-1", "critic-2", "planner-1"]);
    assertConsistent(t);
    await t.pool.close();
  });

  test("withAgent checks its arguments", () => {
    assert.throws(() => withAgent("", () => 1), (e: unknown) => e instanceof TypeError && /'agentId'/.test(e.message));
    assert.throws(() => withAgent("a", 42 as unknown as () => number), TypeError);
    assert.equal(withAgent("a", () => 7), 7, "returns what fn returns, synchronously");
  });
});

describe("hold-and-wait detection", () => {
  test("siblings under load are never refused: 10 agents × 5 parallel use() loops on 5 + 5", async () => {
    const t = makePool({ minConnections: 5, maxConnections: 5, overflow: 5, context: asyncAgentContext, acquireTimeoutMs: 60_000 });
    await t.clock.advance(0);
    let calls = 0;
    let peakPending = 0;
    const failures: unknown[] = [];
    const loop = async (agentId: string): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        try {
          await t.pool.use(async () => {
            peakPending = Math.max(peakPending, t.pool.stats().pending);
            await flush(2); // the "query"
            calls++;
          }, { agentId });
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const loops: Promise<void>[] = [];
    for (let a = 0; a < 10; a++) for (let l = 0; l < 5; l++) loops.push(loop(`agent-${a}`));
    await Promise.all(loops);
    assert.deepEqual(failures.map((e) => (e as { code?: string }).code ?? String(e)), []);
    assert.equal(calls, 1000);
    assert.ok(peakPending >= 30, `the pool was under load: ${peakPending} acquires waited at the cap at once`);
    assert.equal(t.pool.stats().rejected, 0);
    assertConsistent(t);
    await t.pool.close();
  });

  test("same agent nested at the cap: refused at once, naming agent, parent lease and cycle; pool consistent", async () => {
    const t = await fullPool(1, { acquireTimeoutMs: 5000 });
    let parentId = 0;
    const outcome = await t.pool.use(async (_conn, outer) => {
      parentId = outer.id;
      const inner = track(t.pool.use(() => "inner"));
      await flush();
      return inner;
    }, { agentId: "A" });
    assert.equal(outcome.status, "rejected", "refused without waiting for the timeout");
    const error = nestedError(outcome.error);
    assert.equal(error.agentId, "A");
    assert.match(error.message, new RegExp(`'A'.*connection ${parentId}`));
    assert.match(error.message, /'A' waits inside connection/);
    assert.equal(t.pool.stats().pending, 0, "it never queued");
    assert.equal(t.pool.stats().rejected, 1);
    assertConsistent(t);
    // The pool serves on.
    assert.equal(await t.pool.use(() => 1, { agentId: "B" }), 1);
    await t.pool.close();
  });

  test("detection stays exact after scoped leases end every way (released, thrown, revoked, plain withLease)", async () => {
    // The borrow path reads the context only while some held lease has run a call tree; this
    // churns that count through every way a lease ends, then checks a real deadlock is still seen.
    const t = await fullPool(2, { acquireTimeoutMs: 5000 });
    for (let i = 0; i < 3; i++) {
      await t.pool.use(() => "ok", { agentId: "A" });
      await t.pool.use(() => Promise.reject(new Error("boom")), { agentId: "A" }).catch(() => {});
      const plain = await t.pool.acquire({ agentId: "B" });
      await t.pool.withLease(plain, () => t.pool.withLease(plain, () => "twice")); // counted once
      await plain.release();
      const held = await t.pool.acquire({ agentId: "R" });
      t.pool.withLease(held, () => undefined);
      await t.pool.revoke("R");
      t.pool.readmit("R");
    }
    assertConsistent(t);
    const outcome = await t.pool.use(async () => {
      return await t.pool.use(async () => {
        const innermost = track(t.pool.use(() => "innermost"));
        await flush();
        return innermost;
      }, { agentId: "A" });
    }, { agentId: "A" });
    assert.equal(outcome.status, "rejected", "the third nested acquire at cap 2 is refused at once");
    nestedError(outcome.error);
    // Without any scoped lease held, a plain waiter is never refused: it is served when B lets go.
    const first = await t.pool.acquire({ agentId: "B" });
    const second = await t.pool.acquire({ agentId: "B" });
    const waiting = t.pool.acquire({ agentId: "C" });
    await first.release();
    const third = await waiting;
    assert.equal(third.agentId, "C");
    await Promise.all([second.release(), third.release()]);
    assertConsistent(t);
    await t.pool.close();
  });

  test("agent at its own quota whose holding is the parent: refused at once while connections sit idle", async () => {
    const t = await fullPool(4, { maxPerAgent: 1 });
    const outcome = await t.pool.use(async () => {
      const inner = track(t.pool.use(() => "inner"));
      await flush();
      return inner;
    }, { agentId: "A" });
    assert.equal(outcome.status, "rejected");
    nestedError(outcome.error);
    assert.equal(t.pool.stats().idle, 4, "the idle connections were never the problem");
    assertConsistent(t);
    await t.pool.close();
  });

  test("two agents each nesting at cap 2: the newest child is refused, the other proceeds", async () => {
    const t = await fullPool(2);
    const aHolds = gate();
    const bHolds = gate();
    let aChild: ReturnType<typeof track<string>> | undefined;
    const a = t.pool.use(async () => {
      await aHolds.promise;
      aChild = track(t.pool.use(() => "a-child"));
      return aChild.promise;
    }, { agentId: "A" });
    const b = t.pool.use(async () => {
      await bHolds.promise;
      return t.pool.use(() => "b-child");
    }, { agentId: "B" });
    const outerA = track(a);
    const outerB = track(b);
    await flush();
    aHolds.open();
    await flush();
    assert.equal(aChild!.status, "pending", "A's child waits: B's lease may still end");
    bHolds.open();
    await flush();
    assert.equal(outerB.status, "rejected", "B's child closes the cycle: refused, B's use() fails and releases");
    const error = nestedError(outerB.error);
    assert.equal(error.agentId, "B");
    assert.match(error.message, /'A' waits inside connection/);
    assert.match(error.message, /'B' waits inside connection/);
    await flush();
    assert.equal(outerA.status, "resolved");
    assert.equal(outerA.value, "a-child");
    assertConsistent(t);
    await t.pool.close();
  });

  test("a nested acquire that can be served waits and succeeds (a sibling's plain lease will end)", async () => {
    const t = await fullPool(2, { acquireTimeoutMs: 5000 });
    const sibling = await t.pool.acquire({ agentId: "B" });
    let inner: ReturnType<typeof track<string>> | undefined;
    const outer = track(t.pool.use(() => {
      inner = track(t.pool.use(() => "served"));
      return inner.promise;
    }, { agentId: "A" }));
    await flush();
    assert.equal(inner!.status, "pending", "it waits: nothing proves a deadlock");
    await sibling.release();
    await flush();
    assert.equal(outer.status, "resolved");
    assert.equal(outer.value, "served");
    assertConsistent(t);
    await t.pool.close();
  });

  test("a nested acquire below the cap waits for the create it triggered", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 2, overflow: 0, context: asyncAgentContext }, { createMode: "deferred" });
    const outer = track(t.pool.use(async () => {
      const inner = t.pool.use((_c, h) => h.id);
      await flush();
      t.stub.resolveAll();
      return inner;
    }, { agentId: "A" }));
    await flush();
    t.stub.resolveAll();
    await flush();
    await flush();
    assert.equal(outer.status, "resolved");
    assert.equal(t.pool.stats().rejected, 0);
    assertConsistent(t);
    await t.pool.close();
  });

  test("an acquire inside a released lease's continuation has no parent", async () => {
    const t = await fullPool(1);
    let later: Promise<Handle> | undefined;
    await t.pool.use(() => {
      later = (async () => {
        await flush(5); // runs after use() released its lease
        return t.pool.acquire();
      })();
    }, { agentId: "A" });
    const handle = await later!;
    assert.equal(handle.agentId, "A", "the agent is inherited");
    await handle.release();
    assert.equal(t.pool.stats().rejected, 0);
    await t.pool.close();
  });

  test("a quota set at run time never proves a deadlock: the child waits for it to be raised", async () => {
    const t = await fullPool(3, { acquireTimeoutMs: 5000 });
    t.pool.setAgentQuota("A", 1, () => "budget says 1");
    const outer = track(t.pool.use(async () => {
      const inner = track(t.pool.use(() => "served"));
      await flush();
      assert.equal(inner.status, "pending");
      t.pool.setAgentQuota("A", 2);
      return inner.promise;
    }, { agentId: "A" }));
    await flush();
    await flush();
    assert.equal(outer.status, "resolved");
    assertConsistent(t);
    await t.pool.close();
  });

  test("without a context, explicit agentIds work and nothing is ever refused as nested", async () => {
    const t = await fullPool(1, { context: null, acquireTimeoutMs: 1000 });
    const outer = track(t.pool.use(async () => {
      const inner = track(t.pool.use(() => 1));
      await t.clock.advance(1000);
      return inner;
    }, { agentId: "A" }));
    await flush();
    await t.clock.advance(1000);
    await flush();
    assert.equal(outer.status, "resolved");
    const inner = outer.value!;
    assert.equal(inner.status, "rejected");
    assert.equal((inner.error as ConnectionPoolExhaustedError).reason, "timeout", "it waited its timeout instead");
    await t.pool.close();
  });
});
