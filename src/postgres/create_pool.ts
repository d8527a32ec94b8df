/**
 * One call from a connection URL to a ready pool of postgres.js connections.
 *
 * @module
 */

import { AsyncConnectionPool } from "../core/pool.ts";
import type { PoolOptions } from "../core/options.ts";
import type { Sql } from "./connection_state.ts";
import { postgresFactory, type PostgresFactoryOptions } from "./factory.ts";

/**
 * Options of {@linkcode createPostgresPool}: the pool's options plus the driver's.
 *
 * @example
 * ```ts
 * const options: PostgresPoolOptions = { maxConnections: 20, overflow: 10, postgres: { prepare: false } };
 * ```
 */
export interface PostgresPoolOptions extends Omit<PoolOptions<Sql>, "factory"> {
  /** Driver options passed to {@linkcode postgresFactory}. */
  postgres?: PostgresFactoryOptions;
}

/**
 * An {@linkcode AsyncConnectionPool} of postgres.js connections (`postgresFactory` underneath).
 *
 * @example
 * ```ts
 * import { createPostgresPool } from "agentpool";
 * const pool = createPostgresPool("postgres://postgres@127.0.0.1:5432/postgres", { maxConnections: 20 });
 * const [{ one }] = await pool.use((sql) => sql`select 1 as one`, { agentId: "planner-1" });
 * await pool.close();
 * ```
 */
export function createPostgresPool(
  urlOrOptions: string | PostgresFactoryOptions,
  options: PostgresPoolOptions = {},
): AsyncConnectionPool<Sql> {
  const { postgres, ...poolOptions } = options;
  return new AsyncConnectionPool<Sql>({ ...poolOptions, factory: postgresFactory(urlOrOptions, postgres) });
}
