/**
 * Fair hand-off across agents (round-robin over agents with waiters, FIFO within an agent) and the
 * per-agent quota (`maxPerAgent`).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionPoolExhaustedError, type PooledConnection } from "../src/core/mod.ts";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, type StubConnection, type TestPool, track, type Tracked } from "./support/stub_factory.ts";

type Handle = PooledConnection<StubConnection>;

/** A pool of `size` connections, all created and idle. */
async function fullPool(size: number, extra: Parameters<typeof makePool>[0] = {}): Promise<TestPool> {
  const t = makePool({ minConnections: size, maxConnections: size, overflow: 0, ...extra });
  await t.clock.advance(0);
  assert.equal(t.pool.stats().idle, size);
  return t;
}

interface Labelled {
  readonly label: string;
  readonly tracked: Tracked<Handle>;
}

function queue(t: TestPool, agentId: string, count: number, labels: Labelled[]): void {
  for (let i = 1; i <= count; i++) labels.push({ label: `${agentId}${i}`, tracked: track(t.pool.acquire({ agentId })) });
}

/**
 * Passes the one connection `first` along: release, see who got it, release again... Returns the
 * order in which the waiters were served.
 */
async function passAlong(t: TestPool, first: Handle, waiters: Labelled[]): Promise<string[]> {
  const order: string[] = [];
  const served = new Set<Labelled>();
  let current = first;
  for (;;) {
    await current.release();
    await flush();
    const next = waiters.filter((w) => w.tracked.status === "resolved" && !served.has(w));
    assert.ok(next.length <= 1, `one release served ${next.length} waiters`);
    if (next.length === 0) break;
    served.add(next[0]);
    order.push(next[0].label);
    current = next[0].tracked.value!;
    assertConsistent(t);
  }
  return order;
}

describe("fairness", () => {
  test("agent A queues 40, agent B queues 1 afterwards: B is served within 2 hand-offs", async () => {
    const t = await fullPool(1);
    const holder = await t.pool.acquire({ agentId: "holder" });
    const waiters: Labelled[] = [];
    queue(t, "A", 40, waiters);
    queue(t, "B", 1, waiters);
    await flush();
    assert.equal(t.pool.stats().pending, 41);
    const order = await passAlong(t, holder, waiters);
    assert.equal(order.length, 41);
    assert.ok(order.indexOf("B1") < 2, `B1 served at hand-off ${order.indexOf("B1") + 1}: ${order.slice(0, 4)}`);
    assert.deepEqual(order.slice(0, 2), ["A1", "B1"]);
    await t.pool.close();
  });

  test("round-robin across agents with waiters, FIFO within each agent", async () => {
    const t = await fullPool(1);
    const holder = await t.pool.acquire({ agentId: "holder" });
    const waiters: Labelled[] = [];
    queue(t, "A", 3, waiters);
    queue(t, "B", 3, waiters);
    queue(t, "C", 2, waiters);
    const order = await passAlong(t, holder, waiters);
    assert.deepEqual(order, ["A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3"]);
    await t.pool.close();
  });

  test("an agent that starts waiting late joins the rotation at the back, not behind the whole backlog", async () => {
    const t = await fullPool(1);
    let current = await t.pool.acquire({ agentId: "holder" });
    const waiters: Labelled[] = [];
    queue(t, "A", 10, waiters);
    queue(t, "B", 10, waiters);
    // Serve four (A1 B1 A2 B2), then C arrives.
    const early: string[] = [];
    for (let i = 0; i < 4; i++) {
      await current.release();
      await flush();
      const next = waiters.find((w) => w.tracked.status === "resolved" && !early.includes(w.label))!;
      early.push(next.label);
      current = next.tracked.value!;
    }
    assert.deepEqual(early, ["A1", "B1", "A2", "B2"]);
    queue(t, "C", 1, waiters);
    const order = await passAlong(t, current, waiters.filter((w) => !early.includes(w.label)));
    assert.deepEqual(order.slice(0, 3), ["A3", "B3", "C1"]);
    assert.deepEqual(order.filter((l) => l.startsWith("A")), ["A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10"]);
    await t.pool.close();
  });

  test("several connections freed at once are spread across agents", async () => {
    const t = await fullPool(3);
    const held = await Promise.all(["h1", "h2", "h3"].map((agentId) => t.pool.acquire({ agentId })));
    const waiters: Labelled[] = [];
    queue(t, "A", 5, waiters);
    queue(t, "B", 1, waiters);
    queue(t, "C", 1, waiters);
    for (const h of held) await h.release();
    await flush();
    const served = waiters.filter((w) => w.tracked.status === "resolved").map((w) => w.label);
    assert.deepEqual(served, ["A1", "B1", "C1"]);
    assertConsistent(t);
    await t.pool.close();
    await flush();
    for (const w of waiters) {
      if (w.tracked.status === "resolved") await w.tracked.value!.release();
      else assert.equal(w.tracked.status, "rejected", "close() rejected the rest");
    }
    assert.equal(t.pool.stats().total, 0);
  });
});

