/**
 * The `sql` an adapter callback receives: a postgres.js tagged template bound to one leased
 * connection, which (in a transaction) writes `BEGIN` lazily together with the first statement,
 * and which refuses every query once its scope ended, so nothing can leak onto a connection that
 * another agent holds by then.
 *
 * @module
 */

import type postgres from "postgres";
import { type ConnectionState, isSocketError, markBroken, type Sql } from "./connection_state.ts";
import { ScopeClosedError, SessionLostError } from "./errors.ts";
import { noteExecuted, noteFileText } from "./tracked_sql.ts";
import { ignoreRejection, isRunning, onExecute, onReject, QueryFailure, sendNow, settleAfter, stopWaiting } from "./driver_internals.ts";

/** The longest an aborted call waits for its cancel requests to be delivered. */
const CANCEL_WAIT_MS = 2000;

/**
 * A postgres.js `sql` scoped to one agent's lease (from `adapter.query`): tagged templates,
 * `unsafe`, `json`, `array` and the other helpers, but no `begin`/`end`.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter, QuerySql } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * await adapter.query(async (sql: QuerySql) => {
 *   console.log(sql.agentId, await sql`select 1 as one`);
 * }, { agentId: "planner-1" });
 * ```
 */
export interface QuerySql extends postgres.ISql {
  /** The agent this scope runs for. */
  readonly agentId: string;
  /** The pooled connection's id (as in `pool.connections()`). */
  readonly connectionId: number;
}

/**
 * The `tx` of `adapter.transaction`: a {@linkcode QuerySql} inside one transaction, with nested
 * transactions as savepoints.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter, TransactionSql } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * await adapter.transaction(async (tx: TransactionSql) => {
 *   await tx`insert into notes (body) values (${"kept"})`;
 *   await tx.savepoint(async (sp) => {
 *     await sp`insert into notes (body) values (${"undone"})`;
 *     throw new Error("rolls back to the savepoint only");
 *   }).catch(() => {});
 * }, { agentId: "planner-1" });
 * ```
 */
export interface TransactionSql extends QuerySql {
  /** Runs `fn` inside `SAVEPOINT`; `ROLLBACK TO SAVEPOINT` when it throws (the error is rethrown), `RELEASE` otherwise. */
  savepoint<T>(fn: (tx: TransactionSql) => T | Promise<T>): Promise<Awaited<T>>;
  /** Alias of {@linkcode TransactionSql.savepoint}: a nested transaction. */
  transaction<T>(fn: (tx: TransactionSql) => T | Promise<T>): Promise<Awaited<T>>;
}

// deno-lint-ignore no-explicit-any
type AnyQuery = postgres.PendingQuery<any>;

/** The scope behind a callable (a symbol property: the callable is a bound function). */
const SCOPE = Symbol("agentpool.scope");
/**
 * A transaction query's rejection hook: a socket error marks the connection broken at once.
 * postgres.js fires its close event only later (on Deno, seconds after an EPIPE), and a statement
 * written in between would otherwise hang forever or, after a reconnect, run outside the
 * transaction.
 */
function markIfSocketError(error: unknown, state: ConnectionState): void {
  if (isSocketError(error)) markBroken(state);
}

interface ScopedCallable {
  [SCOPE]: Scope;
}

function ignore(): void {}

/** BEGIN failed: the scope keeps the error for COMMIT / ROLLBACK, a dead socket marks the connection. */
function beginFailed(error: unknown, scope: Scope): void {
  scope.beginFailure = new QueryFailure(error);
  markIfSocketError(error, scope.state);
}

/** A scope's query was handed to the connection: the bookkeeping reads it, the scope counts it. */
function scopeExecuted(query: AnyQuery, scope: Scope): void {
  scope.unsent--;
  noteExecuted(query, scope.state);
}

/** The callable part of a scope: tagged templates issue queries, other calls make helpers. */
function invoke(this: Scope, first: unknown, ...rest: unknown[]): unknown {
  const conn = this.conn as unknown as (...args: unknown[]) => unknown;
  if (first !== null && typeof first === "object" && Array.isArray((first as TemplateStringsArray).raw)) {
    return this.issue(conn(first, ...rest) as AnyQuery);
  }
  return conn(first, ...rest); // a helper (identifier, values list): no query yet
}

