/**
 * Kysely through agentpool: `PostgresDialect` takes the pg-compatible `Pool` (here a view bound to
 * one agent, whose `destroy()` leaves the shared pool open).
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx examples/kysely.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import { Kysely, PostgresDialect, sql } from "kysely";
import { Pool } from "../src/pg/mod.ts"; // in an app: from "agentpool/pg"

interface Database {
  [table: string]: { id: number; note: string };
}

/** A transaction that commits and one that rolls back; returns the notes that stayed. */
export async function main(connectionString: string, table = "kysely_example"): Promise<string[]> {
  const pool = new Pool({ connectionString, max: 10 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pool.forAgent("reporter") }) });
  try {
    await sql`create table if not exists ${sql.table(table)} (id int primary key, note text)`.execute(db);
    await db.transaction().execute((trx) => trx.insertInto(table).values({ id: 1, note: "committed" }).execute());
    await db.transaction().execute(async (trx) => {
      await trx.insertInto(table).values({ id: 2, note: "rolled back" }).execute();
      throw new Error("undo");
    }).catch(() => {});
    const rows = await db.selectFrom(table).select("note").orderBy("id").execute();
    await sql`drop table ${sql.table(table)}`.execute(db);
    return rows.map((r) => r.note);
  } finally {
    await db.destroy(); // ends the view only
    await pool.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await main(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"));
}
