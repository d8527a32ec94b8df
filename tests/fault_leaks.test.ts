/**
 * Fault test: leaks and runaway agents against a real PostgreSQL. Leak detection names the agent
 * (and, with captureStacks, where it acquired); hold policies cancel or reclaim; revoke takes back
 * everything an agent holds (rolled back on the server) and refuses it until re-admitted;
 * revokeOnAbort does the same when the agent's run is aborted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { AsyncConnectionPool, ConnectionPoolExhaustedError, PoolError, type PooledConnection } from "../mod.ts";
import { backendPid } from "../src/postgres/connection_state.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { eventually, nextEvent, sessionPids, sleep, within } from "./support/faults.ts";

type Sql = postgres.Sql;

interface LeakDetail {
  agentId: string;
  connectionId: number;
  heldMs: number;
  stack: string | undefined;
}

interface HoldDetail {
  agentId: string;
  connectionId: number;
  heldMs: number;
  action: string;
}

/** A pool on the shared database with its own application_name, a table, and an observer session. */
async function setup(options: Partial<ConstructorParameters<typeof AsyncConnectionPool<Sql>>[0]> = {}) {
  const applicationName = uniqueName("leaks");
  const table = uniqueName("leak_rows");
  const observer = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  await observer`create table ${observer(table)} (id int)`;
  const pool = new AsyncConnectionPool<Sql>({
    factory: postgresFactory(databaseUrl(), { applicationName, onnotice: () => {} }),
    minConnections: 0,
    maxConnections: 4,
    overflow: 0,
    ...options,
  });
  const rows = async (): Promise<number> => {
    const [row] = await observer<{ n: number }[]>`select count(*)::int as n from ${observer(table)}`;
    return row.n;
  };
  const teardown = async (): Promise<void> => {
    await pool.close();
    await observer`drop table if exists ${observer(table)}`;
    await observer.end({ timeout: 1 });
  };
  return { pool, observer, table, applicationName, rows, teardown };
}

/** Opens a transaction on the held connection and inserts a row it never commits. */
async function uncommittedInsert(sql: Sql, table: string): Promise<void> {
  await sql`begin`;
  await sql`insert into ${sql(table)} values (1)`;
}

test("leak detection fires once for a held connection, names the agent and the acquire stack, and shows in the leak report", async () => {
  const t = await setup({ leakDetectionMs: 100, captureStacks: true });
  try {
    const leaked = nextEvent<LeakDetail>(t.pool, "leak");
    const handle = await t.pool.acquire({ agentId: "leaky-agent" });
    await handle.connection`select 1`;
    const leak = await leaked;
    assert.equal(leak.agentId, "leaky-agent");
    assert.equal(leak.connectionId, handle.id);
    assert.ok(leak.heldMs >= 100, `heldMs ${leak.heldMs}`);
    assert.ok(typeof leak.stack === "string" && leak.stack.includes("fault_leaks.test"), `stack: ${leak.stack}`);

    const stats = t.pool.stats();
    assert.equal(stats.leaks, 1);
    const [top] = stats.longestHolds;
    assert.equal(top.agentId, "leaky-agent");
    assert.equal(top.connectionId, handle.id);
    assert.ok(top.heldMs >= 100);
    assert.equal(t.pool.agents().find((a) => a.agentId === "leaky-agent")?.leaks, 1);

    await sleep(200); // more sweeps: one event per lease, not one per sweep
    assert.equal(t.pool.stats().leaks, 1);
    await handle.release();
    assert.equal(t.pool.stats().longestHolds.length, 0);
  } finally {
    await t.teardown();
  }
});

test("leak detection without captureStacks reports no stack", async () => {
  const t = await setup({ leakDetectionMs: 50 });
  try {
    const leaked = nextEvent<LeakDetail>(t.pool, "leak");
    const handle = await t.pool.acquire({ agentId: "quiet" });
    const leak = await leaked;
    assert.equal(leak.agentId, "quiet");
    assert.equal(leak.stack, undefined);
    await handle.release();
  } finally {
    await t.teardown();
  }
});

test("hold policy 'reclaim' fences the handle and ends the server session: the uncommitted insert is rolled back", async () => {
  const t = await setup({ agentPolicies: { greedy: { maxHoldMs: 150, action: "reclaim" } } });
  try {
    const exceeded = nextEvent<HoldDetail>(t.pool, "holdexceeded");
    const handle = await t.pool.acquire({ agentId: "greedy" });
    const sql = handle.connection;
    const pid = backendPid(sql)!;
    await uncommittedInsert(sql, t.table);
    const event = await exceeded;
    assert.equal(event.agentId, "greedy");
    assert.equal(event.action, "reclaim");
    assert.equal(event.connectionId, handle.id);

    assert.equal(handle.released, true, "the handle is fenced");
    assert.throws(() => handle.connection, (e: unknown) => e instanceof PoolError && e.code === "HANDLE_REVOKED");
    await handle.release(); // a no-op for a reclaimed handle, never DOUBLE_RELEASE
    await eventually(async () => !(await sessionPids(t.observer, t.applicationName)).includes(pid), "the reclaimed session is gone");
    assert.equal(await t.rows(), 0, "the uncommitted insert was rolled back");
    const stats = t.pool.stats();
    assert.equal(stats.reclaimed, 1);
    assert.equal(stats.used, 0);
    assert.equal(t.pool.agents().find((a) => a.agentId === "greedy")?.held, 0);
    // The pool keeps serving (the agent is not revoked by a reclaim).
    const [row] = await t.pool.use((s) => s<{ one: number }[]>`select 1 as one`, { agentId: "greedy" });
    assert.equal(row.one, 1);
  } finally {
    await t.teardown();
  }
});