/**
 * Methods shared by every scoped `sql` through its prototype: one bound function per scope, no
 * closures. `invoke` itself carries this prototype, so `invoke.bind(scope)` creates the scoped
 * function with it (a bound function takes its target's prototype): no `Object.setPrototypeOf`
 * per scope, which costs V8 a prototype change on a fresh function each transaction.
 */
const SCOPE_PROTOTYPE: object = Object.create(Function.prototype, {
  agentId: { get(this: ScopedCallable) { return this[SCOPE].agentId; } },
  connectionId: { get(this: ScopedCallable) { return this[SCOPE].connectionId; } },
  types: { get(this: ScopedCallable) { return this[SCOPE].conn.types; } },
  typed: { get(this: ScopedCallable) { return this[SCOPE].conn.typed; } },
  json: { value(this: ScopedCallable, value: postgres.JSONValue) { return this[SCOPE].conn.json(value); } },
  array: {
    value(this: ScopedCallable, value: never[], type?: number) {
      return this[SCOPE].conn.array(value, type);
    },
  },
  unsafe: {
    value(this: ScopedCallable, query: string, parameters?: never[], options?: postgres.UnsafeQueryOptions) {
      const scope = this[SCOPE];
      return scope.issue(scope.conn.unsafe(query, parameters, options));
    },
  },
  file: {
    value(this: ScopedCallable, ...args: unknown[]) {
      const scope = this[SCOPE];
      return scope.issue(noteFileText((scope.conn.file as (...a: unknown[]) => AnyQuery)(...args), scope.state));
    },
  },
  notify: {
    value(this: ScopedCallable, channel: string, payload: string) {
      return this[SCOPE].sql`select pg_notify(${channel}, ${String(payload)})`;
    },
  },
  savepoint: {
    value(this: ScopedCallable, fn: (tx: TransactionSql) => unknown) {
      return this[SCOPE].savepoint(fn);
    },
  },
  transaction: {
    value(this: ScopedCallable, fn: (tx: TransactionSql) => unknown) {
      return this[SCOPE].savepoint(fn);
    },
  },
});
Object.setPrototypeOf(invoke, SCOPE_PROTOTYPE);

/**
 * Attaches a failed ROLLBACK to the error being thrown, so neither is lost.
 *
 * @example
 * ```ts
 * const error = withRollbackError(new Error("work failed"), new Error("rollback failed"));
 * console.log((error as { rollbackError?: unknown }).rollbackError);
 * ```
 */
export function withRollbackError(error: unknown, rollbackError: unknown): unknown {
  if (typeof error === "object" && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, "rollbackError", { value: rollbackError, configurable: true, writable: true });
    return error;
  }
  return new AggregateError([error, rollbackError], "The transaction failed and its ROLLBACK failed too", {
    cause: error,
  });
}

/**
 * One lease's query scope. Created per transaction attempt or per `adapter.query` call.
 *
 * @example
 * ```ts
 * import type { Sql } from "agentpool";
 * import { stateOf } from "./connection_state.ts";
 * declare const sql: Sql;
 * const scope = new Scope(sql, stateOf(sql), "planner-1", 1, "begin", false);
 * await scope.sql`select 1`; // sends BEGIN with it
 * ```
 */
export class Scope {
  /** The callable handed to the user. */
  readonly sql: TransactionSql;
  /** The leased connection. */
  readonly conn: Sql;
  /** The agent it runs for. */
  readonly agentId: string;
  /** The pooled connection's id. */
  readonly connectionId: number;
  /** The pending `BEGIN`, once the first statement was issued (transactions only). */
  begin: AnyQuery | null = null;
  /** BEGIN's failure, set the moment postgres.js fails it (before any later query settles). */
  beginFailure: QueryFailure | null = null;
  /**
   * Issued queries not yet handed to the connection (postgres.js hands a query over a microtask
   * after it is first awaited or executed, and never one nobody runs). At 0 the adapter may write
   * COMMIT at once: nothing of the scope can be written after it.
   */
  unsent = 0;
  /** The most recently issued query: a callback returning it lets COMMIT ride along. */
  last: unknown = null;
  /** Queries issued so far (only kept when the scope can be cancelled). */
  readonly issued: AnyQuery[] | null;
  /** Number of queries issued. */
  count = 0;
  /** True once the scope ended: every further query throws {@linkcode ScopeClosedError}. */
  closed = false;
  /** The factory's facts about the connection. */
  readonly state: ConnectionState;
  readonly #beginText: string | null;
  #savepoints = 0;

