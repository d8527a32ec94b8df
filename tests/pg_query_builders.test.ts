/**
 * Kysely's PostgresDialect and Drizzle's node-postgres driver on the pg facade, against a real
 * PostgreSQL: queries, and transactions that commit and that roll back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Kysely, PostgresDialect, sql } from "kysely";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { eq } from "drizzle-orm";
import { Pool, withAgent } from "../src/pg/mod.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

test("Kysely PostgresDialect: a transaction that commits, one that rolls back, destroy() of a view", async () => {
  const table = uniqueName("ky_notes");
  const pool = new Pool({ connectionString: databaseUrl(), max: 4 });
  type Db = { [key: string]: { id: number; body: string } };
  const db = new Kysely<Db>({ dialect: new PostgresDialect({ pool: pool.forAgent("kysely") }) });
  try {
    await sql`create table ${sql.table(table)} (id int primary key, body text not null)`.execute(db);
    await db.transaction().execute(async (trx) => {
      await trx.insertInto(table).values({ id: 1, body: "kept" }).execute();
    });
    const failure = await db.transaction().execute(async (trx) => {
      await trx.insertInto(table).values({ id: 2, body: "undone" }).execute();
      throw new Error("roll it back");
    }).catch((e: Error) => e);
    assert.equal(failure.message, "roll it back");
    const rows = await db.selectFrom(table).select(["id", "body"]).orderBy("id").execute();
    assert.deepEqual(rows, [{ id: 1, body: "kept" }]);
    const isolated = await db.transaction().setIsolationLevel("serializable").execute((trx) =>
      sql<{ level: string }>`select current_setting('transaction_isolation') as level`.execute(trx)
    );
    assert.equal(isolated.rows[0].level, "serializable");
    assert.ok((pool.agents().find((a) => a.agentId === "kysely")?.acquired ?? 0) >= 4);
    await db.destroy(); // ends the view only
    assert.equal(pool.ending, false);
  } finally {
    await pool.query(`drop table if exists ${table}`);
    await pool.end();
  }
});

test("Drizzle node-postgres: detects the facade as a pool; a transaction commits, tx.rollback() rolls back, config-object queries", async () => {
  const name = uniqueName("dz_notes");
  const notes = pgTable(name, { id: integer("id").primaryKey(), body: text("body").notNull() });
  const pool = new Pool({ connectionString: databaseUrl(), max: 4 });
  const db = drizzle({ client: pool });
  try {
    await pool.query(`create table ${name} (id int primary key, body text not null)`);
    await withAgent("drizzle-writer", async () => {
      await db.transaction(async (tx) => {
        await tx.insert(notes).values({ id: 1, body: "kept" });
      });
      await db.transaction(async (tx) => {
        await tx.insert(notes).values({ id: 2, body: "undone" });
        tx.rollback();
      }).catch(() => {});
      // Nested transactions become savepoints on the same client.
      await db.transaction(async (tx) => {
        await tx.insert(notes).values({ id: 3, body: "outer" });
        await tx.transaction(async (inner) => {
          await inner.insert(notes).values({ id: 4, body: "inner, rolled back" });
          inner.rollback();
        }).catch(() => {});
      });
    });
    const rows = await db.select().from(notes).orderBy(notes.id);
    assert.deepEqual(rows, [{ id: 1, body: "kept" }, { id: 3, body: "outer" }]);
    const one = await db.select({ body: notes.body }).from(notes).where(eq(notes.id, 3));
    assert.deepEqual(one, [{ body: "outer" }]);
    assert.ok((pool.agents().find((a) => a.agentId === "drizzle-writer")?.acquired ?? 0) >= 3);
    assert.equal(pool.stats().used, 0);
  } finally {
    await pool.query(`drop table if exists ${name}`);
    await pool.end();
  }
});