describe("maxPerAgent", () => {
  test("an agent never holds more than its quota; its extra acquires wait while others are served", async () => {
    const t = await fullPool(5, { maxPerAgent: 2 });
    const a = [1, 2, 3, 4].map(() => track(t.pool.acquire({ agentId: "A" })));
    await flush();
    assert.deepEqual(a.map((x) => x.status), ["resolved", "resolved", "pending", "pending"]);
    const info = t.pool.agents().find((x) => x.agentId === "A")!;
    assert.deepEqual([info.held, info.pending], [2, 2]);
    assert.equal(t.pool.stats().idle, 3, "connections stay idle rather than exceed A's quota");
    assert.equal(t.stub.createCalls, 5, "no connection is created for a quota-blocked waiter");
    // B is not blocked by A's waiters.
    const b = await t.pool.acquire({ agentId: "B" });
    assert.equal(b.agentId, "B");
    // A's release goes to A's own next waiter; A still holds 2.
    await a[0].value!.release();
    await flush();
    assert.deepEqual(a.map((x) => x.status), ["resolved", "resolved", "resolved", "pending"]);
    assert.equal(t.pool.agents().find((x) => x.agentId === "A")!.held, 2);
    assertConsistent(t);
    await b.release();
    await a[1].value!.release();
    await a[2].value!.release();
    await flush();
    await a[3].value!.release();
    await t.pool.close();
  });

  test("at the cap, a quota-blocked agent's waiters do not block other agents", async () => {
    const t = await fullPool(3, { maxPerAgent: 1 });
    const a1 = await t.pool.acquire({ agentId: "A" });
    // Below the cap, A's second acquire waits (at the cap it would be refused as nested).
    const a2 = track(t.pool.acquire({ agentId: "A" }));
    const c1 = await t.pool.acquire({ agentId: "C" });
    const d1 = await t.pool.acquire({ agentId: "D" });
    const b1 = track(t.pool.acquire({ agentId: "B" }));
    await flush();
    assert.deepEqual([a2.status, b1.status, t.pool.stats().pending], ["pending", "pending", 2]);
    await c1.release();
    await flush();
    assert.equal(b1.status, "resolved", "C's release went to B, not to A (at its quota)");
    assert.equal(a2.status, "pending");
    await a1.release();
    await flush();
    assert.equal(a2.status, "resolved", "A's own release serves A's waiter");
    assertConsistent(t);
    await a2.value!.release();
    await b1.value!.release();
    await d1.release();
    await t.pool.close();
  });

  test("a waiter that times out while its agent holds its quota fails with reason agent_quota", async () => {
    const t = await fullPool(3, { maxPerAgent: 1, acquireTimeoutMs: 1000 });
    const a1 = await t.pool.acquire({ agentId: "A" });
    const a2 = track(t.pool.acquire({ agentId: "A" }));
    await t.clock.advance(999);
    assert.equal(a2.status, "pending");
    await t.clock.advance(1);
    assert.equal(a2.status, "rejected");
    const error = a2.error as ConnectionPoolExhaustedError;
    assert.ok(error instanceof ConnectionPoolExhaustedError);
    assert.equal(error.reason, "agent_quota");
    assert.equal(error.code, "AGENT_QUOTA_TIMEOUT");
    assert.equal(error.agentId, "A");
    assert.match(error.message, /quota of 1 \(maxPerAgent/);
    assert.equal(t.pool.agents().find((x) => x.agentId === "A")!.timeouts, 1);
    assertConsistent(t);
    await a1.release();
    await t.pool.close();
  });
});

// Nested acquires (hold-and-wait detection) have their own file: core_nesting.test.ts.
