/**
 * Errors raised by the PostgreSQL layer. They extend the core `PoolError`, so one
 * `instanceof PoolError` check and a switch on the stable `code` covers pool and database layer.
 *
 * @module
 */

import { PoolError } from "../core/errors.ts";
import type { PoolerLimit } from "./pooler_refusal.ts";

/**
 * Opening a connection failed. The message names host, port and database only: never the user's
 * password or connection string, whatever the driver put in its own message.
 *
 * @example
 * ```ts
 * import { postgresFactory, DatabaseConnectionError } from "agentpool";
 * // DATABASE_URL may carry a password: the error never shows it.
 * const factory = postgresFactory({ host: "127.0.0.1", port: 1, database: "db", user: "app", password: "secret" });
 * await factory.create(AbortSignal.timeout(1000)).catch((e) => e instanceof DatabaseConnectionError);
 * ```
 */
export class DatabaseConnectionError extends PoolError {
  /** Host(s) the connection was opened to. */
  readonly host: string;
  /** Port(s) the connection was opened to. */
  readonly port: string;
  /** Database name. */
  readonly database: string;
  /** The driver's or the server's code, e.g. `ECONNREFUSED`, `CONNECT_TIMEOUT`, `28P01`. */
  readonly driverCode: string | undefined;

  /** Created by the factory only. */
  constructor(host: string, port: string, database: string, driverCode: string | undefined, detail: string, code = "CONNECTION_FAILED") {
    super(code, `Cannot connect to PostgreSQL at ${host}:${port}/${database}: ${detail}`);
    this.name = "DatabaseConnectionError";
    this.host = host;
    this.port = port;
    this.database = database;
    this.driverCode = driverCode;
  }
}

/**
 * A pooler in front of PostgreSQL (PgBouncer) refused the connection because it is at a capacity
 * limit: `max_client_conn` clients already, or `query_wait_timeout` passed waiting for a server
 * connection. Code `POOLER_CAPACITY`. The database is not down: the factory retries a refused
 * connect for a second (backoff) before the create fails with this error, and the pool keeps the
 * connections it has (docs/deployment.md, "Failure modes"). Still a {@linkcode DatabaseConnectionError}.
 *
 * @example
 * ```ts
 * import { PoolerCapacityError } from "agentpool";
 * declare const error: unknown; // e.g. the `cause` of an acquire that timed out
 * if (error instanceof PoolerCapacityError) console.warn(`raise PgBouncer's ${error.limit} or lower the pools' caps`);
 * ```
 */
export class PoolerCapacityError extends DatabaseConnectionError {
  /** The PgBouncer limit that refused the client. */
  readonly limit: PoolerLimit;

  /** Created by the factory only. */
  constructor(host: string, port: string, database: string, limit: PoolerLimit, detail: string) {
    super(host, port, database, "08P01", `${detail} (the pooler is at its capacity limit '${limit}'; the database is not down)`, "POOLER_CAPACITY");
    this.name = "PoolerCapacityError";
    this.limit = limit;
  }
}

/**
 * A transaction could not commit: the server rolled it back (`COMMIT` answered `ROLLBACK`)
 * because a statement inside failed and the callback swallowed that error.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * import { TransactionRolledBackError } from "agentpool";
 * await adapter.transaction(async (tx) => {
 *   await tx`select 1/0`.catch(() => {}); // swallowed, but the transaction is now aborted
 * }, { agentId: "a" }).catch((e) => e instanceof TransactionRolledBackError); // true
 * ```
 */
export class TransactionRolledBackError extends PoolError {
  /** Created by the adapter only. */
  constructor(agentId: string) {
    super(
      "TRANSACTION_ROLLED_BACK",
      `The transaction of agent '${agentId}' was rolled back by the server: a statement in it failed`,
    );
    this.name = "TransactionRolledBackError";
  }
}

/**
 * The session running a transaction ended (server restart, `pg_terminate_backend`, network)
 * before COMMIT: the server rolled the transaction back. Safe to run again.
 *
 * Also what every statement issued on a pooled `sql` after its session ended rejects with
 * (`pool.use((sql) => ...)`, an acquired handle's `connection`): postgres.js would run it on a
 * new session, without the role, settings, temporary tables or transaction the lease had set up.
 * Such a statement was never sent; the pool closes the connection when it is released.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * declare const work: Parameters<PooledDatabaseAdapter["transaction"]>[0];
 * import { SessionLostError } from "agentpool";
 * await adapter.transaction(work, { agentId: "a" }).catch((e) => {
 *   if (e instanceof SessionLostError) return adapter.transaction(work, { agentId: "a" });
 *   throw e;
 * });
 * ```
 */
