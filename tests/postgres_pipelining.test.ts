/**
 * The adapter's pipelining against a real PostgreSQL: BEGIN is handed to the connection with the
 * first statement, and COMMIT at once behind a returned last statement. A failing first statement
 * is still the statement's error, rolls back and leaves the same connection clean; statements the
 * callback started without awaiting run before COMMIT, in order, inside the transaction.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type TestDb, withDb } from "./postgres_support.ts";

/** One connection, so every lease of a test is on the same session. */
const ONE = { pool: { minConnections: 1, maxConnections: 1 } };

/**
 * The session after a lease: its pid and application_name (from a lease of its own), and whether
 * it sits idle outside a transaction (the server's own view, from the observer).
 */
async function sessionAfter(t: TestDb): Promise<{ pid: number; autocommit: boolean; name: string }> {
  const [row] = await t.db.query(
    (sql) => sql`select pg_backend_pid() as pid, current_setting('application_name') as name`,
    { agentId: "checker" },
  );
  const [seen] = await t.observer`select state from pg_stat_activity where pid = ${row.pid}`;
  return { pid: row.pid, autocommit: seen.state === "idle", name: row.name };
}

async function notesTable({ db, schema }: TestDb): Promise<void> {
  await db.query((sql) => sql.unsafe(`create table ${schema}.notes (n int not null, tx bigint default txid_current())`), { agentId: "setup" });
}

describe("adapter: pipelined BEGIN and COMMIT", () => {
  test("a failing first statement returned un-awaited: its own error, rolled back, the same session clean", async () => {
    await withDb(async (t) => {
      await notesTable(t);
      const before = await sessionAfter(t);
      const caught = await t.db.transaction((tx) => tx.unsafe(`insert into ${t.schema}.notes (n) values (null)`), { agentId: "w" })
        .catch((e: unknown) => e);
      assert.equal((caught as { code?: string }).code, "23502", "the statement's error, not the COMMIT's");
      const after = await sessionAfter(t);
      assert.equal(after.pid, before.pid, "the connection was kept, not discarded");
      assert.equal(after.autocommit, true, "no transaction left open");
      assert.equal(after.name, t.applicationName, "the transaction's application_name ended with it");
      assert.equal((await t.observer.unsafe(`select * from ${t.schema}.notes`)).length, 0);
      assert.equal(t.pool.stats().used, 0);
    }, ONE);
  });

  test("a failing first statement awaited inside the callback: the same outcome", async () => {
    await withDb(async (t) => {
      await notesTable(t);
      const before = await sessionAfter(t);
      const caught = await t.db.transaction(async (tx) => {
        await tx.unsafe(`insert into ${t.schema}.notes (n) values (null)`);
        return "unreached";
      }, { agentId: "w" }).catch((e: unknown) => e);
      assert.equal((caught as { code?: string }).code, "23502");
      const after = await sessionAfter(t);
      assert.equal(after.pid, before.pid);
      assert.equal(after.autocommit, true);
      assert.equal(after.name, t.applicationName);
      // The next transaction on that session works and commits.
      const [row] = await t.db.transaction((tx) => tx.unsafe(`insert into ${t.schema}.notes (n) values (1) returning n`), { agentId: "w" });
      assert.equal(row.n, 1);
      assert.equal((await t.observer.unsafe(`select * from ${t.schema}.notes`)).length, 1);
    }, ONE);
  });

  test("statements started without awaiting run before COMMIT, in order, in the same transaction", async () => {
    await withDb(async (t) => {
      await notesTable(t);
      const [row] = await t.db.transaction((tx) => {
        tx.unsafe(`insert into ${t.schema}.notes (n) values (1)`).execute();
        tx.unsafe(`insert into ${t.schema}.notes (n) values (2)`).execute();
        // Sees both rows only if they were written before it.
        return tx.unsafe(`insert into ${t.schema}.notes (n) select count(*) + 1 from ${t.schema}.notes returning n`);
      }, { agentId: "w" });
      assert.equal(row.n, 3);
      const rows = await t.observer.unsafe(`select n, tx from ${t.schema}.notes order by n`);
      assert.deepEqual(rows.map((r) => r.n), [1, 2, 3]);
      assert.equal(new Set(rows.map((r) => String(r.tx))).size, 1, "all three in one transaction");
      assert.equal((await sessionAfter(t)).autocommit, true);
    }, ONE);
  });

  test("a statement built but never run does not hold the returned one or COMMIT back", async () => {
    await withDb(async (t) => {
      await notesTable(t);
      const [row] = await t.db.transaction((tx) => {
        void tx.unsafe(`insert into ${t.schema}.notes (n) values (99)`); // never awaited: postgres.js never sends it
        return tx.unsafe(`insert into ${t.schema}.notes (n) values (1) returning n`);
      }, { agentId: "w" });
      assert.equal(row.n, 1);
      const rows = await t.observer.unsafe(`select n from ${t.schema}.notes`);
      assert.deepEqual(rows.map((r) => r.n), [1]);
      assert.equal((await sessionAfter(t)).autocommit, true);
    }, ONE);
  });

  test("a failing statement returned behind awaited ones: its error, nothing committed, the session clean", async () => {
    await withDb(async (t) => {
      await notesTable(t);
      const caught = await t.db.transaction(async (tx) => {
        await tx.unsafe(`insert into ${t.schema}.notes (n) values (1)`);
        tx.unsafe(`insert into ${t.schema}.notes (n) values (2)`).execute();
        return tx.unsafe(`insert into ${t.schema}.notes (n) values (null)`);
      }, { agentId: "w" }).catch((e: unknown) => e);
      assert.equal((caught as { code?: string }).code, "23502");
      assert.equal((await t.observer.unsafe(`select * from ${t.schema}.notes`)).length, 0);
      const after = await sessionAfter(t);
      assert.equal(after.autocommit, true);
      assert.equal(after.name, t.applicationName);
    }, ONE);
  });
});
