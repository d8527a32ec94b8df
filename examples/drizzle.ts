/**
 * Drizzle through agentpool: the node-postgres driver takes the pg-compatible `Pool` (it is
 * recognised as a pool, so each transaction gets its own client), `withAgent` attributes it.
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx examples/drizzle.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { Pool, withAgent } from "../src/pg/mod.ts"; // in an app: from "agentpool/pg"

/** A transaction that commits and one that rolls back; returns the notes that stayed. */
export async function main(connectionString: string, table = "drizzle_example"): Promise<string[]> {
  const notes = pgTable(table, { id: integer("id").primaryKey(), note: text("note").notNull() });
  const pool = new Pool({ connectionString, max: 10 });
  const db = drizzle({ client: pool });
  try {
    await pool.query(`create table if not exists ${table} (id int primary key, note text not null)`);
    await withAgent("writer", async () => {
      await db.transaction((tx) => tx.insert(notes).values({ id: 1, note: "committed" }));
      await db.transaction(async (tx) => {
        await tx.insert(notes).values({ id: 2, note: "rolled back" });
        tx.rollback();
      }).catch(() => {});
    });
    const rows = await db.select().from(notes).orderBy(notes.id);
    await pool.query(`drop table ${table}`);
    return rows.map((r) => r.note);
  } finally {
    await pool.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await main(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"));
}
