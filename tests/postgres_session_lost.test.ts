/**
 * A pooled session that ends (pg_terminate_backend) stays ended: postgres.js's `max: 1` instance
 * would open a new session on the next statement (and for the statements queued behind the one
 * the close failed), so a lease that had run `set role` would go on as the login role. Every
 * later statement on that lease rejects with `SESSION_LOST` instead, no second session (no second
 * socket) is ever opened for the connection, and the pool closes it on release. The same for an
 * idle connection: it is not handed out and its validation does not reconnect.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import postgres from "postgres";
import { isFatalPostgresError } from "../src/postgres/factory.ts";
import { SessionLostError } from "../src/postgres/errors.ts";
import { createPostgresPool } from "../src/postgres/create_pool.ts";
import type { PostgresFactoryOptions } from "../src/postgres/factory.ts";
import type { Sql } from "../src/postgres/connection_state.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { eventually, sleep } from "./support/faults.ts";

interface Sockets {
  /** Sockets postgres.js asked for (sessions opened and cancel requests). */
  opened: number;
  options: PostgresFactoryOptions;
}

/** Factory options that count every socket postgres.js opens (a second session would need one). */
function countingSockets(applicationName: string): Sockets {
  const sockets: Sockets = {
    opened: 0,
    options: {
      applicationName,
      onnotice: () => {},
      socket: (o: { host: string[]; port: number[]; path?: string }) =>
        new Promise<net.Socket>((resolve, reject) => {
          sockets.opened++;
          const socket = o.path ? net.connect(o.path) : net.connect(o.port[0], o.host[0]);
          socket.once("connect", () => resolve(socket));
          socket.once("error", reject);
        }),
    } as PostgresFactoryOptions,
  };
  return sockets;
}

/** Server sessions of `applicationName` right now. */
async function sessionsOf(observer: postgres.Sql, applicationName: string): Promise<number> {
  const [{ n }] = await observer<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity where application_name = ${applicationName}`;
  return n;
}

function settle<T>(promise: PromiseLike<T>): Promise<{ value: T } | { error: unknown }> {
  return Promise.resolve(promise).then((value) => ({ value }), (error: unknown) => ({ error }));
}

function assertSessionLost(outcome: { value: unknown } | { error: unknown }, what: string): void {
  assert.ok("error" in outcome, `${what} was answered (on a new session): ${JSON.stringify((outcome as { value: unknown }).value)}`);
  const error = outcome.error;
  assert.ok(error instanceof SessionLostError, `${what}: ${String(error)}`);
  assert.equal(error.code, "SESSION_LOST");
  assert.ok(isFatalPostgresError(error), `${what}: fatal`);
}

test("a statement after the lease's session ended rejects with SESSION_LOST, never runs on a new session", async () => {
  const applicationName = uniqueName("lost_raw");
  const role = uniqueName("limited");
  const sockets = countingSockets(applicationName);
  const observer = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  await observer.unsafe(`create role ${role} nologin`);
  const pool = createPostgresPool(databaseUrl(), { minConnections: 1, maxConnections: 1, postgres: sockets.options });
  try {
    await eventually(() => pool.stats().idle === 1, "the pool fills");
    let leased: Sql | undefined;
    const seen = await pool.use(async (sql) => {
      leased = sql;
      await sql.unsafe(`set role ${role}`);
      const [{ pid, who }] = await sql<{ pid: number; who: string }[]>`select pg_backend_pid() as pid, current_user as who`;
      assert.equal(who, role);
      await observer`select pg_terminate_backend(${pid}, 5000)`;
      await eventually(() => pool.options.factory.isBroken?.(sql) === true, "the driver sees the session end");
      const statement = await settle(sql<{ who: string }[]>`select current_user as who`);
      const unsafe = await settle(sql.unsafe("select current_user as who"));
      const begin = await settle(sql.begin((tx) => tx`select current_user as who`));
      const reserve = await settle(sql.reserve());
      await sleep(100); // time for a reconnect to show
      return { statement, unsafe, begin, reserve, sessions: await sessionsOf(observer, applicationName) };
    }, { agentId: "a" });
    assertSessionLost(seen.statement, "a tagged statement");
    assertSessionLost(seen.unsafe, "sql.unsafe()");
    assertSessionLost(seen.begin, "sql.begin()");
    assertSessionLost(seen.reserve, "sql.reserve()");
    assert.equal(seen.sessions, 0, "a session of the pooled connection was opened again");
    assert.equal(sockets.opened, 1, "postgres.js opened a second socket for the pooled connection");
    // Released: the pool closes it and serves the next lease on a fresh session, as the login role.
    await eventually(() => pool.stats().destroyed === 1, "the dead connection is closed");
    const next = await pool.use(async (sql) => {
      assert.notEqual(sql, leased);
      const [row] = await sql<{ who: string; login: string }[]>`select current_user as who, session_user as login`;
      return row;
    }, { agentId: "b" });
    assert.equal(next.who, next.login);
    const stats = pool.stats();
    assert.equal(stats.total, 1);
    assert.equal(stats.used, 0);
    assert.equal(stats.destroyed, 1);
    assert.equal(await sessionsOf(observer, applicationName), 1);
    assert.equal(sockets.opened, 2, "one socket per pooled connection");
  } finally {
    await pool.close();
    await observer.unsafe(`drop role if exists ${role}`);
    await observer.end({ timeout: 1 });
  }
});

/** The test database's URL naming its host twice (postgres.js's multi-host failover). */
function twoHostUrl(): string {
  const url = new URL(databaseUrl());
  const auth = url.username === "" ? "" : `${url.username}${url.password === "" ? "" : `:${url.password}`}@`;
  return `${url.protocol}//${auth}${url.host},${url.host}${url.pathname}${url.search}`;
}

