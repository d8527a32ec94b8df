/**
 * The PostgreSQL layer: the postgres.js driver for the pool, agent-aware transactions, and
 * repositories for agent coordination. The only part of agentpool that imports `postgres`.
 *
 * @example
 * ```ts
 * import { createPostgresPool, PooledDatabaseAdapter, TaskRepository } from "agentpool";
 * const pool = createPostgresPool("postgres://postgres@127.0.0.1:5432/postgres");
 * const db = new PooledDatabaseAdapter(pool);
 * const tasks = new TaskRepository(db, { schema: "crew" });
 * await tasks.migrate();
 * await pool.close();
 * ```
 *
 * @module
 */

export { isFatalPostgresError, postgresFactory, type PostgresFactoryOptions } from "./factory.ts";
export { createPostgresPool, type PostgresPoolOptions } from "./create_pool.ts";
export { backendPid, type Sql } from "./connection_state.ts";
export {
  type AdapterOptions,
  type IsolationLevel,
  PooledDatabaseAdapter,
  type QueryOptions,
  type StatementTag,
  type TransactionOptions,
} from "./adapter.ts";
export type { QuerySql, TransactionSql } from "./scope.ts";
export type { OpenTransaction, TransactionTrackerOptions } from "./tracker.ts";
export { isRetryableError, RETRYABLE_SQLSTATES } from "./retry.ts";
export { type PoolerLimit, poolerLimitOf } from "./pooler_refusal.ts";
export {
  DatabaseConnectionError,
  PoolerCapacityError,
  ScopeClosedError,
  SessionLostError,
  StaleVersionError,
  type TaskErrorCode,
  TaskStateError,
  TransactionRolledBackError,
} from "./errors.ts";
export type { DbContext } from "./context.ts";
export type { Condition, Filter, OrderBy } from "./filters.ts";
export { quoteIdentifier } from "./identifiers.ts";
export { type AnyRow, type ListOptions, Repository, type TableDefinition, type VersionOptions } from "./repository.ts";
export { migrate, type MigrateOptions, type MigrateResult, type Migration } from "./migrations.ts";
export { TASK_MIGRATIONS } from "./task_schema.ts";
export {
  type Artifact,
  type ClaimFilter,
  type NewTask,
  type ParentProgress,
  type Task,
  type TaskEvent,
  TaskRepository,
  type TaskRepositoryOptions,
  type TaskStatus,
} from "./tasks.ts";
export { BUDGET_MIGRATIONS } from "./budget_schema.ts";
export { postgresBudgetStore, PostgresBudgetStore, type PostgresBudgetStoreOptions } from "./budget_store.ts";
