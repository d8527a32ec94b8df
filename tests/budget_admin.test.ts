/**
 * The budget in the admin router and `agentpool monitor`: `GET /snapshot` carries the global
 * budget's view (limit, grants per process, this process's quota and use) when the router was
 * given the budget, null otherwise, and the monitor shows it; an invalid `budget` option is named.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adminRouter } from "../src/admin/router.ts";
import type { PoolSnapshot } from "../src/admin/snapshot.ts";
import { GlobalBudget } from "../src/budget/budget.ts";
import { renderMonitor } from "../src/cli/monitor_view.ts";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import { MemoryLeaseTable } from "./support/budget_memory.ts";
import { StubFactory } from "./support/stub_factory.ts";

describe("budget in the admin router", () => {
  it("GET /snapshot shows each budgeted agent's limit, the grants per process and this process's use", async () => {
    const table = new MemoryLeaseTable(() => performance.now(), () => 2);
    const budget = new GlobalBudget({ name: "prod", holder: "host-a:1", limits: { researcher: 2 }, store: table.store(), tickMs: 50, ttlMs: 1000, safetyMarginMs: 300 });
    const pool = new AsyncConnectionPool({ factory: new StubFactory().factory, minConnections: 0, maxConnections: 4, agentQuotas: budget.agentQuotas });
    try {
      await budget.start(pool);
      const lease = await pool.acquire({ agentId: "researcher", timeoutMs: 2_000 }); // waits for the first grant
      await new Promise((resolve) => setTimeout(resolve, 150)); // a renewal that sees it held
      const withBudget = adminRouter(pool, { publicReads: true, budget });
      const snap = await (await withBudget.request("/snapshot")).json() as PoolSnapshot;
      assert.ok(snap.budget !== null);
      assert.equal(snap.budget.name, "prod");
      assert.equal(snap.budget.holder, "host-a:1");
      const researcher = snap.budget.agents.find((a) => a.agentId === "researcher");
      assert.ok(researcher !== undefined, JSON.stringify(snap.budget));
      assert.equal(researcher.limit, 2);
      assert.equal(researcher.held, 1);
      assert.deepEqual(researcher.holders.map((h) => [h.holder, h.held]), [["host-a:1", 1]]);
      const screen = renderMonitor(snap, { url: "http://x/pool", color: false, width: 400, rows: Infinity });
      assert.match(screen, /^budget "prod" as host-a:1: lease granted \(\d\.\d s left\) {3}renewals \d+ {3}failed 0 {3}expiries 0$/m);
      assert.match(screen, /^ {2}researcher {15}limit 2 {2}granted \d {2}here quota \d held 1 {3}granted\/held by process: host-a:1\* \d\/1$/m);
      const without = await (await adminRouter(pool, { publicReads: true }).request("/snapshot")).json() as PoolSnapshot;
      assert.equal(without.budget, null);
      await lease.release();
    } finally {
      await budget.stop();
      await pool.close();
    }
  });

  it("an invalid budget option is named", async () => {
    const pool = new AsyncConnectionPool({ factory: new StubFactory().factory, minConnections: 0 });
    assert.throws(() => adminRouter(pool, { publicReads: true, budget: {} as never }), {
      name: "TypeError",
      message: "Cannot create admin router as 'budget' must be a GlobalBudget (an object with snapshot()): current value is [object Object]",
    });
    await pool.close();
  });
});