for (const [hosts, url] of [["one host", databaseUrl], ["two hosts", twoHostUrl]] as const) {
  test(`a statement queued behind the one the close failed is not sent on a new session (${hosts})`, async () => {
    const applicationName = uniqueName("lost_queued");
    const sockets = countingSockets(applicationName);
    const observer = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
    const pool = createPostgresPool(url(), { minConnections: 1, maxConnections: 1, postgres: sockets.options });
    try {
      const seen = await pool.use(async (sql) => {
        const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
        // A statement with parameters is described first: postgres.js queues the next one behind it.
        const running = settle(sql`select pg_sleep(30), ${1}::int as one`);
        const queued = settle(sql<{ pid: number }[]>`select pg_backend_pid() as pid`);
        await eventually(async () => {
          const [{ n }] = await observer<{ n: number }[]>`
            select count(*)::int as n from pg_stat_activity where pid = ${pid} and state = 'active' and query like '%pg_sleep(30)%'`;
          return n === 1;
        }, "the sleep runs");
        await observer`select pg_terminate_backend(${pid}, 5000)`;
        const [first, second] = await Promise.all([running, queued]);
        await sleep(100);
        return { first, second, sessions: await sessionsOf(observer, applicationName) };
      }, { agentId: "a" });
      assert.ok("error" in seen.first && isFatalPostgresError(seen.first.error), `the running statement: ${JSON.stringify(seen.first)}`);
      assertSessionLost(seen.second, "the queued statement");
      assert.equal(seen.sessions, 0, "a session of the pooled connection was opened again");
      assert.equal(sockets.opened, 1, "postgres.js opened a second socket for the pooled connection");
      await eventually(() => pool.stats().destroyed === 1, "the dead connection is closed");
      assert.equal(await pool.use((sql) => sql`select 1 as one`.then((r) => r[0].one), { agentId: "b" }), 1);
    } finally {
      await pool.close();
      await observer.end({ timeout: 1 });
    }
  });
}

test("an idle connection whose session ended is not handed out, and its validation does not reconnect", async () => {
  const applicationName = uniqueName("lost_idle");
  const sockets = countingSockets(applicationName);
  const observer = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  const pool = createPostgresPool(databaseUrl(), { minConnections: 1, maxConnections: 1, postgres: sockets.options });
  const factory = pool.options.factory;
  try {
    const { sql: idle, pid } = await pool.use(async (sql) => {
      const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      return { sql, pid };
    }, { agentId: "a" });
    await observer`select pg_terminate_backend(${pid}, 5000)`;
    await eventually(() => factory.isBroken?.(idle) === true, "the driver sees the session end");
    assert.equal(await factory.validate!(idle, new AbortController().signal), false);
    assertSessionLost(await settle(idle`select 1`), "a statement on the idle connection");
    await sleep(100);
    assert.equal(await sessionsOf(observer, applicationName), 0, "a session of the idle connection was opened again");
    assert.equal(sockets.opened, 1);
    const next = await pool.use(async (sql) => {
      const [{ pid: now }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      return { same: sql === idle, pid: now };
    }, { agentId: "b" });
    assert.equal(next.same, false, "the dead connection was handed out");
    assert.notEqual(next.pid, pid);
    await eventually(() => pool.stats().destroyed === 1, "the dead connection is closed");
    assert.equal(pool.stats().total, 1);
    assert.equal(sockets.opened, 2);
  } finally {
    await pool.close();
    await observer.end({ timeout: 1 });
  }
});
