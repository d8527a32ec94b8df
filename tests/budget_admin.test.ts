/**
 * The budget in the admin router and `agentpool monitor`: `GET /snapshot` carries the global
 * budget's view (limit, grants per process, this process's quota and use) when the router was
 * given the budget, null otherwise, and the monitor and the browser dashboard show it; an invalid
 * `budget` option is named.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { adminRouter } from "../src/admin/router.ts";
import type { PoolSnapshot } from "../src/admin/snapshot.ts";
import { GlobalBudget } from "../src/budget/budget.ts";
import { renderMonitor } from "../src/cli/monitor_view.ts";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import { MemoryLeaseTable } from "./support/budget_memory.ts";
import { launchChromium } from "./support/chromium.ts";
import { requireTool } from "./support/tools.ts";
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

const chromium = requireTool("chromium");

/** Serves `app` on a free port of 127.0.0.1 (node-server keeps the global Response: Bun runs other files in this process). */
function listen(app: Hono): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, (info) =>
      resolve({ port: info.port, close: () => new Promise((done) => s.close(() => done())) }));
  });
}

chromium.test("browser: the dashboard's budget table shows each agent's limit, grants per process and use", { timeout: 60_000 }, async () => {
  // Two holders of one lease table: this process (host-a:1) and another (host-b:2).
  const table = new MemoryLeaseTable(() => performance.now(), () => 2);
  const options = { name: "prod", limits: { researcher: 3 }, store: table.store(), tickMs: 50, ttlMs: 1000, safetyMarginMs: 300 };
  const budget = new GlobalBudget({ ...options, holder: "host-a:1" });
  const other = new GlobalBudget({ ...options, holder: "host-b:2" });
  const pool = new AsyncConnectionPool({ factory: new StubFactory().factory, minConnections: 0, maxConnections: 4, agentQuotas: budget.agentQuotas });
  const otherPool = new AsyncConnectionPool({ factory: new StubFactory().factory, minConnections: 0, maxConnections: 4, agentQuotas: other.agentQuotas });
  const app = new Hono().route("/pool", adminRouter(pool, { publicReads: true, budget, refreshMs: 200 }));
  const server = await listen(app);
  const browser = await launchChromium(chromium);
  try {
    await budget.start(pool);
    await other.start(otherPool);
    const mine = await pool.acquire({ agentId: "researcher", timeoutMs: 5_000 });
    const theirs = await otherPool.acquire({ agentId: "researcher", timeoutMs: 5_000 });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${server.port}/pool`);
    const row = '#budget tbody tr[data-key="researcher"]';
    await page.waitForSelector(`#budget-panel:not([hidden]) ${row}`);
    const cells = async (): Promise<string[]> => await page.locator(`${row} td`).allTextContents();
    // Both processes renewed with their connection held: limit 3, one held here, one there.
    const settled = (c: string[]): boolean => /host-a:1\* \d\/1/.test(c[6]) && /host-b:2 \d\/1/.test(c[6]) && c[4] === "1";
    let seen = await cells();
    for (let i = 0; i < 100 && !settled(seen); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = await cells();
    }
    assert.ok(settled(seen), `budget row: ${JSON.stringify(seen)}`);
    assert.equal(seen[0], "researcher");
    assert.equal(seen[1], "3", "the limit across processes");
    assert.ok(Number(seen[2]) >= 2 && Number(seen[2]) <= 3, `Σgranted ${seen[2]}`);
    assert.match(seen[6], /^host-a:1\* \d\/1 · host-b:2 \d\/1$/, "grants and holdings of both processes, this one starred");
    assert.match(await page.textContent("#budget-note") ?? "", /^"prod" as host-a:1 · lease granted \(.+ left\) · \d+ renewals · 0 failed · 0 expiries$/);
    assert.deepEqual(errors, []);
    await mine.release();
    await theirs.release();
  } finally {
    await browser.close();
    await server.close();
    await budget.stop();
    await other.stop();
    await pool.close();
    await otherPool.close();
  }
});

chromium.test("browser: without a budget the dashboard's budget panel stays hidden", { timeout: 60_000 }, async () => {
  const pool = new AsyncConnectionPool({ factory: new StubFactory().factory, minConnections: 1, maxConnections: 2 });
  const app = new Hono().route("/pool", adminRouter(pool, { publicReads: true, refreshMs: 200 }));
  const server = await listen(app);
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/pool`);
    await page.waitForSelector("#connections tbody tr");
    assert.equal(await page.locator("#budget-panel").isHidden(), true);
    assert.equal(await page.locator("#budget tbody tr").count(), 0);
  } finally {
    await browser.close();
    await server.close();
    await pool.close();
  }
});
