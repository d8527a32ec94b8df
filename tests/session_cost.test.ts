/**
 * A clean lease costs nothing: the statements postgres.js sends are counted at the driver (its
 * `debug` hook sees every statement written), and a clean release adds none — no ROLLBACK, no
 * reset, no round trip. A dirty lease adds exactly one reset string, sent with the next statement.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import type { Sql } from "../src/postgres/connection_state.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { PooledDatabaseAdapter } from "../src/postgres/adapter.ts";
import { databaseUrl } from "./support/db.ts";

async function counted(body: (pool: AsyncConnectionPool<Sql>, db: PooledDatabaseAdapter) => Promise<void>, sent: string[]): Promise<void> {
  const factory = postgresFactory(databaseUrl(), {
    onnotice: () => {},
    debug: (_connection: number, query: string) => void sent.push(query),
  });
  const pool = new AsyncConnectionPool<Sql>({ factory, minConnections: 1, maxConnections: 1 });
  try {
    await pool.use((sql) => sql`select 1`, { agentId: "warm-up" });
    sent.length = 0;
    await body(pool, new PooledDatabaseAdapter(pool));
  } finally {
    await pool.close();
  }
}

test("clean leases send only their own statements", async () => {
  const sent: string[] = [];
  await counted(async (pool, db) => {
    for (let i = 0; i < 5; i++) {
      await pool.use((sql) => sql`select ${i}::int as i`, { agentId: `agent-${i}` });
      await db.query((sql) => sql`select now()`, { agentId: `agent-${i}` });
    }
    await db.transaction((tx) => tx`select 1`, { agentId: "tx-agent" });
  }, sent);
  assert.equal(sent.filter((s) => /rollback|reset|discard|unlisten|deallocate/i.test(s)).length, 0, sent.join("\n"));
  // 10 user statements, then BEGIN (+ the agent's application_name, same message), the statement, COMMIT.
  assert.equal(sent.length, 13, sent.join("\n"));
  assert.match(sent[10], /^begin; set local application_name = E'[^']*:tx-agent'$/);
});

test("a dirty lease adds one reset string, sent before the next lease's statement", async () => {
  const sent: string[] = [];
  await counted(async (pool) => {
    await pool.use(async (sql) => {
      await sql`set statement_timeout = 1000`;
      await sql`select pg_advisory_lock(99)`;
    }, { agentId: "dirty" });
    await pool.use((sql) => sql`select 2`, { agentId: "next" });
  }, sent);
  assert.deepEqual(sent.slice(2), ["reset all; select pg_catalog.pg_advisory_unlock_all()", "select 2"]);
});

test("tagTransactions: false sends BEGIN alone", async () => {
  const sent: string[] = [];
  await counted(async (pool) => {
    await new PooledDatabaseAdapter(pool, { tagTransactions: false }).transaction((tx) => tx`select 1`, { agentId: "quiet" });
    assert.throws(() => new PooledDatabaseAdapter(pool, { tagTransactions: "yes" as never }), /'tagTransactions' must be a boolean/);
  }, sent);
  assert.deepEqual(sent, ["begin", "select 1", "commit"]);
});
