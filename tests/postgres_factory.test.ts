/**
 * postgresFactory against a real PostgreSQL: one backend per pooled connection, destroy really
 * ends the session, reset rolls back what a raw user left open, connect errors never carry the
 * password, options are checked and passed through.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import postgres from "postgres";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import { backendPid, type Sql } from "../src/postgres/connection_state.ts";
import { DatabaseConnectionError } from "../src/postgres/errors.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { connectionState } from "../src/postgres/connection_state.ts";
import { databaseUrl, freePort, uniqueName } from "./support/db.ts";
import { eventually, withDb } from "./postgres_support.ts";

const quiet = { onnotice: () => {} };

test("each pooled connection is its own backend, tagged with the application name", async () => {
  await withDb(async ({ pool, observer, applicationName }) => {
    const handles = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.acquire({ agentId: `agent-${i}` })));
    try {
      const pids = await Promise.all(handles.map(async (h) => (await h.connection`select pg_backend_pid() as pid`)[0].pid as number));
      assert.equal(new Set(pids).size, 5);
      assert.deepEqual(handles.map((h) => backendPid(h.connection)), pids);
      const sessions = await observer`select pid from pg_stat_activity where application_name = ${applicationName}`;
      assert.deepEqual(sessions.map((s) => s.pid).sort(), [...pids].sort());
    } finally {
      await Promise.all(handles.map((h) => h.release()));
    }
  }, { pool: { minConnections: 0, maxConnections: 5 } });
});

test("destroy really ends the session on the server", async () => {
  const applicationName = uniqueName("destroy");
  const observer = postgres(databaseUrl(), { max: 1, ...quiet });
  const factory = postgresFactory(databaseUrl(), { applicationName, ...quiet });
  try {
    const sql = await factory.create(new AbortController().signal);
    const pid = backendPid(sql)!;
    assert.ok(pid > 0);
    const alive = async () => (await observer`select 1 from pg_stat_activity where pid = ${pid}`).length === 1;
    assert.equal(await alive(), true);
    await factory.destroy(sql);
    await eventually(async () => !(await alive()), `backend ${pid} is gone from pg_stat_activity`);
  } finally {
    await observer.end();
  }
});

test("reset rolls back a transaction a raw user left open; the next holder starts clean", async () => {
  await withDb(async ({ pool, schema, observer }) => {
    await observer.unsafe(`create table ${schema}.notes (body text)`);
    let firstPid = 0;
    await pool.use(async (sql) => {
      firstPid = backendPid(sql)!;
      await sql.unsafe("begin");
      await sql.unsafe(`insert into ${schema}.notes values ('left open')`);
    }, { agentId: "careless" });
    const [state] = await pool.use(async (sql) => {
      assert.equal(backendPid(sql), firstPid); // the same connection came back
      await sql.unsafe(`insert into ${schema}.notes values ('autocommitted')`);
      return sql`select txid_current_if_assigned() as tx, current_setting('transaction_isolation') as iso`;
    }, { agentId: "next" });
    assert.equal(state.tx, null); // the statement ran in its own implicit transaction
    const rows = await observer.unsafe(`select body from ${schema}.notes`);
    assert.deepEqual(rows.map((r) => r.body), ["autocommitted"]);
  }, { pool: { minConnections: 1, maxConnections: 1 } });
});

test("release sends a ROLLBACK only after a lease that may have left a transaction open", async () => {
  await withDb(async ({ pool, observer, applicationName }) => {
    const lastStatement = async () =>
      (await observer`select query from pg_stat_activity where application_name = ${applicationName}`)[0]?.query as string;
    await pool.use((sql) => sql`select 'plain read' as x`, { agentId: "reader" });
    await pool.use(async (sql) => {
      await sql`begin`;
      await sql`select 'inside' as x`;
      await sql.unsafe("commit");
    }, { agentId: "tidy" });
    // The session's last statement is still the COMMIT: no ROLLBACK followed either lease.
    assert.equal(await lastStatement(), "commit");
    await pool.use(async (sql) => {
      await sql.unsafe("start transaction isolation level repeatable read");
      await sql`select 'left open' as x`;
    }, { agentId: "careless" });
    await eventually(async () => (await lastStatement()) === "rollback", "the reset ROLLBACK ran");
  }, { pool: { minConnections: 1, maxConnections: 1 } });
});

test("reset also clears a failed (aborted) transaction", async () => {
  await withDb(async ({ pool }) => {
    await pool.use(async (sql) => {
      await sql.unsafe("begin");
      await sql`select 1/0`.catch(() => {});
    }, { agentId: "careless" });
    const [row] = await pool.use((sql) => sql`select 1 as one`, { agentId: "next" });
    assert.equal(row.one, 1);
  }, { pool: { minConnections: 1, maxConnections: 1 } });
});

test("connect errors name host, port and database, never the password or the URL", async () => {
  const port = await freePort();
  const secret = "s3cr3t-P@ss";
  const url = `postgres://agent:${encodeURIComponent(secret)}@127.0.0.1:${port}/crewdb`;
  const factory = postgresFactory(url, { connectTimeoutMs: 2000, ...quiet });
  const error = await factory.create(new AbortController().signal).catch((e: unknown) => e);
  assert.ok(error instanceof DatabaseConnectionError, String(error));
  assert.equal(error.code, "CONNECTION_FAILED");
  assert.equal(error.host, "127.0.0.1");
  assert.equal(error.port, String(port));
  assert.equal(error.database, "crewdb");
  assert.ok(error.driverCode !== undefined);
  assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}/crewdb`));
  const everything = [error.message, error.stack ?? "", String(error), JSON.stringify(error), inspect(error, { depth: 5 })].join("\n");
  for (const leak of [secret, encodeURIComponent(secret), url, "agent:"]) assert.ok(!everything.includes(leak), `leaked ${leak}`);

  const byOptions = postgresFactory({ host: "127.0.0.1", port, database: "crewdb", user: "agent", password: secret, connectTimeoutMs: 2000, ...quiet });
  const error2 = await byOptions.create(new AbortController().signal).catch((e: unknown) => e);
  assert.ok(error2 instanceof DatabaseConnectionError);
  assert.ok(!inspect(error2, { depth: 5 }).includes(secret));
});

test("a pool over an unreachable server reports the failure without the password", async () => {
  const port = await freePort();
  const secret = "pool-secret-123";
  const pool = new AsyncConnectionPool<Sql>({
    factory: postgresFactory(`postgres://agent:${secret}@127.0.0.1:${port}/crewdb`, { connectTimeoutMs: 1000, ...quiet }),
    minConnections: 0,
    maxConnections: 1,
    overflow: 0,
    acquireTimeoutMs: 300,
  });
  try {
    const error = await pool.acquire({ agentId: "a" }).catch((e: unknown) => e);
    assert.ok(error instanceof Error);
    assert.ok(!inspect(error, { depth: 6 }).includes(secret));
  } finally {
    await pool.close();
  }
});

test("create gives up with the signal's reason", async () => {
  const factory = postgresFactory(databaseUrl(), quiet);
  const reason = new Error("shutting down");
  await assert.rejects(factory.create(AbortSignal.abort(reason)), (e: unknown) => e === reason);
});

test("validate answers true for a live session and false once it was terminated", async () => {
  const observer = postgres(databaseUrl(), { max: 1, ...quiet });
  const factory = postgresFactory(databaseUrl(), quiet);
  const sql = await factory.create(new AbortController().signal);
  try {
    assert.equal(await factory.validate!(sql, new AbortController().signal), true);
    await observer`select pg_terminate_backend(${backendPid(sql)!})`;
    await eventually(async () => !(await factory.validate!(sql, AbortSignal.timeout(1000))), "validate notices the dead session");
  } finally {
    await factory.destroy(sql);
    await observer.end();
  }
});

test("driver options: the pool owns lifetimes, prepare and other postgres.js options pass through", async () => {
  const factory = postgresFactory(databaseUrl(), { prepare: false, connectTimeoutMs: 1500, ...quiet });
  const sql = await factory.create(new AbortController().signal);
  try {
    assert.equal(sql.options.max, 1);
    assert.equal(sql.options.prepare, false);
    assert.ok(!sql.options.idle_timeout);
    assert.ok(!sql.options.max_lifetime);
    assert.equal(sql.options.connect_timeout, 1.5);
    const [{ app }] = await sql`select current_setting('application_name') as app`;
    assert.equal(app, "agentpool");
  } finally {
    await factory.destroy(sql);
  }
});

test("notices reach the user's onnotice, a user's stray COMMIT's 25P01 too; only the reset's own is hidden", async () => {
  const notices: string[] = [];
  const factory = postgresFactory(databaseUrl(), { onnotice: (n) => notices.push(String(n.code)) });
  const sql = await factory.create(new AbortController().signal);
  try {
    connectionState(sql)!.session.note("begin"); // the reader believes a BEGIN was left open
    factory.reset!(sql); // sends ROLLBACK outside a transaction: warning 25P01, ours: hidden
    await sql`do $$ begin raise notice 'hello'; end $$`;
    await sql`commit`; // the user's own stray COMMIT: its 25P01 is shown
    assert.deepEqual(notices, ["00000", "25P01"]);
  } finally {
    await factory.destroy(sql);
  }
});

test("bad options throw errors naming the option and value", () => {
  assert.throws(() => postgresFactory(databaseUrl(), { connectTimeoutMs: -1 }), /'connectTimeoutMs'.*-1/);
  assert.throws(() => postgresFactory(databaseUrl(), { endTimeoutMs: "soon" as unknown as number }), TypeError);
  assert.throws(() => postgresFactory(databaseUrl(), { applicationName: 5 as unknown as string }), /'applicationName'/);
  assert.throws(() => postgresFactory(42 as unknown as string), TypeError);
});

test("array types are fetched by the first connection only; later ones parse and send arrays alike", async () => {
  const factory = postgresFactory(databaseUrl(), { applicationName: uniqueName("arrays"), ...quiet });
  const signal = new AbortController().signal;
  const first = await factory.create(signal);
  const second = await factory.create(signal);
  try {
    // The second start-up skipped postgres.js's type query (the window for its unhandled rejection).
    assert.equal((first.options as { fetch_types?: boolean }).fetch_types, true);
    assert.equal((second.options as { fetch_types?: boolean }).fetch_types, false);
    for (const sql of [first, second]) {
      const [row] = await sql`select ${[1, 2, 3]}::int[] as ints, array['a', 'b,c']::text[] as texts,
        array['2026-12-01'::date] as dates, array[true, false] as flags, ${["x", "y"]}::text[] as sent`;
      assert.deepEqual(row.ints, [1, 2, 3]);
      assert.deepEqual(row.texts, ["a", "b,c"]);
      assert.ok(Array.isArray(row.dates) && row.dates[0] instanceof Date);
      assert.deepEqual(row.flags, [true, false]);
      assert.deepEqual(row.sent, ["x", "y"]);
    }
  } finally {
    await factory.destroy(first);
    await factory.destroy(second);
  }
});