export class SessionLostError extends PoolError {
  /** The server process id of the session that ended, when the factory refused a statement. */
  readonly backendPid: number | undefined;

  /** By the adapter: the transaction's agent and pooled connection. */
  constructor(agentId: string, connectionId: number);
  /** By the factory: a statement issued after the session with this backend pid ended. */
  constructor(ended: { backendPid: number });
  /** Created by the adapter and the factory only. */
  constructor(agentIdOrEnded: string | { backendPid: number }, connectionId?: number) {
    super(
      "SESSION_LOST",
      typeof agentIdOrEnded === "string"
        ? `The session of connection ${connectionId} ended during a transaction of agent '${agentIdOrEnded}': it was rolled back`
        : `The session of this pooled connection (backend pid ${agentIdOrEnded.backendPid}) has ended: the statement was not sent, ` +
          "and none will be on this connection (postgres.js would open a new session without what this lease set up); " +
          "release it, the pool closes it",
    );
    this.name = "SessionLostError";
    this.backendPid = typeof agentIdOrEnded === "string" ? undefined : agentIdOrEnded.backendPid;
  }
}

/**
 * A transaction- or query-scoped `sql` was used after its scope ended (a query must never leak
 * onto a connection that another agent now holds).
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * import { ScopeClosedError } from "agentpool";
 * const saved = await adapter.transaction((tx) => tx, { agentId: "a" }); // the scope ends here
 * try { saved`select 1`; } catch (e) { console.log(e instanceof ScopeClosedError); } // true
 * ```
 */
export class ScopeClosedError extends PoolError {
  /** Created by the adapter only. */
  constructor(agentId: string) {
    super("SCOPE_CLOSED", `A query was issued on a finished transaction or query scope of agent '${agentId}'`);
    this.name = "ScopeClosedError";
  }
}

/**
 * An optimistic update or delete found another version (or no row): nothing was changed.
 *
 * @example
 * ```ts
 * import type { Repository } from "agentpool";
 * type Note = { id: string; agent: string; body: string; version: number };
 * declare const notes: Repository<Note>;
 * declare const id: string;
 * import { StaleVersionError } from "agentpool";
 * await notes.update({ agentId: "a" }, id, { body: "x" }, { expectedVersion: 1 })
 *   .catch((e) => e instanceof StaleVersionError && e.code === "STALE_VERSION");
 * ```
 */
export class StaleVersionError extends PoolError {
  /** The version the caller expected. */
  readonly expectedVersion: number;
  /** The version in the database, or `undefined` when the row does not exist. */
  readonly actualVersion: number | undefined;

  /** Created by repositories only. */
  constructor(table: string, id: unknown, expectedVersion: number, actualVersion: number | undefined) {
    super(
      actualVersion === undefined ? "NOT_FOUND" : "STALE_VERSION",
      actualVersion === undefined
        ? `Cannot change ${table} row ${JSON.stringify(id)}: it does not exist`
        : `Cannot change ${table} row ${JSON.stringify(id)}: expected version ${expectedVersion}, found ${actualVersion}`,
    );
    this.name = "StaleVersionError";
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/**
 * Stable codes of {@linkcode TaskStateError}.
 *
 * @example
 * ```ts
 * const code: TaskErrorCode = "TASK_NOT_HELD";
 * ```
 */
export type TaskErrorCode =
  /** No task has that id. */
  | "TASK_NOT_FOUND"
  /** The calling agent does not hold the task's lease (never claimed, expired, or someone else's). */
  | "TASK_NOT_HELD"
  /** The task already finished (completed or failed) and cannot change again. */
  | "TASK_ALREADY_FINISHED"
  /** A dependency or parent refers to a task that does not exist, or would form a cycle. */
  | "TASK_INVALID_DEPENDENCY";

/**
 * An invalid task transition, e.g. completing a task the agent does not hold, or completing it
 * twice. Nothing was changed.
 *
 * @example
 * ```ts
 * import type { TaskRepository } from "agentpool";
 * declare const tasks: TaskRepository;
 * declare const id: string;
 * import { TaskStateError } from "agentpool";
 * await tasks.complete("agent-2", id, { ok: true })
 *   .catch((e) => e instanceof TaskStateError && e.code === "TASK_NOT_HELD");
 * ```
 */
export class TaskStateError extends PoolError {
  /** The task concerned. */
  readonly taskId: string;
  /** The agent that attempted the transition. */
  readonly agentId: string;

  /** Created by the task repository only. */
  constructor(code: TaskErrorCode, taskId: string, agentId: string, message: string) {
    super(code, message);
    this.name = "TaskStateError";
    this.taskId = taskId;
    this.agentId = agentId;
  }
}
