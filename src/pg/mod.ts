/**
 * agentpool for node-postgres (`pg`), the driver every TypeScript agent framework speaks:
 * `Pool` is usable wherever a `pg.Pool` is expected (LangGraph's PostgresSaver, Mastra's
 * PostgresStore, Kysely's PostgresDialect, Drizzle's node-postgres driver) and is an agentpool
 * underneath; `pgFactory` pools real `pg.Client`s under any {@linkcode AsyncConnectionPool}.
 *
 * @example
 * ```ts
 * import { Pool, withAgent } from "agentpool/pg";
 * const pool = new Pool({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres", max: 20 });
 * await withAgent("planner-1", () => pool.query("select 1 as one"));
 * console.log(pool.agents());
 * await pool.end();
 * ```
 *
 * @module
 */

export { Pool, type ConnectCallback, type QueryCallback } from "./pool.ts";
export { PoolForAgent } from "./agent_view.ts";
export { PoolClient } from "./client.ts";
export { type PgPoolConfig, type AgentpoolOptions } from "./config.ts";
export { pgFactory, type PgFactoryOptions, type PgClientClass } from "./factory.ts";
export { isFatalPgError } from "./errors.ts";
export { currentAgentId, withAgent } from "./agent_context.ts";
