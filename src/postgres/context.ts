/**
 * Where a repository call runs: for an agent on a fresh pooled transaction, or inside a
 * transaction the caller already holds (so several repository calls commit together).
 *
 * @module
 */

import type postgres from "postgres";
import type { PooledDatabaseAdapter, QueryOptions } from "./adapter.ts";
import type { QuerySql, TransactionSql } from "./scope.ts";

/**
 * Who runs a repository call: an agent id, query options with an agent id, or an open
 * transaction (`tx` from `adapter.transaction`) to join.
 *
 * @example
 * ```ts
 * import type { Repository } from "agentpool";
 * type Note = { id: string; agent: string; body: string; version: number };
 * declare const notes: Repository<Note>;
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * declare const id: string;
 * declare const signal: AbortSignal;
 * await notes.get("planner-1", id);                                  // own transaction
 * await notes.get({ agentId: "planner-1", signal }, id);             // cancellable
 * await adapter.transaction((tx) => notes.get(tx, id), { agentId: "planner-1" }); // joined
 * ```
 */
export type DbContext = string | QueryOptions | QuerySql | TransactionSql;

/** Statements built by repositories repeat: let postgres.js prepare them once per connection. */
const PREPARED: postgres.UnsafeQueryOptions = Object.freeze({ prepare: true });

function options(context: DbContext): QueryOptions {
  if (typeof context === "string") return { agentId: context };
  if (typeof context === "object" && context !== null) return context as QueryOptions;
  throw new TypeError(`Cannot run repository call as the context must be an agent id, options or a transaction: current value is ${String(context)}`);
}

/**
 * The agent a context belongs to.
 *
 * @example
 * ```ts
 * agentOf("planner-1"); // "planner-1"
 * agentOf({ agentId: "critic-2" }); // "critic-2"
 * ```
 */
export function agentOf(context: DbContext): string {
  if (typeof context === "function") return context.agentId;
  return options(context).agentId ?? "default";
}

/**
 * Runs one statement. Outside a transaction it gets its own, with BEGIN and COMMIT written in the
 * same round trip as the statement.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * const rows = await runStatement(adapter, "scout-1", "select $1::int as n", [1]);
 * ```
 */
export function runStatement<R extends object = Record<string, unknown>>(
  adapter: PooledDatabaseAdapter,
  context: DbContext,
  text: string,
  parameters: unknown[],
): Promise<R[]> {
  if (typeof context === "function") return context.unsafe(text, parameters as never[], PREPARED) as unknown as Promise<R[]>;
  return adapter.transaction(
    (tx) => tx.unsafe(text, parameters as never[], PREPARED),
    options(context),
  ) as unknown as Promise<R[]>;
}

/**
 * Runs `fn` in the caller's transaction, or in a new one for the agent.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * await runTransaction(adapter, "planner-1", async (tx) => {
 *   await exec(tx, "select 1", []);
 * });
 * ```
 */
export function runTransaction<R>(
  adapter: PooledDatabaseAdapter,
  context: DbContext,
  fn: (tx: QuerySql) => Promise<R>,
): Promise<R> {
  if (typeof context === "function") return fn(context);
  return adapter.transaction(fn, options(context)) as Promise<R>;
}

/**
 * Runs a prepared statement on `tx`.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * await adapter.transaction((tx) => exec(tx, "select $1::text as s", ["x"]), { agentId: "a" });
 * ```
 */
export function exec<R extends object = Record<string, unknown>>(tx: QuerySql, text: string, parameters: unknown[]): Promise<R[]> {
  return tx.unsafe(text, parameters as never[], PREPARED) as unknown as Promise<R[]>;
}
