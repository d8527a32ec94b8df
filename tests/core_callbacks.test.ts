/**
 * User callbacks cannot hurt the pool: a metrics sink that throws in any method, an event
 * listener that throws, and `release()` misuse. Each costs that callback (reported once on
 * `error`), never a hang, a synchronous throw, an uncaught exception or an unhandled rejection.
 */
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { noopMetrics, type PoolMetrics } from "../src/core/mod.ts";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, track } from "./support/stub_factory.ts";

const METHODS = ["acquired", "released", "rejected", "created", "createFailed", "destroyed", "leaked", "errored", "summary"] as const;

const escaped: unknown[] = [];
const onEscape = (error: unknown): void => void escaped.push(error);
beforeEach(() => {
  escaped.length = 0;
  process.on("unhandledRejection", onEscape);
  process.on("uncaughtException", onEscape);
});
afterEach(() => {
  process.off("unhandledRejection", onEscape);
  process.off("uncaughtException", onEscape);
});

function throwingSink(method: typeof METHODS[number]): PoolMetrics & { calls: number } {
  const sink = { ...noopMetrics, calls: 0 } as PoolMetrics & { calls: number } & Record<string, unknown>;
  sink[method] = () => {
    sink.calls++;
    throw new Error(`metrics backend down (${method})`);
  };
  return sink;
}

describe("a throwing metrics sink", () => {
  for (const method of METHODS) {
    test(`${method} throwing: every call still completes, the pool serves on, reported once`, async () => {
      const metrics = throwingSink(method);
      const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0, metrics, acquireTimeoutMs: 100, leakDetectionMs: 50 });
      const reports: { during: string }[] = [];
      t.pool.addEventListener("error", (event) => reports.push((event as CustomEvent).detail));
      await t.clock.advance(0);
      assert.equal(t.pool.stats().idle, 1, "created although `created` may throw");
      // acquire + hold past leakDetectionMs + a waiter that times out (rejected) + release with an error (errored).
      const h = await t.pool.acquire({ agentId: "a" });
      const late = track(t.pool.acquire({ agentId: "b", timeoutMs: 60 }));
      await t.clock.advance(100);
      assert.equal(late.status, "rejected");
      const next = track(t.pool.acquire({ agentId: "c" }));
      const released = h.release(new Error("query failed"));
      assert.ok(released instanceof Promise);
      await released;
      await flush();
      assert.equal(next.status, "resolved", "the waiter got the connection");
      t.pool.stats(); // summary
      await next.value!.release();
      // A failed create (createFailed) and a close (destroyed).
      t.stub.failNext = 1;
      const extra = await t.pool.acquire({ agentId: "d" });
      await extra.release(Object.assign(new Error("broken"), {}));
      await t.clock.advance(2000);
      assertConsistent(t);
      await t.pool.close();
      assert.ok(metrics.calls > 0 || method === "createFailed", `${method} was called (${metrics.calls})`);
      if (metrics.calls > 0) {
        assert.deepEqual(reports.map((r) => r.during), [`metrics.${method}`], "reported once");
      }
      assert.deepEqual(escaped, []);
    });
  }
});

describe("a throwing event listener", () => {
  test("is reported on `error` and never becomes an uncaught exception", async () => {
    const t = makePool({ minConnections: 1, maxConnections: 1, overflow: 0, leakDetectionMs: 50 });
    const reports: { during: string; error: unknown }[] = [];
    t.pool.addEventListener("error", (event) => reports.push((event as CustomEvent).detail));
    let calls = 0;
    const listener = (): void => {
      calls++;
      throw new Error("listener bug");
    };
    t.pool.addEventListener("leak", listener);
    await t.clock.advance(0);
    const h = await t.pool.acquire({ agentId: "a" });
    await t.clock.advance(2000);
    assert.equal(calls, 1);
    assert.deepEqual(reports.map((r) => r.during), ["listener:leak"]);
    t.pool.removeEventListener("leak", listener);
    await h.release();
    const again = await t.pool.acquire({ agentId: "a" });
    await t.clock.advance(2000);
    assert.equal(calls, 1, "removed: not called again");
    await again.release();
    assertConsistent(t);
    await t.pool.close();
    assert.deepEqual(escaped, []);
  });

  test("handleEvent objects are guarded too", async () => {
    const t = makePool({ minConnections: 0, maxConnections: 1, overflow: 0 });
    const seen: string[] = [];
    t.pool.addEventListener("error", (event) => seen.push((event as CustomEvent).detail.during));
    t.pool.addEventListener("createerror", {
      handleEvent() {
        throw new Error("object listener bug");
      },
    });
    t.stub.failNext = 1;
    const w = track(t.pool.acquire({ agentId: "a" }));
    await t.clock.advance(2000);
    assert.equal(w.status, "resolved", "the retry served the waiter");
    assert.deepEqual(seen, ["listener:createerror"]);
    await w.value!.release();
    await t.pool.close();
    assert.deepEqual(escaped, []);
  });
});
