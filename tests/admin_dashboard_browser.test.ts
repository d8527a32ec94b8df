/**
 * The dashboard in headless Chromium (npm `@sparticuz/chromium` + playwright-core, see
 * support/chromium.ts) while stub agents work:
 * the token prompt, agent rows appearing and changing, connection rows, both charts drawn, no
 * script errors; saves a screenshot to .test-output/dashboard.png.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { AsyncConnectionPool, createMetrics } from "../mod.ts";
import { adminRouter } from "../src/admin/mod.ts";
import { launchChromium } from "./support/chromium.ts";
import { requireTool } from "./support/tools.ts";

const TOKEN = "browser-test-token";
const chromiumTool = requireTool("chromium");
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` from the test side until it holds. (page.waitForFunction would evaluate code in the
 * page, which the dashboard's Content-Security-Policy rightly forbids.)
 */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(50);
}

chromiumTool.test("browser: the dashboard shows live agent and connection tables and charts", { timeout: 120_000 }, async () => {
  let next = 0;
  const pool = new AsyncConnectionPool({
    factory: { create: async () => (await sleep(3), { id: next++ }), destroy: () => {} },
    minConnections: 2,
    maxConnections: 4,
    overflow: 2,
    acquireTimeoutMs: 2000,
    metrics: createMetrics(),
    name: "orchestrator-main",
  });
  const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN, refreshMs: 250 }));
  const server = await new Promise<{ port: number; close(): Promise<void> }>((resolve) => {
    // overrideGlobalObjects: false keeps node-server from swapping the global Response, which would
    // break Bun.serve in the other test files Bun runs in this same process.
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, (info) =>
      resolve({ port: info.port, close: () => new Promise((done) => s.close(() => done())) }));
  });

  // Stub agents: each loops acquire → hold a while → release until stopped.
  let stopped = false;
  const workers: Promise<void>[] = [];
  const work = (agentId: string, holdMs: number, parallel = 1): void => {
    for (let i = 0; i < parallel; i++) {
      workers.push((async () => {
        while (!stopped) {
          await pool.use(() => sleep(holdMs * (0.5 + Math.random())), { agentId }).catch(() => {});
          await sleep(20 + Math.random() * 60);
        }
      })());
    }
  };
  for (const [agentId, holdMs, parallel] of [["planner-1", 40, 2], ["researcher-2", 120, 1], ["coder-3", 250, 2], ["critic-4", 60, 1]] as const) {
    work(agentId, holdMs, parallel);
  }

  const browser = await launchChromium(chromiumTool);
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    // The first, token-less poll is expected to get a 401; anything else logged as an error is a bug.
    page.on("console", (message) => {
      if (message.type() === "error" && !/status of 401/.test(message.text())) errors.push(message.text());
    });
    await page.goto(`http://127.0.0.1:${server.port}/pool`);

    // Reads need the token: the page asks for it, then shows the pool.
    await page.waitForSelector("#auth:not([hidden])");
    await page.fill("#auth-token", TOKEN);
    await page.click("#auth button[type=submit]");
    await page.waitForSelector('#agents tbody tr[data-key="planner-1"]');
    assert.equal(await page.textContent("#pool-name"), "orchestrator-main");
    assert.equal(await page.textContent("#health"), "healthy");

    // The planner's "acquired" cell changes by itself as the page polls.
    const acquiredCell = '#agents tbody tr[data-key="planner-1"] td:nth-child(5)';
    const first = await page.textContent(acquiredCell);
    await eventually(async () => (await page.textContent(acquiredCell)) !== first);

    // A new agent appears as a new row.
    work("late-joiner-5", 80);
    await page.waitForSelector('#agents tbody tr[data-key="late-joiner-5"]');

    // Connections table and map, and both charts drawn.
    await page.waitForSelector("#connections tbody tr");
    assert.ok((await page.locator("#conn-map .cell").count()) >= 6, "one cell per slot up to the cap");
    await page.waitForSelector("#chart-connections path.area-used");
    await page.waitForSelector("#chart-wait rect.bar");

    // Let ~10 s of history accumulate (a sample per 250 ms poll), so the screenshot shows a real chart.
    await eventually(async () => ((await page.getAttribute("#chart-connections path.area-used", "d")) ?? "").split("L").length > 80);
    mkdirSync(".test-output", { recursive: true });
    await page.screenshot({ path: ".test-output/dashboard.png", fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    stopped = true;
    await Promise.all(workers);
    await server.close();
    await pool.close();
  }
});
