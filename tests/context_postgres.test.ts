/**
 * The measured cases on a real PostgreSQL, through the root module (which installs the
 * AsyncLocalStorage context): parallel tool-call loops are never refused as nested; a use() inside
 * the same agent's use() at its quota is refused at once instead of waiting out its timeout;
 * `withAgent()` reaches the adapter; one terminated backend costs at most a couple of checks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { ConnectionPoolExhaustedError, createPostgresPool, PooledDatabaseAdapter, withAgent } from "../mod.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { eventually } from "./support/faults.ts";

test("10 agents × 5 parallel use() loops on 5 + 5, default options: no NESTED_ACQUIRE_WOULD_DEADLOCK", async () => {
  const pool = createPostgresPool(databaseUrl(), { maxConnections: 5, overflow: 5, postgres: { onnotice: () => {} } });
  const failures: unknown[] = [];
  let ok = 0;
  const loop = async (agentId: string): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      try {
        await pool.use((sql) => sql`select pg_sleep(0.005)`, { agentId });
        ok++;
      } catch (error) {
        failures.push(error);
      }
    }
  };
  try {
    const loops: Promise<void>[] = [];
    for (let a = 0; a < 10; a++) for (let l = 0; l < 5; l++) loops.push(loop(`agent-${a}`));
    await Promise.all(loops);
    assert.deepEqual(failures.map((e) => (e as { code?: string }).code ?? String(e)), []);
    assert.equal(ok, 1000);
    assert.equal(pool.stats().rejected, 0);
  } finally {
    await pool.close();
  }
});

test("maxPerAgent 1: a use() inside the same agent's use() is refused at once while connections sit idle", async () => {
  const pool = createPostgresPool(databaseUrl(), { minConnections: 4, maxConnections: 4, maxPerAgent: 1, acquireTimeoutMs: 5000, postgres: { onnotice: () => {} } });
  try {
    await eventually(() => pool.stats().idle >= 4, "the pool fills");
    const started = performance.now();
    const error = await pool.use(async (sql) => {
      await sql`select 1`;
      return pool.use((inner) => inner`select 2`).then(() => undefined, (e: unknown) => e);
    }, { agentId: "planner-1" });
    assert.ok(error instanceof ConnectionPoolExhaustedError, `refused: ${String(error)}`);
    assert.equal(error.code, "NESTED_ACQUIRE_WOULD_DEADLOCK");
    assert.equal(error.agentId, "planner-1");
    assert.ok(performance.now() - started < 2500, "refused, not timed out");
    assert.equal(pool.stats().used, 0);
  } finally {
    await pool.close();
  }
});

test("withAgent reaches adapter.transaction; a transaction inside another of the same agent at its quota is refused", async () => {
  const pool = createPostgresPool(databaseUrl(), { maxConnections: 3, maxPerAgent: 1, postgres: { onnotice: () => {} } });
  const adapter = new PooledDatabaseAdapter(pool);
  try {
    const seen = await withAgent("critic-2", () =>
      adapter.transaction(async (tx) => {
        const [row] = await tx<{ name: string }[]>`select current_setting('application_name') as name`;
        const inner = await adapter.transaction((t2) => t2`select 1`).then(() => "served", (e: unknown) => (e as { code?: string }).code);
        return { name: row.name, inner };
      }));
    assert.equal(seen.inner, "NESTED_ACQUIRE_WOULD_DEADLOCK");
    assert.ok(pool.agents().some((a) => a.agentId === "critic-2" && a.acquired >= 1), "the lease was critic-2's");
  } finally {
    await pool.close();
  }
});

test("one pg_terminate_backend costs at most a couple of checks and closes only that session", async () => {
  const applicationName = uniqueName("one_terminate");
  const observer = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  const pool = createPostgresPool(databaseUrl(), { minConnections: 6, maxConnections: 6, postgres: { applicationName, onnotice: () => {} } });
  try {
    await eventually(() => pool.stats().idle >= 6, "the pool fills");
    const outcome = await pool.use(async (sql) => {
      const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await observer`select pg_terminate_backend(${pid})`;
      // Wait until the driver has seen the session end. A statement sent right after the signal
      // races it on a loaded machine (answered, or failing with 57P01); one sent after the close
      // rejects with SESSION_LOST (tests/postgres_session_lost.test.ts).
      await eventually(() => pool.options.factory.isBroken?.(sql) === true, "the driver sees the session end");
      return "terminated";
    }, { agentId: "a" });
    assert.equal(outcome, "terminated");
    // The dead session's destroy may wait out postgres.js's endTimeoutMs (5 s on Bun).
    await eventually(() => pool.stats().total === 6, "the dead session is replaced");
    await eventually(() => pool.stats().destroyed >= 1, "the dead session is closed", 20_000).catch((error) => {
      throw new Error(`${(error as Error).message}; stats ${JSON.stringify({ ...pool.stats(), longestHolds: undefined })}`);
    });
    const stats = pool.stats();
    assert.ok(stats.validations <= 2, `${stats.validations} checks after one terminated backend`);
    assert.equal(stats.destroyed, 1, "only the terminated session was closed");
    assert.equal(await pool.use((sql) => sql`select 1 as one`.then((r) => r[0].one), { agentId: "b" }), 1);
  } finally {
    await pool.close();
    await observer.end({ timeout: 1 });
  }
});
