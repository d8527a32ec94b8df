/**
 * Options of the adapter and of one transaction or query, and their checks. Bad values throw
 * TypeError / RangeError naming the option and the value.
 *
 * @module
 */

import type postgres from "postgres";
import type { TransactionTrackerOptions } from "./tracker.ts";
import { invalidOption } from "../core/checks.ts";

/**
 * A transaction isolation level.
 *
 * @example
 * ```ts
 * import type { IsolationLevel, PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * const level: IsolationLevel = "serializable";
 * await adapter.transaction((tx) => tx`select 1`, { agentId: "a", isolation: level });
 * ```
 */
export type IsolationLevel = "read uncommitted" | "read committed" | "repeatable read" | "serializable";

const ISOLATION_LEVELS: readonly IsolationLevel[] = ["read uncommitted", "read committed", "repeatable read", "serializable"];

/**
 * Options of {@linkcode PooledDatabaseAdapter}.
 *
 * @example
 * ```ts
 * import { createPostgresPool, PooledDatabaseAdapter } from "agentpool";
 * const pool = createPostgresPool("postgres://postgres@127.0.0.1:5432/postgres");
 * const adapter = new PooledDatabaseAdapter(pool, {
 *   maxRetries: 5,
 *   slowTransactionMs: 2000,
 *   onSlowTransaction: (t) => console.warn(`agent ${t.agentId} holds a transaction for ${t.durationMs} ms`),
 * });
 * ```
 */
export interface AdapterOptions extends TransactionTrackerOptions {
  /** Retries of a transaction failing with SQLSTATE 40001 or 40P01. Default 3 (so at most 4 runs). */
  maxRetries?: number;
  /** Ceiling of the first retry delay; doubles per retry, full jitter. Default 5. */
  retryBaseMs?: number;
  /** Longest retry delay. Default 250. */
  retryMaxMs?: number;
  /**
   * Each transaction shows its agent in `application_name` (`<application name>:<agentId>`,
   * `SET LOCAL` sent with BEGIN, so it ends with the transaction). Default `true`.
   */
  tagTransactions?: boolean;
}

/**
 * Who runs the work and how it may be cancelled.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * await adapter.query((sql) => sql`select 1`, { agentId: "critic-2", signal: AbortSignal.timeout(5000) });
 * ```
 */
export interface QueryOptions {
  /** The agent doing the work. Default `"default"`. */
  agentId?: string;
  /** Aborting cancels the running query (and rolls back); the call rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Overrides the pool's `acquireTimeoutMs` for this call. */
  timeoutMs?: number;
}

/**
 * Options of one transaction.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * await adapter.transaction((tx) => tx`select 1`, { agentId: "a", isolation: "serializable", readOnly: true });
 * ```
 */
export interface TransactionOptions extends QueryOptions {
  /** Isolation level. Default: the server's (`read committed`). */
  isolation?: IsolationLevel;
  /** `READ ONLY` transaction. Default false. */
  readOnly?: boolean;
  /** `DEFERRABLE` (only meaningful for serializable read-only transactions). Default false. */
  deferrable?: boolean;
  /** Overrides the adapter's `maxRetries` for this transaction. */
  maxRetries?: number;
}

/**
 * A tagged template that runs one statement on a pooled connection for one agent.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter, StatementTag } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * const sql: StatementTag = adapter.sql({ agentId: "scout-1" });
 * const rows = await sql`select ${1}::int as one`;
 * ```
 */
export type StatementTag = <T extends readonly object[] = postgres.Row[]>(
  strings: TemplateStringsArray,
  ...values: postgres.ParameterOrJSON<never>[]
) => Promise<postgres.RowList<T>>;

/**
 * The BEGIN statement for `options`, from a fixed vocabulary only.
 *
 * @example
 * ```ts
 * beginStatement({ isolation: "serializable", readOnly: true }); // "begin isolation level serializable read only"
 * ```
 */
export function beginStatement(options: TransactionOptions | undefined): string {
  if (options === undefined) return "begin";
  const what = "run transaction";
  let text = "begin";
  const { isolation, readOnly, deferrable } = options;
  if (isolation !== undefined) {
    if (!ISOLATION_LEVELS.includes(isolation)) invalidOption("range", what, "isolation", `one of ${ISOLATION_LEVELS.join(", ")}`, isolation);
    text += ` isolation level ${isolation}`;
  }
  if (readOnly !== undefined && typeof readOnly !== "boolean") invalidOption("type", what, "readOnly", "a boolean", readOnly);
  if (deferrable !== undefined && typeof deferrable !== "boolean") invalidOption("type", what, "deferrable", "a boolean", deferrable);
  if (readOnly) text += " read only";
  if (deferrable) text += " deferrable";
  return text;
}
