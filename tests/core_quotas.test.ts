/**
 * Per-agent quotas: `maxPerAgent` as the default, `agentQuotas` (by id or a function), and
 * `setAgentQuota()` at run time (why-text in the timeout error, raising serves waiters at once);
 * revoked agents are never forgotten, however many agents come and go.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ConnectionPoolExhaustedError } from "../src/core/mod.ts";
import { flush } from "./support/manual_clock.ts";
import { assertConsistent, makePool, type TestPool, track } from "./support/stub_factory.ts";

async function fullPool(size: number, extra: Parameters<typeof makePool>[0] = {}): Promise<TestPool> {
  const t = makePool({ minConnections: size, maxConnections: size, overflow: 0, ...extra });
  await t.clock.advance(0);
  assert.equal(t.pool.stats().idle, size);
  return t;
}

const quotaOf = (t: TestPool, agentId: string): number | undefined => t.pool.agents().find((a) => a.agentId === agentId)?.quota;

describe("agent quotas", () => {
  test("agentQuotas by id overrides maxPerAgent: the planner fans out 3 ways next to workers at 1", async () => {
    const t = await fullPool(5, { maxPerAgent: 1, agentQuotas: { planner: 3 } });
    const planner = await Promise.all([1, 2, 3].map(() => t.pool.acquire({ agentId: "planner" })));
    const fourth = track(t.pool.acquire({ agentId: "planner" }));
    const worker = await t.pool.acquire({ agentId: "worker" });
    const second = track(t.pool.acquire({ agentId: "worker" }));
    await flush();
    assert.equal(fourth.status, "pending", "planner at its quota of 3");
    assert.equal(second.status, "pending", "worker at the default quota of 1");
    assert.equal(t.pool.stats().idle, 1, "one connection idle: the quotas, not the cap, hold them");
    assert.deepEqual([quotaOf(t, "planner"), quotaOf(t, "worker")], [3, 1]);
    await planner[0].release();
    await flush();
    assert.equal(fourth.status, "resolved");
    assertConsistent(t);
    await Promise.all([...planner.slice(1), fourth.value!, worker].map((h) => h.release()));
    await flush();
    await second.value!.release();
    await t.pool.close();
  });

  test("agentQuotas as a function of the id; undefined falls back to maxPerAgent; a bad value rejects the acquire", async () => {
    const t = await fullPool(2, {
      maxPerAgent: 2,
      agentQuotas: (id) => (id.startsWith("worker") ? 1 : id === "broken" ? -1 : undefined),
    });
    const w = await t.pool.acquire({ agentId: "worker-7" });
    assert.deepEqual([quotaOf(t, "worker-7")], [1]);
    await w.release();
    const p = await t.pool.acquire({ agentId: "planner" });
    assert.equal(quotaOf(t, "planner"), 2);
    await p.release();
    await assert.rejects(t.pool.acquire({ agentId: "broken" }), (e: unknown) => e instanceof RangeError && /agentQuotas\('broken'\)/.test(e.message));
    assertConsistent(t);
    await t.pool.close();
  });

  test("agentQuotas values are checked at construction", () => {
    assert.throws(
      () => makePool({ agentQuotas: { a: 1.5 } }),
      (e: unknown) => e instanceof RangeError && /'agentQuotas\.a'/.test(e.message) && /1\.5/.test(e.message),
    );
    assert.throws(() => makePool({ agentQuotas: 7 as unknown as Record<string, number> }), TypeError);
  });

  test("setAgentQuota: lowering revokes nothing; the quota timeout names the why; raising serves waiters from idle at once", async () => {
    const t = await fullPool(4, { acquireTimeoutMs: 1000 });
    const held = await Promise.all([1, 2].map(() => t.pool.acquire({ agentId: "researcher" })));
    t.pool.setAgentQuota("researcher", 1, () => "global budget 'prod' allows researcher 1 across processes");
    assert.equal(quotaOf(t, "researcher"), 1);
    assert.equal(t.pool.stats().used, 2, "nothing revoked");
    const timesOut = track(t.pool.acquire({ agentId: "researcher" }));
    await t.clock.advance(1000);
    assert.equal(timesOut.status, "rejected");
    const error = timesOut.error as ConnectionPoolExhaustedError;
    assert.equal(error.code, "AGENT_QUOTA_TIMEOUT");
    assert.match(error.message, /quota of 1 \(set by setAgentQuota\): global budget 'prod' allows researcher 1/);
    const waits = [track(t.pool.acquire({ agentId: "researcher" })), track(t.pool.acquire({ agentId: "researcher" }))];
    await flush();
    assert.deepEqual(waits.map((w) => w.status), ["pending", "pending"]);
    t.pool.setAgentQuota("researcher", 4);
    assert.equal(t.pool.stats().pending, 0, "both handed a connection within setAgentQuota()");
    await flush();
    assert.deepEqual(waits.map((w) => w.status), ["resolved", "resolved"], "raised: served from the idle connections");
    t.pool.setAgentQuota("researcher", undefined);
    assert.equal(quotaOf(t, "researcher"), Infinity, "cleared: back to maxPerAgent");
    assertConsistent(t);
    await Promise.all([...held, ...waits.map((w) => w.value!)].map((h) => h.release()));
    await t.pool.close();
  });

  test("setAgentQuota checks its arguments", async () => {
    const t = await fullPool(1);
    assert.throws(() => t.pool.setAgentQuota("", 1), TypeError);
    assert.throws(() => t.pool.setAgentQuota("a", -1), (e: unknown) => e instanceof RangeError && /'quota'/.test(e.message));
    assert.throws(() => t.pool.setAgentQuota("a", 1, "why" as unknown as () => string), TypeError);
    await t.pool.close();
  });

  test("a revoked agent stays revoked past 10,001 other agents (never pruned)", async () => {
    const t = await fullPool(2, { acquireTimeoutMs: 1000 });
    await t.pool.revoke("runaway");
    for (let i = 0; i < 10_001; i++) {
      const h = await t.pool.acquire({ agentId: `agent-${i}` });
      await h.release();
    }
    await t.clock.advance(2000); // housekeeping passes: pruning runs
    assert.ok(t.pool.agents().length <= 10_002, "idle agents were pruned");
    assert.equal(t.pool.agents().find((a) => a.agentId === "runaway")?.revoked, true);
    await assert.rejects(t.pool.acquire({ agentId: "runaway" }), (e: unknown) => (e as { code?: string }).code === "AGENT_REVOKED");
    assertConsistent(t);
    await t.pool.close();
  });
});
