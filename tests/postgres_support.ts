/**
 * Shared set-up of the PostgreSQL-layer tests (tests/postgres_*.test.ts): a pool, an adapter and
 * an observer connection on a schema of their own, all closed and dropped at the end.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { AsyncConnectionPool } from "../src/core/pool.ts";
import { PooledDatabaseAdapter } from "../src/postgres/adapter.ts";
import type { AdapterOptions } from "../src/postgres/adapter.ts";
import type { Sql } from "../src/postgres/connection_state.ts";
import { createPostgresPool, type PostgresPoolOptions } from "../src/postgres/create_pool.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

/** What a test body gets. */
export interface TestDb {
  pool: AsyncConnectionPool<Sql>;
  db: PooledDatabaseAdapter;
  /** A unique schema, created empty, dropped afterwards. */
  schema: string;
  /** A plain postgres.js connection outside the pool, for looking at the server. */
  observer: postgres.Sql;
  /** `application_name` of the pool's sessions. */
  applicationName: string;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until true; fails naming `what` after `attempts` tries (20 ms apart). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await sleep(20);
  }
  assert.fail(`never happened: ${what}`);
}

/**
 * Runs `body` with a fresh pool + adapter on its own schema; afterwards checks no connection is
 * still held, drops the schema and closes everything (also on failure).
 */
export async function withDb(
  body: (t: TestDb) => Promise<void>,
  options: { pool?: PostgresPoolOptions; adapter?: AdapterOptions } = {},
): Promise<void> {
  const schema = uniqueName("pgt");
  const applicationName = uniqueName("app");
  const observer = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  await observer.unsafe(`create schema ${schema}`);
  const pool = createPostgresPool(databaseUrl(), {
    minConnections: 1,
    maxConnections: 5,
    overflow: 0,
    acquireTimeoutMs: 20_000,
    ...options.pool,
    postgres: { applicationName, onnotice: () => {}, ...options.pool?.postgres },
  });
  const db = new PooledDatabaseAdapter(pool, options.adapter);
  try {
    await body({ pool, db, schema, observer, applicationName });
    assert.equal(pool.stats().used, 0, "a connection is still held after the test");
  } finally {
    await pool.close();
    await observer.unsafe(`drop schema if exists ${schema} cascade`);
    await observer.end();
  }
}
