/**
 * The budget on a real PostgreSQL lease table (one process, several holders, each with its own
 * control connection): the migration creates the table, renewals converge to fair grants whose
 * sum never exceeds the limit, a name of any characters is safe, a crashed holder's share returns
 * after its TTL, and stop() returns an unused share at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import postgres from "postgres";
import { GlobalBudget } from "../src/budget/budget.ts";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import { PostgresBudgetStore } from "../src/postgres/budget_store.ts";
import { CrashableClock } from "./support/budget_clock.ts";
import { QuotaPool } from "./support/budget_memory.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { StubFactory } from "./support/stub_factory.ts";

const TICK = 100;
const TTL = 1200;

describe("GlobalBudget on PostgreSQL", () => {
  const schema = uniqueName("budget");
  let admin: postgres.Sql;
  const budgets: GlobalBudget[] = [];

  before(() => {
    admin = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  });

  after(async () => {
    await Promise.all(budgets.map((b) => b.stop().catch(() => {})));
    await admin.unsafe(`drop schema if exists ${schema} cascade`);
    await admin.end({ timeout: 5 });
  });

  function holder(name: string, budgetName: string, limits: Record<string, number>, clock = new CrashableClock()) {
    const pool = new QuotaPool();
    const budget = new GlobalBudget({
      name: budgetName,
      holder: name,
      limits,
      store: new PostgresBudgetStore(databaseUrl(), { schema, applicationName: `budget-test:${name}` }),
      clock,
      tickMs: TICK,
      ttlMs: TTL,
      safetyMarginMs: 400,
    });
    pool.agentQuotas = budget.agentQuotas;
    budgets.push(budget);
    return { pool, budget, clock };
  }

  async function committed(budgetName: string): Promise<{ holder: string; agent_id: string; granted: number; live: boolean }[]> {
    return await admin.unsafe(
      `select holder, agent_id, granted, renewed_at + ttl_ms * interval '1 ms' >= clock_timestamp() as live
         from ${schema}.budget_leases where budget = $1 order by holder`,
      [budgetName],
    );
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("converges to fair grants within the limit; a name of any characters is a plain value", async () => {
    const name = `prod\\'); drop table ${schema}.budget_leases; --"ü\\`;
    const procs = ["h0", "h1", "h2"].map((h) => holder(h, name, { "hot'agent": 2 }));
    for (const p of procs) p.pool.want("hot'agent", 3);
    await Promise.all(procs.map((p) => p.budget.start(p.pool)));
    let maxGranted = 0;
    const quotaSum = (): number => procs.reduce((sum, p) => sum + (p.pool.quotas.get("hot'agent") ?? 0), 0);
    // At least 20 steps; on a loaded machine renewals take longer, so wait (bounded) for convergence.
    for (let i = 0; i < 200 && (i < 20 || quotaSum() !== 2); i++) {
      await sleep(50);
      const rows = await committed(name);
      maxGranted = Math.max(maxGranted, rows.filter((r) => r.live).reduce((s, r) => s + r.granted, 0));
      for (const p of procs) {
        p.pool.finish("hot'agent", Infinity, true); // each unit of work lasts one step
        p.pool.serve("hot'agent");
      }
    }
    assert.ok(maxGranted <= 2, `Σgranted peaked at ${maxGranted}`);
    const quotas = procs.map((p) => p.pool.quotas.get("hot'agent") ?? 0);
    assert.equal(quotas.reduce((a, b) => a + b, 0), 2, `quotas ${quotas}`);
    const [{ version }] = await admin.unsafe(`select max(version)::int as version from ${schema}.schema_migrations`);
    assert.equal(version, 1);
    const [{ relpersistence }] = await admin.unsafe(`select relpersistence from pg_class where oid = '${schema}.budget_leases'::regclass`);
    assert.equal(relpersistence, "u", "the lease table is UNLOGGED");
    const view = procs[0].budget.snapshot().agents[0];
    assert.deepEqual(view.holders.map((h) => h.holder), ["h0", "h1", "h2"]);
    for (const p of procs) p.pool.finish("hot'agent", Infinity); // the work is done: nothing held
    await Promise.all(procs.map((p) => p.budget.stop()));
    assert.deepEqual([...await committed(name)], [], "stop() returned every unused share at once");
  });

  it("once the budget's lock is held, no statement of a renewal has parameters (no exchange inside a statement while locked)", async () => {
    // postgres.js with prepare: false sends a statement with parameters as Parse/Describe, then
    // Bind/Execute after the answer; a renewer paused between the two would hold the lock with no
    // server timeout running (docs/deployment.md, "The pause window").
    const statements: { text: string; parameters: number }[] = [];
    const name = uniqueName("nolockparams");
    const budget = new GlobalBudget({
      name,
      holder: `h'\\${uniqueName("x")}`,
      limits: { hot: 2, "other'agent": 1 },
      store: new PostgresBudgetStore(databaseUrl(), {
        schema,
        postgres: { debug: (_connection: number, text: string, parameters: unknown[]) => void statements.push({ text, parameters: parameters.length }) },
      }),
      tickMs: TICK,
      ttlMs: TTL,
      safetyMarginMs: 400,
    });
    budgets.push(budget);
    const pool = new QuotaPool();
    pool.agentQuotas = budget.agentQuotas;
    pool.want("hot", 3);
    pool.want("other'agent", 1);
    await budget.start(pool);
    const first = [...statements]; // the first renewal's, before the next tick
    const lock = first.findLastIndex((s) => s.text.includes("pg_advisory_xact_lock"));
    assert.ok(lock >= 0, "the renewal took the lock");
    const afterLock = first.slice(lock + 1);
    assert.ok(afterLock.length >= 2, `the read and the write came after the lock: ${JSON.stringify(afterLock)}`);
    assert.deepEqual(afterLock.filter((s) => s.parameters > 0), [], "every statement after the lock carries its values as literals");
    // And the literals round-trip: the rows read back are the rows the holder wrote.
    const rows = await admin.unsafe(`select holder, agent_id, granted from ${schema}.budget_leases where budget = $1 order by agent_id`, [name]);
    assert.deepEqual(rows.map((r) => [r.holder, r.agent_id, r.granted]), [[budget.options.holder, "hot", 2], [budget.options.holder, "other'agent", 1]]);
    await budget.stop();
  });

  it("a crashed holder's share returns after its TTL; one that stops keeps leases only for what it holds", async () => {
    const name = uniqueName("crash");
    const a = holder("a", name, { hot: 2 });
    const b = holder("b", name, { hot: 2 });
    a.pool.want("hot", 2);
    b.pool.want("hot", 2);
    await a.budget.start(a.pool);
    await b.budget.start(b.pool);
    await sleep(5 * TICK);
    assert.equal(a.pool.quotas.get("hot"), 1);
    assert.equal(b.pool.quotas.get("hot"), 1);
    a.clock.crash();
    const crashedAt = performance.now();
    while (b.pool.quotas.get("hot") !== 2 && performance.now() - crashedAt < 4 * TTL) await sleep(20);
    const after = performance.now() - crashedAt;
    assert.equal(b.pool.quotas.get("hot"), 2, "the crashed holder's share came back");
    assert.ok(after >= TTL - 2 * TICK, `not before its TTL: ${after.toFixed(0)} ms`);
    b.pool.serve("hot");
    await b.budget.stop();
    const rows = await committed(name);
    assert.deepEqual(rows.filter((r) => r.holder === "b").map((r) => r.granted), [2], "b's held connections stay leased");
    await a.budget.stop(); // closes its control connection
  });

  it("on the real pool: the grant is the agent's quota, and an acquire beyond it times out naming the budget and its holders", async () => {
    const name = uniqueName("real");
    const budget = new GlobalBudget({
      name,
      holder: "host-a:1",
      limits: { hot: 1 },
      store: new PostgresBudgetStore(databaseUrl(), { schema, applicationName: "budget-test:real" }),
      tickMs: TICK,
      ttlMs: TTL,
      safetyMarginMs: 400,
    });
    budgets.push(budget);
    const pool = new AsyncConnectionPool({ factory: new StubFactory().factory, minConnections: 0, maxConnections: 4, agentQuotas: budget.agentQuotas });
    try {
      await budget.start(pool);
      const first = await pool.acquire({ agentId: "hot", timeoutMs: 5_000 }); // waits for the first grant
      assert.equal(pool.agents().find((a) => a.agentId === "hot")?.quota, 1);
      const second = pool.acquire({ agentId: "hot", timeoutMs: 300 });
      await assert.rejects(second, (error: Error & { code?: string }) => {
        assert.equal(error.code, "AGENT_QUOTA_TIMEOUT");
        assert.match(error.message, new RegExp(`global budget '${name}' allows hot 1 across processes; granted here 1; holders: host-a:1 \\(1, this process\\)`));
        return true;
      });
      await first.release();
    } finally {
      await budget.stop();
      await pool.close();
    }
  });
});
