/**
 * The shared agent team (src/cli/workload.ts) on a real PostgreSQL: a short burst completes every
 * claimed task exactly once (checked from task_events) and leaves no connection held.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectionPoolExhaustedError } from "../src/core/errors.ts";
import { createMetrics } from "../src/core/metrics_tracker.ts";
import { PooledDatabaseAdapter } from "../src/postgres/adapter.ts";
import { createPostgresPool } from "../src/postgres/create_pool.ts";
import { TaskStateError } from "../src/postgres/errors.ts";
import { AgentTeam, isExpectedError } from "../src/cli/workload.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

test("workload: 10 agents for 2 s complete every claimed task exactly once, nothing held after", async () => {
  const pool = createPostgresPool(databaseUrl(), {
    maxConnections: 8,
    overflow: 4,
    metrics: createMetrics(),
    postgres: { onnotice: () => {} },
  });
  const team = new AgentTeam(new PooledDatabaseAdapter(pool), { agents: 10, schema: uniqueName("team"), thinkMs: [1, 5], longHoldMs: [20, 60] });
  try {
    await team.setup();
    team.start();
    await sleep(2000);
    const result = await team.stop();

    assert.equal(pool.stats().used, 0, "connections held after the team stopped");
    assert.equal(pool.stats().acquired, pool.stats().released);
    assert.equal(result.totals.unexpectedErrors, 0, JSON.stringify(result.errors));
    assert.ok(result.totals.completions > 0, "the team completed nothing");
    assert.equal(result.agents.length, 10);
    assert.equal(result.agents.reduce((sum, a) => sum + a.completions, 0), result.totals.completions);

    const [counts] = await pool.use((sql) =>
      sql.unsafe(`
        select count(*) filter (where kind = 'claimed')::integer as claimed,
               count(*) filter (where kind = 'completed')::integer as completed
        from "${team.schema}".task_events`)
    , { agentId: "test" });
    assert.equal(counts.completed, result.totals.completions);
    assert.equal(counts.claimed, result.totals.claims);
    // Per task: claimed once, completed once — no task claimed twice, none left running.
    const odd = await pool.use((sql) =>
      sql.unsafe(`
        select task_id,
               count(*) filter (where kind = 'claimed')::integer as claimed,
               count(*) filter (where kind = 'completed')::integer as completed
        from "${team.schema}".task_events
        group by task_id
        having count(*) filter (where kind = 'claimed') > 0
           and (count(*) filter (where kind = 'claimed') <> 1 or count(*) filter (where kind = 'completed') <> 1)`)
    , { agentId: "test" });
    assert.deepEqual([...odd], []);
    const [{ running }] = await pool.use((sql) =>
      sql.unsafe(`select count(*)::integer as running from "${team.schema}".tasks where status = 'running'`)
    , { agentId: "test" });
    assert.equal(running, 0);
  } finally {
    await team.stop();
    await team.dropSchema();
    await pool.close();
  }
});

test("workload: stop() before start() resolves at once and is idempotent", async () => {
  const pool = createPostgresPool(databaseUrl(), { minConnections: 0, maxConnections: 2, postgres: { onnotice: () => {} } });
  try {
    const team = new AgentTeam(new PooledDatabaseAdapter(pool), { agents: 2 });
    const [a, b] = await Promise.all([team.stop(), team.stop()]);
    assert.equal(a, b);
    assert.equal(a.totals.completions, 0);
    assert.match(team.schema, /^agentpool_team_[0-9a-f]{8}$/);
  } finally {
    await pool.close();
  }
});

test("workload: bad options throw RangeError naming the option", async () => {
  const pool = createPostgresPool(databaseUrl(), { minConnections: 0, postgres: { onnotice: () => {} } });
  try {
    const adapter = new PooledDatabaseAdapter(pool);
    assert.throws(() => new AgentTeam(adapter, { agents: 0 }), { name: "RangeError", message: /'agents'.*current value is 0/ });
    assert.throws(() => new AgentTeam(adapter, { agents: 1, thinkMs: [5, 1] }), { name: "RangeError", message: /'thinkMs'/ });
    assert.throws(() => new AgentTeam(adapter, { agents: 1, longHoldMs: [-1, 5] }), { name: "RangeError", message: /'longHoldMs'/ });
  } finally {
    await pool.close();
  }
});

test("workload: lease races and revocations are expected errors, the rest are not", () => {
  const notHeld = new TaskStateError("TASK_NOT_HELD", crypto.randomUUID(), "a", "not held");
  assert.equal(isExpectedError(notHeld, false), true);
  assert.equal(isExpectedError(new TaskStateError("TASK_NOT_FOUND", crypto.randomUUID(), "a", "gone"), false), false);
  assert.equal(isExpectedError(new ConnectionPoolExhaustedError("revoked", "a", "revoked"), false), true);
  assert.equal(isExpectedError(new ConnectionPoolExhaustedError("timeout", "a", "timed out"), false), false);
  const abort = new DOMException("stop", "AbortError");
  assert.equal(isExpectedError(abort, true), true);
  assert.equal(isExpectedError(abort, false), false);
  assert.equal(isExpectedError(new Error("boom"), true), false);
});
