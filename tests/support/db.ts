/**
 * Database helpers for tests. Runs on Node (tsx), Deno and Bun.
 *
 * `npm test` starts one PostgreSQL and passes it as `DATABASE_URL`; tests that stop or
 * restart a database start their own with {@linkcode startEmbeddedPostgres}.
 *
 * @module
 */
import process from "node:process";

export {
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresServer,
  startEmbeddedPostgres,
  type StopOptions,
  withEmbeddedPostgres,
} from "./embedded_postgres.ts";
export { freePort } from "./free_port.ts";

/**
 * The shared test database URL from `DATABASE_URL`.
 *
 * @throws {Error} when `DATABASE_URL` is not set, saying how to run the tests.
 */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url.trim() === "") {
    throw new Error(
      "DATABASE_URL is not set. Run the tests with `npm test` (it starts an embedded PostgreSQL), " +
        "or set DATABASE_URL=postgres://user:password@host:port/database.",
    );
  }
  return url;
}

let counter = 0;

/**
 * A fresh lower-case SQL identifier for a per-test schema or table, e.g. `tasks_m1x2k9_7f3a_1`.
 * Unique across processes (time + random part) and within one (counter); at most 63 bytes.
 *
 * @throws {TypeError} when `prefix` is not a lower-case identifier of at most 40 characters.
 */
export function uniqueName(prefix = "t"): string {
  if (!/^[a-z_][a-z0-9_]{0,39}$/.test(prefix)) {
    throw new TypeError(
      `Cannot make a unique name as 'prefix' must match /^[a-z_][a-z0-9_]{0,39}$/: current value is ${
        JSON.stringify(prefix)
      }`,
    );
  }
  const random = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, "0");
  return `${prefix}_${Date.now().toString(36)}_${random}_${++counter}`;
}

/** `url` with its password replaced by `***`, safe to print. Unparseable input is fully masked. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable database URL>";
  }
}
