/**
 * Cancels reach only their own agent's query: `factory.cancel` sends postgres.js's CancelRequest
 * (the backend key of the lease's running query; no extra session), never for a query the lease
 * no longer runs. A hold policy `cancel` and an AbortSignal each stop their agent's query while a
 * neighbour in the same moment commits — on PostgreSQL directly and through PgBouncer in
 * transaction mode (which routes a CancelRequest by its client's key).
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import type { Sql } from "../src/postgres/connection_state.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { PooledDatabaseAdapter } from "../src/postgres/adapter.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { type PgBouncer, startPgBouncer } from "./support/pgbouncer.ts";
import { requireTool } from "./support/tools.ts";
import { eventually, within } from "./support/faults.ts";

let admin: postgres.Sql;
const table = uniqueName("cancel_rows");

before(async () => {
  admin = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create table ${table} (agent text)`);
});

after(async () => {
  await admin.unsafe(`drop table if exists ${table}`);
  await admin.end();
});

const committed = async (agent: string): Promise<number> =>
  (await admin.unsafe<{ n: number }[]>(`select count(*)::int as n from ${table} where agent = $1`, [agent]))[0].n;

/** How many server sessions carry `applicationName` (the factory opens no session to cancel). */
const sessions = async (applicationName: string): Promise<number> =>
  (await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where application_name like ${applicationName + "%"}`)[0].n;

test("factory.cancel cancels the lease's running query, resolves once delivered, opens no session", async () => {
  const applicationName = uniqueName("cancel");
  const factory = postgresFactory(databaseUrl(), { applicationName, onnotice: () => {} });
  const sql = await factory.create(new AbortController().signal);
  try {
    const running = sql`select pg_sleep(30)`.then(() => "finished", (e: { code?: string }) => e.code);
    await eventually(async () => (await admin`select 1 from pg_stat_activity where application_name = ${applicationName} and state = 'active'`).length === 1, "the sleep runs");
    await within(factory.cancel!(sql) as Promise<void>, 5000, "cancel delivered");
    assert.equal(await within(running, 5000, "the cancelled query"), "57014");
    assert.equal(await sessions(applicationName), 1, "no second session was opened to cancel");
  } finally {
    await factory.destroy(sql);
  }
});

test("a cancel after the lease ended targets nothing: the next lease's query runs to the end", async () => {
  const factory = postgresFactory(databaseUrl(), { onnotice: () => {} });
  const pool = new AsyncConnectionPool<Sql>({ factory, minConnections: 1, maxConnections: 1 });
  try {
    const handle = await pool.acquire({ agentId: "finished" });
    const conn = handle.connection;
    await conn`select 1`;
    await handle.release(); // its queries are done and forgotten
    // A cancel aimed at "finished", arriving after its release: nothing of that lease is left to
    // cancel, so nothing is sent (the core also waits for a cancel before handing a connection on).
    await factory.cancel!(conn);
    const rows = await pool.use((sql) => sql`select pg_sleep(0.3), 'done' as status`, { agentId: "next" });
    assert.equal(rows[0].status, "done", "the later query was not cancelled");
  } finally {
    await pool.close();
  }
});

const NEIGHBOUR_TRANSACTIONS = 20;

/** Agent "slow" runs a long statement; "neighbour" commits at the same moment; only slow's stops. */
async function slowAndNeighbour(url: string, how: "hold policy" | "signal", options: { prepare?: boolean } = {}): Promise<void> {
  const applicationName = uniqueName("cancelpair");
  const pool = new AsyncConnectionPool<Sql>({
    factory: postgresFactory(url, { applicationName, onnotice: () => {}, ...options }),
    minConnections: 2,
    maxConnections: 2,
    // The housekeeper runs every 100 ms here (a quarter of the hold policy's threshold).
    holdPolicy: how === "hold policy" ? { maxHoldMs: 400, action: "cancel" } : undefined,
  });
  const db = new PooledDatabaseAdapter(pool);
  const controller = new AbortController();
  try {
    const slow = db.transaction(async (tx) => {
      await tx.unsafe(`insert into ${table} values ('slow')`);
      await tx`select pg_sleep(20)`;
    }, { agentId: "slow", signal: how === "signal" ? controller.signal : undefined, maxRetries: 0 }).then(() => "finished", (e: unknown) => e);
    // The neighbour commits short transactions (each far below maxHoldMs) all through the moment
    // the cancel goes out.
    const neighbour = (async () => {
      for (let i = 0; i < NEIGHBOUR_TRANSACTIONS; i++) {
        await db.transaction(async (tx) => {
          await tx.unsafe(`insert into ${table} values ('neighbour')`);
          await tx`select pg_sleep(0.04)`;
        }, { agentId: "neighbour", maxRetries: 0 });
      }
      return "committed";
    })();
    if (how === "signal") setTimeout(() => controller.abort(new Error("stop slow")), 300);
    const outcome = await within(slow, 15_000, "slow's transaction");
    if (how === "signal") assert.equal((outcome as Error).message, "stop slow");
    else assert.equal((outcome as { code?: string }).code, "57014", "slow's statement was cancelled");
    assert.equal(await within(neighbour, 15_000, "neighbour's transaction"), "committed");
    assert.equal(await committed("neighbour"), NEIGHBOUR_TRANSACTIONS, "every neighbour transaction committed");
    assert.equal(await committed("slow"), 0, "slow's transaction rolled back");
  } finally {
    await pool.close();
    await admin.unsafe(`delete from ${table}`);
  }
}

describe("only their own agent's query is cancelled while a neighbour commits", () => {
  test("PostgreSQL, hold policy 'cancel'", () => slowAndNeighbour(databaseUrl(), "hold policy"));
  test("PostgreSQL, AbortSignal", () => slowAndNeighbour(databaseUrl(), "signal"));

  requireTool("pgbouncer").describe("through PgBouncer in transaction mode", () => {
    let bouncer: PgBouncer;
    before(async () => {
      bouncer = await startPgBouncer({ upstreamUrl: databaseUrl(), poolSize: 2 });
    });
    after(async () => {
      await bouncer.stop();
    });
    test("hold policy 'cancel'", () => slowAndNeighbour(bouncer.url, "hold policy", { prepare: false }));
    test("AbortSignal", () => slowAndNeighbour(bouncer.url, "signal", { prepare: false }));
  });
});
