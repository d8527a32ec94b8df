/**
 * agentpool: an agent-aware async connection pool for PostgreSQL, one source for Node, Deno and
 * Bun. The pool knows at every moment which agent holds which connection and who is waiting.
 *
 * @example
 * ```ts
 * import { createPostgresPool } from "agentpool";
 * const pool = createPostgresPool("postgres://postgres@127.0.0.1:5432/postgres", { maxConnections: 20 });
 * const rows = await pool.use((sql) => sql`select 1 as one`, { agentId: "planner-1" });
 * console.log(rows, pool.agents());
 * await pool.close();
 * ```
 *
 * @module
 */

export * from "./src/core/mod.ts";
export * from "./src/context/mod.ts";
export * from "./src/postgres/mod.ts";