  /** `beginText` null = autocommit scope (adapter.query). */
  constructor(
    conn: Sql,
    state: ConnectionState,
    agentId: string,
    connectionId: number,
    beginText: string | null,
    cancellable: boolean,
  ) {
    this.conn = conn;
    this.state = state;
    this.agentId = agentId;
    this.connectionId = connectionId;
    this.#beginText = beginText;
    this.issued = cancellable ? [] : null;
    const callable = invoke.bind(this) as unknown as ScopedCallable; // its prototype is SCOPE_PROTOTYPE
    callable[SCOPE] = this;
    this.sql = callable as unknown as TransactionSql;
  }

  /**
   * The adapter awaits `query` and then checks BEGIN itself (COMMIT rides along): skip the
   * first statement's wait for BEGIN, which costs four promises.
   */
  skipBeginWait(query: unknown): void {
    stopWaiting(query);
  }

  /**
   * Cancels the issued queries still running; resolves once the cancel requests were delivered
   * (at most `CANCEL_WAIT_MS`), so the caller closes the session only after they left: behind
   * PgBouncer a cancel for a client that already left is dropped.
   */
  async cancelAll(): Promise<void> {
    // Only running queries: a never-run fragment would reject with nobody listening, and
    // postgres.js's cancel of a finished query would wait for it forever.
    const cancels = (this.issued ?? []).filter(isRunning).map((query) => query.cancel());
    if (cancels.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(cancels).catch(ignore),
      new Promise<void>((resolve) => void (timer = setTimeout(resolve, CANCEL_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  /** Registers a query made through this scope; the first one in a transaction brings BEGIN along. */
  issue<Q extends AnyQuery>(query: Q): Q {
    if (this.closed) throw new ScopeClosedError(this.agentId);
    // The session bookkeeping reads it when it runs; the scope counts what is still unsent.
    onExecute(query, scopeExecuted, this);
    this.unsent++;
    // postgres.js would silently reconnect and run this outside the transaction: refuse.
    if (this.state.broken && this.#beginText !== null) throw new SessionLostError(this.agentId, this.connectionId);
    if (this.begin === null && this.#beginText !== null) {
      // BEGIN is handed to the connection now, before `query` (which postgres.js hands over a
      // microtask after it is awaited), so both travel in one round trip; `query` settles only
      // once BEGIN succeeded too. Its outcome is checked at COMMIT / ROLLBACK.
      const begin = this.conn.unsafe(this.#beginText);
      onReject(begin, beginFailed, this);
      ignoreRejection(begin);
      sendNow(begin);
      this.begin = begin;
      settleAfter(query, begin);
    }
    if (this.#beginText !== null) onReject(query, markIfSocketError, this.state);
    this.count++;
    this.last = query;
    this.issued?.push(query);
    return query;
  }

  /** Nested transaction as a savepoint on this scope. */
  async savepoint<T>(fn: (tx: TransactionSql) => T | Promise<T>): Promise<Awaited<T>> {
    if (this.#beginText === null) {
      throw new TypeError("Cannot create a savepoint as this scope is not a transaction: use adapter.transaction()");
    }
    const name = `agentpool_sp_${++this.#savepoints}`;
    await this.sql.unsafe(`savepoint ${name}`);
    let result: Awaited<T>;
    try {
      result = await fn(this.sql);
    } catch (error) {
      try {
        await this.sql.unsafe(`rollback to savepoint ${name}`);
      } catch (rollbackError) {
        throw withRollbackError(error, rollbackError);
      }
      throw error;
    }
    await this.sql.unsafe(`release savepoint ${name}`);
    return result;
  }
}
