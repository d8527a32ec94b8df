/**
 * pgFactory against a real PostgreSQL: every lease starts on a clean session (and a clean lease
 * costs no statement), protocol-level cancel, validate, isFatal, bad input, no password shown.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { AsyncConnectionPool } from "../mod.ts";
import { isFatalPgError, Pool, pgFactory, withAgent } from "../src/pg/mod.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

/** A pg.Client that counts the statements it sends (to prove what a release costs). */
class CountingClient extends pg.Client {
  static sent: string[] = [];
  override query(...args: unknown[]): never {
    const text = typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text;
    CountingClient.sent.push(String(text));
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}

test("a lease that leaves a transaction, settings, a temp table, LISTEN, an advisory lock and a PREPARE behind hands on a clean session", async () => {
  const pool = new Pool({ connectionString: databaseUrl(), max: 1 });
  try {
    const dirty = await pool.connect();
    const pid = (await dirty.query("select pg_backend_pid() as pid")).rows[0].pid;
    await dirty.query("set search_path = pg_catalog");
    await dirty.query("set role pg_monitor").catch(() => {}); // not every server has the role granted
    await dirty.query("create temp table scratch (x int)");
    await dirty.query("listen some_channel");
    await dirty.query("select pg_advisory_lock(4242)");
    await dirty.query("prepare mine as select 1");
    await dirty.query("begin");
    await dirty.query("select 1");
    dirty.release();
    const next = await pool.connect();
    try {
      const facts = (await next.query(`select pg_backend_pid() as pid,
        current_setting('search_path') as search_path,
        current_user = session_user as default_role,
        (select count(*)::int from pg_class where relname = 'scratch' and relpersistence = 't') as temp_tables,
        (select count(*)::int from pg_listening_channels()) as channels,
        (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as advisory,
        (select count(*)::int from pg_prepared_statements) as prepared`)).rows[0];
      assert.equal(facts.pid, pid, "same backend: it was reset, not replaced");
      assert.equal(next.getTransactionStatus(), "I");
      assert.deepEqual(
        { ...facts, pid: undefined },
        { pid: undefined, search_path: '"$user", public', default_role: true, temp_tables: 0, channels: 0, advisory: 0, prepared: 0 },
      );
    } finally {
      next.release();
    }
  } finally {
    await pool.end();
  }
});

test("a failed transaction left open is rolled back; a clean lease costs no statement at all", async () => {
  CountingClient.sent = [];
  const pool = new Pool({ connectionString: databaseUrl(), max: 1, Client: CountingClient });
  try {
    const a = await pool.connect();
    await a.query("begin");
    await a.query("select 1/0").catch(() => {}); // pg rejects before the ReadyForQuery that says "E"
    a.release();
    const b = await pool.connect();
    assert.equal(b.getTransactionStatus(), "I");
    await b.query("select 1");
    b.release();
    const c = await pool.connect();
    c.release();
    await pool.query("select 2");
    const d = await pool.connect();
    await d.query("begin");
    await d.query("select 3");
    await d.query("commit");
    d.release();
    await pool.query("select 4"); // a committed transaction left nothing: no reset went before this
    // The failed transaction's application_name may still be reported as changed at release: then
    // "reset all" rides along in the same string (seen on Node; Deno and Bun sent "rollback" alone).
    assert.match(CountingClient.sent[2], /^rollback(; reset all)?$/);
    CountingClient.sent[2] = "rollback";
    assert.deepEqual(CountingClient.sent, [
      "begin; set local application_name = E'agentpool:default'", // the agent rides along with BEGIN
      "select 1/0",
      "rollback",
      "select 1",
      "select 2",
      "begin; set local application_name = E'agentpool:default'",
      "select 3",
      "commit",
      "select 4",
    ]);
  } finally {
    await pool.end();
  }
});

test("a client released with its BEGIN still in flight (not awaited) is rolled back before the next holder gets it", async () => {
  const pool = new Pool({ connectionString: databaseUrl(), max: 1 });
  try {
    const careless = await pool.connect();
    void careless.query("begin");
    void careless.query("select pg_sleep(0.05)");
    careless.release();
    const next = await pool.connect();
    try {
      await next.query("select 1");
      assert.equal(next.getTransactionStatus(), "I");
    } finally {
      next.release();
    }
  } finally {
    await pool.end();
  }
});

test("pg's named statements survive clean leases and resets; the reset restores settings", async () => {
  const pool = new Pool({ connectionString: databaseUrl(), max: 1 });
  const name = uniqueName("q");
  try {
    const run = async (): Promise<unknown> => (await pool.query({ name, text: "select $1::int + 1 as n", values: [1] })).rows;
    assert.deepEqual(await run(), [{ n: 2 }]);
    assert.deepEqual(await run(), [{ n: 2 }]);
    await pool.query("set statement_timeout = 1000"); // dirty: reset with RESET ALL, which keeps pg's statements
    assert.deepEqual(await run(), [{ n: 2 }]);
    assert.equal((await pool.query("select current_setting('statement_timeout') as t")).rows[0].t, "0");
  } finally {
    await pool.end();
  }
});

test("each transaction names its agent in application_name; outside it the session's own name is back", async () => {
  const base = uniqueName("app");
  const pool = new Pool({ connectionString: databaseUrl(), max: 1, application_name: base });
  try {
    await withAgent("planner-1", async () => {
      const client = await pool.connect();
      try {
        const begun = await client.query("BEGIN");
        assert.equal(begun.command, "BEGIN", "the caller sees BEGIN's own result");
        assert.equal((await client.query("select current_setting('application_name') as app")).rows[0].app, `${base}:planner-1`);
        await client.query("COMMIT");
        assert.equal((await client.query("select current_setting('application_name') as app")).rows[0].app, base);
      } finally {
        client.release();
      }
    });
    const sessions = (await pool.query("select count(*)::int as n from pg_stat_activity where application_name = $1", [base])).rows[0].n;
    assert.equal(sessions, 1, "no reset was needed: the name ended with the transaction");
  } finally {
    await pool.end();
  }
});

test("with a 'connect' listener, a dirty session is closed instead of reset, so the set-up runs again", async () => {
  const pool = new Pool({ connectionString: databaseUrl(), max: 1 });
  pool.on("connect", (client: pg.Client) => void client.query("set application_name = 'set-up-on-connect'"));
  try {
    const first = (await pool.query("select pg_backend_pid() as pid, current_setting('application_name') as app")).rows[0];
    assert.equal(first.app, "set-up-on-connect");
    await pool.query("set search_path = pg_catalog");
    const second = (await pool.query("select pg_backend_pid() as pid, current_setting('application_name') as app, current_setting('search_path') as sp")).rows[0];
    assert.notEqual(second.pid, first.pid);
    assert.equal(second.app, "set-up-on-connect");
    assert.equal(second.sp, '"$user", public');
  } finally {
    await pool.end();
  }
});

test("cancel sends a protocol-level CancelRequest: the running query fails with 57014, no session is opened, the client stays usable", async () => {
  const applicationName = uniqueName("cancel");
  const factory = pgFactory({ connectionString: databaseUrl(), application_name: applicationName });
  const observer = new pg.Client({ connectionString: databaseUrl() });
  await observer.connect();
  const client = await factory.create(new AbortController().signal);
  try {
    const running = client.query("select pg_sleep(30)").catch((e: unknown) => e);
    for (let i = 0; i < 100; i++) {
      const { rows } = await observer.query("select count(*)::int as n from pg_stat_activity where application_name = $1 and state = 'active'", [applicationName]);
      if (rows[0].n === 1) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await factory.cancel!(client);
    const error = await running;
    assert.equal((error as { code?: string }).code, "57014");
    const sessions = await observer.query("select count(*)::int as n from pg_stat_activity where application_name like $1", [`${applicationName}%`]);
    assert.equal(sessions.rows[0].n, 1, "only the cancelled session itself");
    assert.equal(await factory.validate!(client, AbortSignal.timeout(5000)), true);
    assert.equal(factory.isFatal!(error), false);
  } finally {
    await factory.destroy(client);
    await observer.end();
  }
});

test("a hold policy 'cancel' stops a runaway query on a pooled pg client", async () => {
  const pool = new AsyncConnectionPool({
    factory: pgFactory(databaseUrl()),
    maxConnections: 1,
    holdPolicy: { maxHoldMs: 100, action: "cancel" },
  });
  try {
    const error = await pool.use((client) => client.query("select pg_sleep(30)"), { agentId: "runaway" }).catch((e: unknown) => e);
    assert.equal((error as { code?: string }).code, "57014");
    const rows = await pool.use((client) => client.query("select 1 as one"), { agentId: "next" });
    assert.deepEqual(rows.rows, [{ one: 1 }]);
  } finally {
    await pool.close();
  }
});

test("isFatal: terminated sessions and dead sockets are fatal, query errors are not", () => {
  assert.equal(isFatalPgError(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" })), true);
  assert.equal(isFatalPgError(new Error("Connection terminated unexpectedly")), true);
  assert.equal(isFatalPgError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })), true);
  assert.equal(isFatalPgError(Object.assign(new Error("wrapped"), { cause: { code: "08006" } })), true);
  assert.equal(isFatalPgError(Object.assign(new Error("canceling statement"), { code: "57014" })), false);
  assert.equal(isFatalPgError(Object.assign(new Error("duplicate key"), { code: "23505" })), false);
});

test("validate drops a session that does not answer before its signal aborts; create gives up on abort", async () => {
  const factory = pgFactory(databaseUrl());
  const client = await factory.create(new AbortController().signal);
  const controller = new AbortController();
  const check = factory.validate!(client, controller.signal);
  controller.abort();
  assert.equal(await check, false);
  assert.equal(factory.isBroken!(client), true);
  await factory.destroy(client);
  const aborted = new AbortController();
  aborted.abort(new Error("stop"));
  await assert.rejects(factory.create(aborted.signal), /stop/);
});

test("a failed connect names host, port and database, never the password or the URL", async () => {
  const url = new URL(databaseUrl());
  url.password = "wrong-s3cret-pw";
  url.username = "nobody_here";
  const factory = pgFactory({ connectionString: url.href, password: "wrong-s3cret-pw" });
  const error = (await factory.create(AbortSignal.timeout(5000)).catch((e: unknown) => e)) as Error;
  assert.equal((error as { code?: string }).code, "CONNECTION_FAILED");
  assert.match(error.message, new RegExp(`${url.hostname}:${url.port}`));
  assert.doesNotMatch(error.message, /s3cret/);
  assert.doesNotMatch(String((error as { stack?: string }).stack), /s3cret/);
});