test("hold policy 'cancel' cancels the running query through the factory (a CancelRequest with its backend key) and leaves the lease alone", async () => {
  const t = await setup({ holdPolicy: { maxHoldMs: 150, action: "cancel" } });
  try {
    const handle = await t.pool.acquire({ agentId: "slow" });
    const error = await within(
      handle.connection`select pg_sleep(30)`.then(() => undefined, (e) => e),
      10_000,
      "the long query",
    );
    assert.equal((error as { code?: string })?.code, "57014", "query_canceled");
    assert.equal(handle.released, false, "cancel does not take the connection");
    const [row] = await handle.connection<{ one: number }[]>`select 1 as one`;
    assert.equal(row.one, 1, "the session survives its cancelled query");
    await handle.release();
    assert.equal(t.pool.stats().reclaimed, 0);
  } finally {
    await t.teardown();
  }
});

test("revoke(agentId) rejects its waiters, cancels and reclaims its connections (rolled back), refuses it until readmit", async () => {
  const t = await setup({ maxConnections: 3, maxPerAgent: 3, acquireTimeoutMs: 10_000 });
  try {
    const a = await t.pool.acquire({ agentId: "rogue" });
    const b = await t.pool.acquire({ agentId: "rogue" });
    const pids = [backendPid(a.connection)!, backendPid(b.connection)!];
    await uncommittedInsert(a.connection, t.table);
    const running = b.connection`select pg_sleep(30)`.then(() => undefined, (e) => e);
    const c = await t.pool.acquire({ agentId: "good" });
    // The pool is at its cap: one more acquire for each agent waits.
    const rogueWaits = t.pool.acquire({ agentId: "rogue" }).then(() => undefined, (e) => e);
    const goodWaits = t.pool.acquire({ agentId: "good" });
    await eventually(() => t.pool.stats().pending === 2, "both waiters queue");

    await within(t.pool.revoke("rogue"), 10_000, "revoke");

    const waitError = await rogueWaits;
    assert.ok(waitError instanceof ConnectionPoolExhaustedError, String(waitError));
    assert.equal(waitError.code, "AGENT_REVOKED");
    for (const handle of [a, b]) {
      assert.equal(handle.released, true);
      assert.throws(() => handle.connection, (e: unknown) => e instanceof PoolError && e.code === "HANDLE_REVOKED");
    }
    assert.ok((await running) !== undefined, "the running query of the revoked agent was stopped");
    await eventually(async () => {
      const live = await sessionPids(t.observer, t.applicationName);
      return pids.every((pid) => !live.includes(pid));
    }, "the revoked agent's sessions are gone");
    assert.equal(await t.rows(), 0, "its uncommitted insert was rolled back");

    // The other agent's waiter is served from the freed capacity.
    const g = await within(goodWaits, 10_000, "the good agent's waiter");
    await g.release();
    await c.release();

    // Refused until re-admitted, at once, even with connections idle.
    const refused = await t.pool.acquire({ agentId: "rogue" }).then(() => undefined, (e) => e);
    assert.ok(refused instanceof ConnectionPoolExhaustedError);
    assert.equal(refused.code, "AGENT_REVOKED");
    await assert.rejects(t.pool.use((s) => s`select 1`, { agentId: "rogue" }), { code: "AGENT_REVOKED" });
    t.pool.readmit("rogue");
    const [row] = await t.pool.use((s) => s<{ one: number }[]>`select 1 as one`, { agentId: "rogue" });
    assert.equal(row.one, 1);
    const rogue = t.pool.agents().find((x) => x.agentId === "rogue")!;
    assert.equal(rogue.reclaimed, 2);
    assert.equal(rogue.held, 0);
    assert.equal(t.pool.stats().used, 0);
  } finally {
    await t.teardown();
  }
});

test("revokeOnAbort: aborting an agent's run revokes it, its connection is reclaimed and rolled back; unbinding stops it", async () => {
  const t = await setup();
  try {
    const run = new AbortController();
    const unbind = t.pool.revokeOnAbort("run-1", run.signal);
    const revoked = nextEvent<{ agentId: string; reclaimed: number }>(t.pool, "revoked");
    const handle: PooledConnection<Sql> = await t.pool.acquire({ agentId: "run-1" });
    const pid = backendPid(handle.connection)!;
    await uncommittedInsert(handle.connection, t.table);
    run.abort(new Error("the agent run died"));
    const detail = await revoked;
    assert.deepEqual(detail, { agentId: "run-1", reclaimed: 1 });
    assert.throws(() => handle.connection, { code: "HANDLE_REVOKED" });
    await eventually(async () => !(await sessionPids(t.observer, t.applicationName)).includes(pid), "the session is gone");
    assert.equal(await t.rows(), 0, "rolled back");
    await assert.rejects(t.pool.acquire({ agentId: "run-1" }), { code: "AGENT_REVOKED" });
    unbind();

    // A bound signal that is unbound before it aborts revokes nothing.
    t.pool.readmit("run-1");
    const run2 = new AbortController();
    const unbind2 = t.pool.revokeOnAbort("run-1", run2.signal);
    unbind2();
    run2.abort();
    await t.pool.use((s) => s`select 1`, { agentId: "run-1" });
    // An already-aborted signal revokes at once.
    t.pool.revokeOnAbort("run-2", AbortSignal.abort());
    await assert.rejects(t.pool.acquire({ agentId: "run-2" }), { code: "AGENT_REVOKED" });
  } finally {
    await t.teardown();
  }
});
