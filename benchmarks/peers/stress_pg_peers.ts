/**
 * The pg-based peers of `agentpool stress`'s comparison phase (src/cli/stress_compare.ts loads this
 * file when it is present; only src/pg/ and the benchmarks may import `pg`):
 *
 * - `pg-pool`: `new pg.Pool({ max: cap })`, `client.query()` for BEGIN, each statement, COMMIT;
 * - `agentpool-pg`: agentpool's pg-compatible `Pool` from `src/pg/mod.ts` (issue 12), driven the
 *   same way; skipped until that module exists.
 *
 * @module
 */

// @ts-ignore: pg ships no types and @types/pg is not a devDependency (Deno resolves it untyped); PgPoolLike below is the part used.
import pgModule from "pg";
import type { ComparisonOptions, ComparisonPool, Query, SkippedPeer } from "../../src/cli/stress_compare.ts";
import { importIfPresent } from "./pg_factory.ts";

interface PgClientLike {
  query(text: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  release(error?: unknown): void;
}
interface PgPoolLike {
  connect(): Promise<PgClientLike>;
  end(): Promise<void>;
}
type PgPoolClass = new (options: { connectionString: string; max: number; application_name?: string }) => PgPoolLike;

const pg = pgModule as { Pool: PgPoolClass };

/** BEGIN, `fn`'s statements, COMMIT on one checked-out client (ROLLBACK and a discarded client on error). */
function pgStyle(name: string, config: string, pool: PgPoolLike): ComparisonPool {
  return {
    name,
    config,
    async transaction(_agentId, readOnly, fn, started, released) {
      const client = await pool.connect();
      started();
      try {
        await client.query(readOnly ? "begin read only" : "begin");
        const q: Query = async (text, params) => (await client.query(text, params)).rows;
        await fn(q);
        await client.query("commit");
      } catch (error) {
        await client.query("rollback").catch(() => {});
        released();
        client.release(error);
        throw error;
      }
      // Reported first: release() hands the client to a waiter, whose code runs a few microtasks later.
      released();
      client.release();
    },
    close: () => pool.end(),
  };
}

/**
 * Opens `name` (`pg-pool` or `agentpool-pg`) with `o.cap` connections.
 *
 * @example
 * ```ts
 * import type { ComparisonOptions } from "../../src/cli/stress_compare.ts";
 * declare const options: ComparisonOptions;
 * const pool = await open("pg-pool", options);
 * ```
 */
export async function open(name: string, o: ComparisonOptions): Promise<ComparisonPool | SkippedPeer> {
  const options = { connectionString: o.url, max: o.cap, application_name: o.applicationName };
  if (name === "pg-pool") return pgStyle(name, `pg.Pool({ max: ${o.cap} }); client.query() for begin, statements, commit`, new pg.Pool(options));
  if (name === "agentpool-pg") {
    const mod = await importIfPresent<{ Pool?: PgPoolClass }>("src/pg/mod.ts");
    if (mod?.Pool === undefined) return { name, skipped: "agentpool's pg Pool (src/pg/mod.ts, issue 12) has not landed" };
    return pgStyle(name, `agentpool/pg Pool({ max: ${o.cap} }); client.query() for begin, statements, commit`, new mod.Pool(options));
  }
  return { name, skipped: `unknown peer ${JSON.stringify(name)}` };
}
