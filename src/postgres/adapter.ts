/**
 * PooledDatabaseAdapter: agent-aware transactions and queries on a pool of postgres.js
 * connections. BEGIN travels with the first statement and, when the callback hands back its last
 * statement, COMMIT travels with it too, so a one-statement transaction costs one round trip.
 *
 * @module
 */

import type postgres from "postgres";
import type { AsyncConnectionPool } from "../core/pool.ts";
import type { PooledConnection } from "../core/handle.ts";
import { type ConnectionState, markDiscard, type Sql, stateOf } from "./connection_state.ts";
import { rawSql } from "./tracked_sql.ts";
import { SessionLostError, TransactionRolledBackError } from "./errors.ts";
import { checkInteger, invalidOption } from "../core/checks.ts";
import { isRetryableError, retryDelay } from "./retry.ts";
import { TaggedBegins } from "../session/application_name.ts";
import { type QuerySql, Scope, type TransactionSql, withRollbackError } from "./scope.ts";
import { type OpenTransaction, TransactionTracker } from "./tracker.ts";
import { followQuery, outcome, QueryFailure, sendNow } from "./driver_internals.ts";
import {
  type AdapterOptions,
  beginStatement,
  type QueryOptions,
  type StatementTag,
  type TransactionOptions,
} from "./transaction_options.ts";

export type { AdapterOptions, IsolationLevel, QueryOptions, StatementTag, TransactionOptions } from "./transaction_options.ts";

// deno-lint-ignore no-explicit-any
type AnyQuery = postgres.PendingQuery<any>;

