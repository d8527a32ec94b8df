/**
 * Random schedules (fast-check) of several simulated processes sharing one budget: demand comes
 * and goes, pools serve up to their quota, processes pause (SIGSTOP), crash and lose the database.
 * After every step: the connections actually held across processes never exceed the limit, and
 * Σgranted ≤ limit after every commit of the lease table.
 *
 * Modelled like the real deployment: work that was running when a process lost its lease ends
 * within the safety margin (the server's statement / idle-in-transaction timeouts), and a paused
 * or crashed process's transactions end on the server.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import fc from "fast-check";
import { GlobalBudget } from "../src/budget/budget.ts";
import { SharedTime } from "./support/budget_clock.ts";
import { MemoryLeaseTable, QuotaPool } from "./support/budget_memory.ts";

const LIMIT = 3;
const AGENTS = ["hot", "cold"];

type Action =
  | { kind: "advance"; ms: number }
  | { kind: "want"; p: number; agent: number; n: number }
  | { kind: "serve"; p: number }
  | { kind: "finish"; p: number; agent: number; n: number; requeue: boolean }
  | { kind: "pause"; p: number }
  | { kind: "resume"; p: number }
  | { kind: "crash"; p: number }
  | { kind: "outage"; on: boolean };

const proc = fc.integer({ min: 0, max: 3 });
const agent = fc.integer({ min: 0, max: AGENTS.length - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 700 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("want" as const), p: proc, agent, n: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("serve" as const), p: proc }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("finish" as const), p: proc, agent, n: fc.integer({ min: 1, max: 3 }), requeue: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("pause" as const), p: proc }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("resume" as const), p: proc }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("crash" as const), p: proc }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("outage" as const), on: fc.boolean() }) },
);

async function run(actions: Action[]): Promise<void> {
  const time = new SharedTime();
  const table = new MemoryLeaseTable(() => time.now, () => LIMIT);
  // Acquires keep being served while a renewal transaction is open (between its read and write).
  const serveEveryone = async (): Promise<void> => {
    for (const p of procs) if (!p.crashed && !p.clock.paused) for (const a of AGENTS) p.pool.serve(a);
    await null;
  };
  const procs = await Promise.all([0, 1, 2, 3].map(async (i) => {
    const clock = time.process();
    const pool = new QuotaPool();
    const budget = new GlobalBudget({
      name: "sim",
      holder: `p${i}`,
      defaultLimit: LIMIT,
      store: table.store({ beforeWrite: serveEveryone }),
      clock,
      tickMs: 100,
      ttlMs: 1000,
      safetyMarginMs: 300,
    });
    const dropAll = (): void => {
      for (const a of AGENTS) pool.finish(a, Infinity, true);
    };
    pool.agentQuotas = budget.agentQuotas;
    budget.addEventListener("expired", dropAll);
    await budget.start(pool);
    return { clock, pool, budget, dropAll, crashed: false };
  }));
  const check = (step: string): void => {
    for (const a of AGENTS) {
      const held = procs.reduce((sum, p) => sum + (p.pool.held.get(a) ?? 0), 0);
      assert.ok(held <= LIMIT, `${step}: ${a} held ${held} across processes > ${LIMIT}`);
    }
    assert.deepEqual(table.violations, [], step);
  };
  for (const [i, act] of actions.entries()) {
    const step = `step ${i} ${JSON.stringify(act)}`;
    const p = "p" in act ? procs[act.p] : undefined;
    const live = p !== undefined && !p.crashed && !p.clock.paused;
    switch (act.kind) {
      case "advance":
        await time.advance(act.ms);
        break;
      case "want":
        if (live) p.pool.want(AGENTS[act.agent], act.n);
        break;
      case "serve":
        if (live) for (const a of AGENTS) p.pool.serve(a);
        break;
      case "finish":
        if (live) p.pool.finish(AGENTS[act.agent], act.n, act.requeue);
        break;
      case "pause":
        if (live) {
          p.clock.paused = true;
          p.dropAll();
        }
        break;
      case "resume":
        if (p !== undefined && !p.crashed && p.clock.paused) {
          p.clock.paused = false;
          await p.clock.fireDue();
        }
        break;
      case "crash":
        if (p !== undefined && !p.crashed) {
          p.crashed = true;
          p.clock.paused = true;
          p.dropAll();
        }
        break;
      case "outage":
        table.failWith = act.on ? new Error("database unreachable") : undefined;
        break;
    }
    check(step);
  }
  table.failWith = undefined;
  for (const p of procs) {
    if (p.crashed) continue;
    p.clock.paused = false;
    await p.budget.stop();
  }
}

it("budget simulation: across random schedules, held connections never exceed the limit across processes", async () => {
  await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 60 }), run), { numRuns: 150 });
});

it("budget simulation: steady demand converges to the limit and every holder gets a share over time", async () => {
  const time = new SharedTime();
  const table = new MemoryLeaseTable(() => time.now, () => LIMIT);
  const procs = await Promise.all([0, 1, 2, 3].map(async (i) => {
    const pool = new QuotaPool();
    const budget = new GlobalBudget({
      name: "steady",
      holder: `p${i}`,
      limits: { hot: LIMIT },
      store: table.store(),
      clock: time.process(),
      tickMs: 100,
      ttlMs: 1000,
      safetyMarginMs: 300,
      rotateMs: 1000,
    });
    pool.agentQuotas = budget.agentQuotas;
    pool.want("hot", 4);
    await budget.start(pool);
    return { pool, budget, servedTicks: 0 };
  }));
  let used = 0;
  let samples = 0;
  for (let t = 0; t < 100; t++) {
    for (const p of procs) {
      p.pool.finish("hot", Infinity, true); // each unit of work lasts one step
      p.pool.serve("hot");
    }
    await time.advance(50);
    const held = procs.map((p) => p.pool.held.get("hot") ?? 0);
    held.forEach((h, i) => (procs[i].servedTicks += h > 0 ? 1 : 0));
    const total = held.reduce((a, b) => a + b, 0);
    assert.ok(total <= LIMIT, `held ${held}`);
    if (t >= 20) {
      used += total;
      samples++;
    }
  }
  assert.ok(used / samples >= LIMIT * 0.7, `the budget was used: ${used / samples} of ${LIMIT} on average`);
  for (const p of procs) assert.ok(p.servedTicks > 10, `every process got a share over time: ${procs.map((q) => q.servedTicks)}`);
  for (const p of procs) await p.budget.stop();
});
