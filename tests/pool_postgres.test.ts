/**
 * The pool core with the real postgres.js driver against a real PostgreSQL: distinct backends,
 * the hard cap as the server sees it, overflow connections really closed, agent tracking.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { AsyncConnectionPool, ConnectionPoolExhaustedError, type PooledConnection } from "../mod.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

type Sql = ReturnType<typeof postgres>;

/** Server sessions carrying `applicationName`, counted from a separate connection. */
async function serverSessions(observer: Sql, applicationName: string): Promise<number> {
  const [row] = await observer`select count(*)::int as n from pg_stat_activity where application_name = ${applicationName}`;
  return row.n as number;
}

async function eventually(check: () => Promise<boolean>, what: string, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`never happened: ${what}`);
}

test("30 concurrent holders reach 30 distinct backends, never above the cap, overflow closed on the server after", async () => {
  const applicationName = uniqueName("cap");
  const observer = postgres(databaseUrl(), { max: 1 });
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(databaseUrl(), { applicationName }),
    minConnections: 2,
    maxConnections: 20,
    overflow: 10,
    acquireTimeoutMs: 10_000,
    overflowIdleMs: 200, // the housekeeper then runs every 50 ms (a quarter of the shortest threshold)
  });
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await serverSessions(observer, applicationName));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  try {
    const handles: PooledConnection<Sql>[] = await Promise.all(
      Array.from({ length: 30 }, (_, i) => pool.acquire({ agentId: `agent-${i % 10}` })),
    );
    const pids = await Promise.all(handles.map(async (h) => (await h.connection`select pg_backend_pid() as pid`)[0].pid));
    assert.equal(new Set(pids).size, 30, "every holder has its own backend");
    assert.equal(await serverSessions(observer, applicationName), 30);

    const stats = pool.stats();
    assert.equal(stats.used, 30);
    assert.equal(stats.total, 30);
    assert.equal(stats.overflow, 10);
    // Agent tracking matches what was handed out.
    for (const agent of pool.agents()) assert.equal(agent.held, 3, `${agent.agentId} holds 3`);
    const byConnection = new Map(pool.connections().map((c) => [c.id, c.agentId]));
    for (const h of handles) assert.equal(byConnection.get(h.id), h.agentId);

    // At the cap, a 31st acquire waits and times out; the server still sees 30.
    const refused = await pool.acquire({ agentId: "late", timeoutMs: 150 }).catch((e) => e);
    assert.ok(refused instanceof ConnectionPoolExhaustedError);
    assert.equal(refused.reason, "timeout");
    assert.match(refused.message, /total 30\/30/);

    await Promise.all(handles.map((h) => h.release()));
    assert.equal(pool.stats().used, 0);
    // Nobody waits: the 10 overflow connections are closed once idle for overflowIdleMs.
    await eventually(() => Promise.resolve(pool.stats().total === 20), "pool shrinks back to maxConnections");
    assert.equal(pool.stats().overflow, 0);
    await eventually(async () => (await serverSessions(observer, applicationName)) === 20, "server shows 20 sessions");
  } finally {
    sampling = false;
    await sampler;
    await pool.close();
    await eventually(async () => (await serverSessions(observer, applicationName)) === 0, "all sessions closed");
    await observer.end();
  }
  assert.ok(peak <= 30, `peak server sessions ${peak} stays within the cap of 30`);
  assert.ok(peak >= 30, `the sampler saw the 30 sessions (peak ${peak})`);
});

test("50 agents contending for 20 + 10 connections all finish, fairly, with nothing left held", async () => {
  const applicationName = uniqueName("contend");
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(databaseUrl(), { applicationName }),
    minConnections: 5,
    maxConnections: 20,
    overflow: 10,
    acquireTimeoutMs: 20_000,
  });
  try {
    const rounds = 20;
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      for (let r = 0; r < rounds; r++) {
        await pool.use((sql) => sql`select pg_sleep(0.001)`, { agentId: `agent-${i}` });
      }
    }));
    const stats = pool.stats();
    assert.equal(stats.used, 0);
    assert.equal(stats.pending, 0);
    assert.equal(stats.acquired, 50 * rounds);
    assert.equal(stats.released, 50 * rounds);
    assert.ok(stats.total <= 30);
    const agents = pool.agents();
    assert.equal(agents.length, 50);
    for (const agent of agents) {
      assert.equal(agent.acquired, rounds);
      assert.equal(agent.held, 0);
      assert.ok(agent.totalHoldMs > 0);
    }
  } finally {
    await pool.close();
  }
});

test("pool.use releases on throw and the connection is rolled back and reusable", async () => {
  const applicationName = uniqueName("use");
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(databaseUrl(), { applicationName }),
    minConnections: 1,
    maxConnections: 1,
    overflow: 0,
  });
  try {
    await assert.rejects(
      pool.use(async (sql) => {
        await sql`begin`;
        await sql`set local statement_timeout = '1234ms'`;
        throw new Error("agent crashed mid-transaction");
      }, { agentId: "crashy" }),
      /agent crashed/,
    );
    assert.equal(pool.stats().used, 0);
    const [row] = await pool.use((sql) => sql`select current_setting('statement_timeout') as timeout`, { agentId: "next" });
    assert.notEqual(row.timeout, "1234ms", "the next holder does not inherit the open transaction");
  } finally {
    await pool.close();
  }
});