/** Rejects with `signal.reason` as soon as it aborts; otherwise follows `value`. */
function raceAbort<T>(value: T | PromiseLike<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.resolve(value).then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** SQLSTATE of a statement refused because its transaction is already aborted. */
const IN_FAILED_TRANSACTION = "25P02";

/**
 * The error an attempt fails with: a statement refused only because BEGIN (or its tag) failed
 * before it ("current transaction is aborted") is reported as BEGIN's own failure, the cause.
 */
function beginCause(scope: Scope, error: unknown): unknown {
  const begin = scope.beginFailure;
  if (begin === null || error === begin.error) return error;
  return isServerError(error) && (error as { code?: unknown }).code === IN_FAILED_TRANSACTION ? begin.error : error;
}

/** postgres.js server errors end a transaction cleanly; anything else leaves the session in doubt. */
function isServerError(error: unknown): boolean {
  return error instanceof Error && error.name === "PostgresError";
}

/**
 * Throws unless COMMIT's answer `done` shows the transaction committed on the session that began
 * it; on success the session's transaction is over.
 */
function checkCommitted(
  done: postgres.RowList<postgres.Row[]> | QueryFailure,
  scope: Scope,
  state: ConnectionState,
  agentId: string,
  connectionId: number,
): void {
  if (done instanceof QueryFailure) throw done.error;
  state.session.transactionEnded();
  // BEGIN was answered before COMMIT: a failed BEGIN is the attempt's error.
  if (scope.beginFailure !== null) throw scope.beginFailure.error;
  if (state.keyPid !== 0 && done.state.pid !== state.keyPid) throw new SessionLostError(agentId, connectionId);
  if (done.command !== "COMMIT") throw new TransactionRolledBackError(agentId);
}

/**
 * Transactions and queries on an {@linkcode AsyncConnectionPool} of postgres.js connections
 * (see `postgresFactory`), each one acquired for an agent and always released.
 *
 * - `transaction(fn, options)`: BEGIN (isolation, read only), COMMIT on success, ROLLBACK on any
 *   throw and the original error rethrown (a failed ROLLBACK is attached as `error.rollbackError`).
 *   Serialization failures (40001) and deadlocks (40P01) are retried with jittered exponential
 *   backoff, `maxRetries` times (default 3). `tx.savepoint(fn)` nests.
 * - `query(fn, options)`: work without a transaction; `sql(options)` a one-statement tag.
 * - An `AbortSignal` cancels the running query; the session is then discarded (the server rolls
 *   back), so a late cancel request can never hit the next agent's query.
 * - Open transactions are tracked per agent (`openTransactions()`); those open longer than
 *   `slowTransactionMs` are reported once through `onSlowTransaction`.
 *
 * @example
 * ```ts
 * import { createPostgresPool, PooledDatabaseAdapter } from "agentpool";
 * const pool = createPostgresPool("postgres://postgres@127.0.0.1:5432/postgres", { maxConnections: 20 });
 * const db = new PooledDatabaseAdapter(pool);
 * const [row] = await db.transaction(async (tx) => {
 *   await tx`create temp table if not exists notes (body text)`;
 *   return tx`insert into notes values (${"hello"}) returning body`;
 * }, { agentId: "planner-1" });
 * await pool.close();
 * ```
 */
export class PooledDatabaseAdapter {
  readonly #pool: AsyncConnectionPool<Sql>;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #tracker: TransactionTracker;
  readonly #tagTransactions: boolean;
  /** Tagged BEGIN texts by plain BEGIN text, base name and agent. */
  readonly #taggedBegins = new TaggedBegins();

  /** Wraps `pool`; validates `options` (TypeError / RangeError naming the option). */
  constructor(pool: AsyncConnectionPool<Sql>, options: AdapterOptions = {}) {
    if (typeof pool?.acquire !== "function") invalidOption("type", "create adapter", "pool", "an AsyncConnectionPool", pool);
    const what = "create adapter";
    this.#pool = pool;
    this.#maxRetries = checkInteger(what, "maxRetries", options.maxRetries ?? 3);
    this.#retryBaseMs = checkInteger(what, "retryBaseMs", options.retryBaseMs ?? 5);
    this.#retryMaxMs = checkInteger(what, "retryMaxMs", options.retryMaxMs ?? 250);
    this.#tracker = new TransactionTracker(options);
    const tag = options.tagTransactions ?? true;
    if (typeof tag !== "boolean") invalidOption("type", what, "tagTransactions", "a boolean", tag);
    this.#tagTransactions = tag;
  }

  /** The pool this adapter draws from. */
  get pool(): AsyncConnectionPool<Sql> {
    return this.#pool;
  }

  /** Transactions currently open, oldest first, with their agent and age. */
  openTransactions(): OpenTransaction[] {
    return this.#tracker.snapshot();
  }

  /**
   * Runs `fn` in a transaction for `options.agentId` and returns its result. Returning the last
   * statement un-awaited (`(tx) => tx\`...\``) lets COMMIT share its round trip.
   *
   * @example
   * ```ts
   * import type { PooledDatabaseAdapter } from "agentpool";
   * declare const adapter: PooledDatabaseAdapter;
   * const moved = await adapter.transaction(async (tx) => {
   *   await tx`update accounts set balance = balance - ${10} where id = ${1}`;
   *   return tx`update accounts set balance = balance + ${10} where id = ${2} returning balance`;
   * }, { agentId: "treasurer", isolation: "serializable" });
   * ```
   */
  async transaction<R>(fn: (tx: TransactionSql) => R | Promise<R>, options?: TransactionOptions): Promise<Awaited<R>> {
    if (typeof fn !== "function") invalidOption("type", "run transaction", "fn", "a function", fn);
    const what = "run transaction";
    const signal = options?.signal;
    const beginText = beginStatement(options);
    const maxRetries = options?.maxRetries === undefined ? this.#maxRetries : checkInteger(what, "maxRetries", options.maxRetries);
    // #acquire, inlined: the transaction path is the hot one, and this saves an async hop per call.
    let handle = await this.#pool.acquire({ agentId: options?.agentId, signal, timeoutMs: options?.timeoutMs });
    if (stateOf(handle.connection).broken) handle = await this.#replace(handle, options);
    const lease = handle;
    const agentId = lease.agentId;
    const conn = rawSql(lease.connection); // the scope records the user's statements itself
    const state = stateOf(conn);
    const base = this.#tagTransactions ? state.session.baseline("application_name") : undefined;
    const begin = base === undefined ? beginText : this.#taggedBegins.text(beginText, base, agentId);
    const open = this.#tracker.opened(agentId, lease.id, state.pid || undefined);
    try {
      for (let attempt = 0;; attempt++) {
        // One run of the transaction, inlined here for the same reason as #acquire.
        const scope = new Scope(conn, state, agentId, lease.id, begin, signal !== undefined);
        // COMMIT's result or failure, once it was sent (it never rejects).
        let committed: Promise<postgres.RowList<postgres.Row[]> | QueryFailure> | null = null;
        try {
          signal?.throwIfAborted();
          // Only the callback runs as the lease (the parent of acquires made inside it, for
          // nested-acquire detection); what follows here is the adapter's own.
          const value = this.#pool.withLease(lease, () => fn(scope.sql));
          let pending: unknown;
          if (value === scope.last && value !== null && !state.broken) {
            // The callback handed back its last statement un-awaited: COMMIT rides along.
            committed = this.#commitWith(conn, scope, value as AnyQuery);
            pending = followQuery(value as AnyQuery);
          } else {
            pending = Array.isArray(value) ? Promise.all(value) : value;
          }
          const result = (await (signal === undefined ? pending : raceAbort(pending, signal))) as Awaited<R>;
          scope.closed = true;
          if (scope.begin !== null) {
            // A COMMIT sent to an ended session would reconnect and "commit" nothing.
            if (committed === null && state.broken) throw new SessionLostError(agentId, lease.id);
            if (committed === null) {
              const commit = conn.unsafe("commit");
              // Every statement of the scope was handed over: COMMIT can go now; else after them.
              if (scope.unsent === 0) sendNow(commit);
              else commit.execute();
              committed = outcome(commit);
            }
            checkCommitted(await committed, scope, state, agentId, lease.id);
          }
          return result;
        } catch (error) {
          scope.closed = true;
          let failure: unknown;
          if (signal?.aborted) {
            await scope.cancelAll();
            if (scope.count > 0) markDiscard(state); // the server rolls back when the session ends
            failure = signal.reason;
          } else {
            failure = await this.#rollback(conn, state, scope, committed, beginCause(scope, error));
          }
          if (attempt >= maxRetries || !isRetryableError(failure) || signal?.aborted) throw failure;
          await retryDelay(attempt, this.#retryBaseMs, this.#retryMaxMs, signal);
        }
      }
    } finally {
      this.#tracker.closed(open);
      await lease.release();
    }
  }

  /**
   * Writes `last` (the callback's returned, last statement) and COMMIT behind it; returns
   * COMMIT's outcome. Should that statement fail, the server turns this COMMIT into a ROLLBACK.
   */
  #commitWith(conn: Sql, scope: Scope, last: AnyQuery): Promise<postgres.RowList<postgres.Row[]> | QueryFailure> {
    scope.closed = true;
    scope.skipBeginWait(last);
    const commit = conn.unsafe("commit");
    if (scope.unsent === 0 || (scope.unsent === 1 && !(last as { executed?: boolean }).executed)) {
      // Nothing else of the scope is waiting to be handed over: write both now, in order.
      sendNow(last);
      sendNow(commit);
    } else {
      last.execute(); // postgres.js hands them over a microtask later, in this order
      commit.execute();
    }
    return outcome(commit);
  }

  /**
   * A connection held for `options.agentId` (without one, the pool takes the call tree's:
   * withAgent / an outer use(), else "default"). One whose session ended while idle (the pool
   * discards it on release) is swapped for another: postgres.js would silently reconnect it
   * behind our back.
   */
  async #acquire(options: { agentId?: string; signal?: AbortSignal; timeoutMs?: number } | undefined): Promise<PooledConnection<Sql>> {
    const handle = await this.#pool.acquire({ agentId: options?.agentId, signal: options?.signal, timeoutMs: options?.timeoutMs });
    return stateOf(handle.connection).broken ? this.#replace(handle, options) : handle;
  }

  /** Swaps a handle whose session ended while idle for another (see `#acquire`). */
  async #replace(
    first: PooledConnection<Sql>,
    options: { signal?: AbortSignal; timeoutMs?: number } | undefined,
  ): Promise<PooledConnection<Sql>> {
    const signal = options?.signal;
    const timeoutMs = options?.timeoutMs;
    let handle = first;
    for (let tries = 1; tries < 3 && stateOf(handle.connection).broken; tries++) {
      const agentId = handle.agentId; // the same agent as the first acquire resolved
      await handle.release();
      handle = await this.#pool.acquire({ agentId, signal, timeoutMs });
    }
    return handle;
  }

  /** Ends a failed attempt; returns the error to throw. */
  async #rollback(
    conn: Sql,
    state: ConnectionState,
    scope: Scope,
    committed: Promise<unknown> | null,
    error: unknown,
  ): Promise<unknown> {
    if (scope.begin === null) return error; // nothing was sent
    if (committed !== null) {
      // A COMMIT was sent: whatever it answered, the transaction is over unless the session broke.
      const done = await committed;
      const failure = done instanceof QueryFailure ? done.error : null;
      if (failure !== null && !isServerError(failure)) markDiscard(state);
      else state.session.transactionEnded();
      return error;
    }
    if (state.broken) return error; // the session is gone, and its transaction with it
    try {
      await conn.unsafe("rollback");
      state.session.transactionEnded();
      return error;
    } catch (rollbackError) {
      markDiscard(state);
      return withRollbackError(error, rollbackError);
    }
  }

  /**
   * Runs `fn` without a transaction on one connection held for the agent (each statement commits
   * on its own). Also accepts `(options, fn)`.
   *
   * @example
   * ```ts
   * import type { PooledDatabaseAdapter } from "agentpool";
   * declare const adapter: PooledDatabaseAdapter;
   * const [{ now }] = await adapter.query((sql) => sql`select now()`, { agentId: "scout-3" });
   * ```
   */
  query<R>(fn: (sql: QuerySql) => R | Promise<R>, options?: QueryOptions): Promise<Awaited<R>>;
  /** Same, options first. */
  query<R>(options: QueryOptions, fn: (sql: QuerySql) => R | Promise<R>): Promise<Awaited<R>>;
  async query<R>(
    a: QueryOptions | ((sql: QuerySql) => R | Promise<R>),
    b?: QueryOptions | ((sql: QuerySql) => R | Promise<R>),
  ): Promise<Awaited<R>> {
    const [fn, options] = (typeof a === "function" ? [a, b] : [b, a]) as [(sql: QuerySql) => R, QueryOptions?];
    if (typeof fn !== "function") invalidOption("type", "run query", "fn", "a function", fn);
    const signal = options?.signal;
    const handle = await this.#acquire(options);
    const agentId = handle.agentId;
    // The scope records what `fn` runs: a BEGIN it left open is rolled back on release.
    const conn = rawSql(handle.connection);
    const state = stateOf(conn);
    const scope = new Scope(conn, state, agentId, handle.id, null, signal !== undefined);
    try {
      signal?.throwIfAborted();
      const value = this.#pool.withLease(handle, () => fn(scope.sql));
      const pending = Array.isArray(value) ? Promise.all(value) : value;
      return (await (signal === undefined ? pending : raceAbort(pending, signal))) as Awaited<R>;
    } catch (error) {
      if (!signal?.aborted) throw error;
      scope.closed = true;
      await scope.cancelAll();
      if (scope.count > 0) markDiscard(state);
      throw signal.reason;
    } finally {
      scope.closed = true;
      await handle.release();
    }
  }

  /**
   * A tagged template bound to an agent: each call runs one statement on a pooled connection.
   * Values are always sent as parameters. For helpers and fragments use `query` or `transaction`.
   *
   * @example
   * ```ts
   * import type { PooledDatabaseAdapter } from "agentpool";
   * declare const adapter: PooledDatabaseAdapter;
   * const sql = adapter.sql({ agentId: "scout-3" });
   * const rows = await sql`select * from tasks where status = ${"pending"} limit ${10}`;
   * ```
   */
  sql(options?: QueryOptions): StatementTag {
    return ((strings: TemplateStringsArray, ...values: unknown[]) => this.#statement(strings, values, options)) as StatementTag;
  }

  async #statement(strings: TemplateStringsArray, values: unknown[], options?: QueryOptions): Promise<postgres.RowList<postgres.Row[]>> {
    const signal = options?.signal;
    const handle = await this.#acquire(options);
    const conn = handle.connection;
    const state = stateOf(conn);
    try {
      signal?.throwIfAborted();
      const query = conn(strings, ...(values as postgres.ParameterOrFragment<never>[]));
      const onAbort = (): void => void query.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        return await query;
      } catch (error) {
        if (signal?.aborted) {
          markDiscard(state);
          throw signal.reason;
        }
        throw error;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    } finally {
      await handle.release();
    }
  }
}
