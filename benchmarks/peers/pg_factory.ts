/**
 * The postgres.js driver the end-to-end suite pools: `postgresFactory` from src/postgres when it
 * exists, else a tiny stand-in with the same shape (one `postgres({ max: 1 })` per connection,
 * connected eagerly, no reset).
 *
 * @module
 */

import postgres from "postgres";
import type { ConnectionFactory } from "../../mod.ts";

export type Sql = postgres.Sql;

/** A factory plus where it came from, for the report. */
export interface DriverFactory {
  factory: ConnectionFactory<Sql>;
  source: "src/postgres/factory.ts" | "benchmarks/peers/pg_factory.ts";
}

/** Imports a project module that may not exist yet; `undefined` when it does not. */
export async function importIfPresent<M>(relativeToRepo: string): Promise<M | undefined> {
  const url = new URL(`../../${relativeToRepo}`, import.meta.url).href;
  try {
    return (await import(url)) as M;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = String((error as Error)?.message ?? error);
    if (code === "ERR_MODULE_NOT_FOUND" || /Cannot find module|Module not found|not found/i.test(message)) return undefined;
    throw error;
  }
}

function localFactory(url: string): ConnectionFactory<Sql> {
  return {
    async create(): Promise<Sql> {
      const sql = postgres(url, { max: 1, idle_timeout: 0, max_lifetime: null, onnotice: () => {} });
      await sql`select 1`;
      return sql;
    },
    destroy: (sql) => sql.end({ timeout: 1 }),
  };
}

/** `postgresFactory(url)` when src/postgres/factory.ts is there, else the local stand-in. */
export async function driverFactory(url: string): Promise<DriverFactory> {
  const mod = await importIfPresent<{ postgresFactory(url: string): ConnectionFactory<Sql> }>("src/postgres/factory.ts");
  if (mod?.postgresFactory !== undefined) return { factory: mod.postgresFactory(url), source: "src/postgres/factory.ts" };
  return { factory: localFactory(url), source: "benchmarks/peers/pg_factory.ts" };
}
