/**
 * The database `npm test` points the runtimes at: `DATABASE_URL`, or a temporary embedded
 * PostgreSQL 18 started here and removed afterwards.
 *
 * @module
 */
import postgres from "postgres";
import { maskUrl } from "../../tests/support/db.ts";
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from "../../src/cli/embedded_postgres.ts";

/** The database the tests run against. */
export interface TestDatabase {
  url: string;
  /** What to print: source and URL with the password masked. */
  label: string;
  /** Data directory of an embedded server (for last-resort cleanup on exit). */
  dataDir: string | undefined;
  /** Stop and remove an embedded server; no-op for DATABASE_URL. */
  stop(): Promise<void>;
}

/** Use `DATABASE_URL` if set, else start an embedded server with `max_connections=200`. */
export async function provideDatabase(env: Record<string, string | undefined>): Promise<TestDatabase> {
  const url = env.DATABASE_URL?.trim();
  if (url) {
    return { url, label: `DATABASE_URL ${maskUrl(url)}`, dataDir: undefined, stop: () => Promise.resolve() };
  }
  const server: EmbeddedPostgresServer = await startEmbeddedPostgres({ persistent: false, maxConnections: 200 });
  return {
    url: server.url,
    label: `embedded PostgreSQL ${maskUrl(server.url)} (data in ${server.dataDir})`,
    dataDir: server.dataDir,
    stop: () => server.remove(),
  };
}

/**
 * Connect once and return `server_version` and `max_connections`.
 *
 * @throws {Error} naming the masked URL when the database cannot be reached.
 */
export async function probeDatabase(url: string): Promise<{ version: string; maxConnections: number }> {
  const sql = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    const [row] = await sql<{ version: string; max_connections: string }[]>`
      select current_setting('server_version') as version, current_setting('max_connections') as max_connections`;
    return { version: row!.version, maxConnections: Number(row!.max_connections) };
  } catch (error) {
    throw new Error(`Cannot connect to ${maskUrl(url)}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
