/**
 * The PostgreSQL lease table of a global budget. One renewal is one short transaction on a
 * dedicated control connection, using only transaction-scoped primitives, so it works through
 * PgBouncer in transaction mode:
 *
 * 1. `pg_advisory_xact_lock` on the budget's hashed name (held until COMMIT; a hash collision
 *    between two budgets only serializes them);
 * 2. remove leases older than their time-to-live by `clock_timestamp()` and read the rest;
 * 3. the budget decides (synchronously, in this process);
 * 4. upsert this holder's rows stamped with `clock_timestamp()`, delete its others; COMMIT.
 *
 * Once the lock is held, every statement travels without parameters (the budget name, holder and
 * rows as literals): a statement with parameters is two exchanges on postgres.js with
 * `prepare: false`, and a renewer paused between them would hold the lock with no server timeout
 * running (docs/deployment.md, "The pause window"); between whole statements the transaction-local
 * idle-in-transaction timeout ends it. The schema is a quoted identifier.
 *
 * @module
 */

import type { BudgetStore, CommittedLeases, LeaseRow, RenewRequest } from "../budget/store.ts";
import { AsyncConnectionPool } from "../core/pool.ts";
import { sqlLiteral } from "../session/sql_literal.ts";
import { PooledDatabaseAdapter } from "./adapter.ts";
import { BUDGET_MIGRATIONS } from "./budget_schema.ts";
import type { Sql } from "./connection_state.ts";
import { postgresFactory, type PostgresFactoryOptions } from "./factory.ts";
import { quoteIdentifier } from "./identifiers.ts";
import { migrate, type MigrateResult } from "./migrations.ts";

/** `n` for a statement's text: only a safe integer is written into SQL. */
function wholeNumber(n: number): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`Cannot write a lease as ${String(n)} is not a whole number`);
  return n;
}

/**
 * Options of {@linkcode postgresBudgetStore}.
 *
 * @example
 * ```ts
 * import type { PostgresBudgetStoreOptions } from "agentpool";
 * const options: PostgresBudgetStoreOptions = { schema: "agentpool_budget", applicationName: "budget:host-a:42" };
 * ```
 */
export interface PostgresBudgetStoreOptions {
  /** Schema of the lease table (a plain identifier), created by the migration. Default `"agentpool_budget"`. */
  schema?: string;
  /** `application_name` of the control connection. Default `"agentpool-budget"`. */
  applicationName?: string;
  /**
   * Longest wait for the budget's lock, for each statement of a renewal, and for the client
   * between them (a stalled renewer holding the lock is ended by the server after this). Keep
   * it well below `ttlMs − safetyMarginMs`. Default 1000.
   */
  statementTimeoutMs?: number;
  /** More driver options for the control connection (`prepare` is always false). */
  postgres?: Omit<PostgresFactoryOptions, "prepare" | "applicationName">;
}

/**
 * A {@linkcode BudgetStore} on PostgreSQL that owns one control connection (a one-connection
 * agentpool, so it reconnects like any pooled connection). `migrate()` runs on the first renewal.
 *
 * @example
 * ```ts
 * import { postgresBudgetStore } from "agentpool";
 * const store = postgresBudgetStore("postgres://app@pgbouncer.internal:6432/agentpool_ctl");
 * await store.migrate();
 * ```
 */
export class PostgresBudgetStore implements BudgetStore {
  readonly #connect: () => PooledDatabaseAdapter;
  #db: PooledDatabaseAdapter | undefined;
  readonly #schemaName: string;
  readonly #table: string;
  readonly #timeoutMs: number;
  #migrated: Promise<MigrateResult> | undefined;

  /** Validates the options (TypeError / RangeError naming them); connects on first use. */
  constructor(urlOrOptions: string | PostgresFactoryOptions, options: PostgresBudgetStoreOptions = {}) {
    for (const key of Object.keys(options)) {
      if (!["schema", "applicationName", "statementTimeoutMs", "postgres"].includes(key)) {
        throw new TypeError(`Cannot create budget store as '${key}' is not an option of postgresBudgetStore`);
      }
    }
    this.#schemaName = options.schema ?? "agentpool_budget";
    this.#table = `${quoteIdentifier("schema", this.#schemaName)}.budget_leases`;
    const timeout = options.statementTimeoutMs ?? 1000;
    if (!Number.isInteger(timeout) || timeout <= 0) {
      throw new RangeError(`Cannot create budget store as 'statementTimeoutMs' must be a positive integer: current value is ${String(timeout)}`);
    }
    this.#timeoutMs = timeout;
    const driver: PostgresFactoryOptions = {
      onnotice: () => {}, // the migration's "already exists, skipping" on every start
      ...options.postgres,
      prepare: false, // the control alias is usually a transaction-mode pool
      applicationName: options.applicationName ?? "agentpool-budget",
    };
    this.#connect = () =>
      new PooledDatabaseAdapter(
        new AsyncConnectionPool<Sql>({
          factory: postgresFactory(urlOrOptions, driver),
          minConnections: 0,
          maxConnections: 1,
          overflow: 0,
          acquireTimeoutMs: timeout,
          name: "agentpool-budget",
        }),
        { maxRetries: 0 },
      );
  }

  /** The control channel, opened on first use and again after an abandoned renewal. */
  get #channel(): PooledDatabaseAdapter {
    return this.#db ??= this.#connect();
  }

  /**
   * Runs `work` on the control channel until it settles or `signal` aborts. On abort the channel
   * is abandoned (closed once its transaction ends) instead of cancelled: a cancel request to an
   * unreachable server would reject where nobody listens. A transaction finishing late is still
   * consistent: it held the budget's lock from its read to its commit.
   */
  async #bounded<R>(signal: AbortSignal, work: (db: PooledDatabaseAdapter) => Promise<R>): Promise<R> {
    signal.throwIfAborted();
    const db = this.#channel;
    let onAbort = (): void => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        if (this.#db === db) this.#db = undefined;
        void db.pool.close().catch(() => {});
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    const running = work(db);
    running.catch(() => {}); // settles after an abort too; its outcome no longer matters then
    try {
      return await Promise.race([running, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Creates or upgrades the lease table (idempotent, safe to run from many processes at once). */
  migrate(signal?: AbortSignal): Promise<MigrateResult> {
    return migrate(this.#channel, { schema: this.#schemaName, migrations: BUDGET_MIGRATIONS, agentId: "agentpool-budget", signal });
  }

  async renew(request: RenewRequest): Promise<CommittedLeases> {
    await this.#ready(request.signal);
    const table = this.#table;
    return await this.#bounded(request.signal, (db) => db.transaction(async (tx) => {
      // Transaction-local settings and lock: nothing outlives COMMIT, whichever server runs it.
      // A renewer that stalls inside its transaction (paused, partitioned) holds the budget's
      // lock: the server ends that transaction after the idle timeout, so the others go on.
      const limit = `${this.#timeoutMs}ms`;
      await tx`select set_config('lock_timeout', ${limit}, true),
                      set_config('statement_timeout', ${limit}, true),
                      set_config('idle_in_transaction_session_timeout', ${limit}, true)`;
      // A pause inside this statement's two exchanges comes before the lock is taken (at Execute).
      await tx`select pg_advisory_xact_lock(hashtext('agentpool.budget'), hashtext(${request.budget}))`;
      // From here on no parameters (see the module comment). A new statement, so its snapshot
      // includes every renewal that committed before we got the lock.
      const budget = sqlLiteral(request.budget);
      const holder = sqlLiteral(request.holder);
      const [read] = await tx.unsafe<{ now_ms: number; rows: LeaseRow[] }[]>(
        `with expired as (
           delete from ${table}
            where budget = ${budget} and renewed_at + ttl_ms * interval '1 millisecond' < clock_timestamp())
         select (extract(epoch from clock_timestamp()) * 1000)::float8 as now_ms,
                coalesce(json_agg(json_build_object(
                  'holder', holder, 'agentId', agent_id, 'wants', wants, 'granted', granted,
                  'held', held, 'limit', limit_value) order by holder, agent_id), '[]'::json) as rows
           from ${table}
          where budget = ${budget} and renewed_at + ttl_ms * interval '1 millisecond' >= clock_timestamp()`,
      );
      const state: CommittedLeases = { rows: read.rows, databaseNowMs: Number(read.now_ms) };
      const mine = request.decide(state);
      const rows = JSON.stringify(mine.map((row) => ({
        agent_id: row.agentId,
        wants: wholeNumber(row.wants),
        granted: wholeNumber(row.granted),
        held: wholeNumber(row.held),
        limit_value: wholeNumber(row.limit),
      })));
      await tx.unsafe(
        `with mine as (
           select * from json_to_recordset(${sqlLiteral(rows)}::json)
                      as u(agent_id text, wants int, granted int, held int, limit_value int)),
         written as (
           insert into ${table} as l (budget, holder, agent_id, wants, granted, held, limit_value, ttl_ms, renewed_at)
           select ${budget}, ${holder}, agent_id, wants, granted, held, limit_value,
                  ${wholeNumber(request.ttlMs)}, clock_timestamp()
             from mine
           on conflict (budget, holder, agent_id) do update
              set wants = excluded.wants, granted = excluded.granted, held = excluded.held,
                  limit_value = excluded.limit_value, ttl_ms = excluded.ttl_ms, renewed_at = excluded.renewed_at
           returning 1)
         delete from ${table}
          where budget = ${budget} and holder = ${holder}
            and agent_id not in (select agent_id from mine)`,
      );
      return state;
    }, { agentId: "agentpool-budget", maxRetries: 0 }));
  }

  async release(budget: string, holder: string, signal: AbortSignal): Promise<void> {
    await this.#ready(signal);
    await this.#bounded(signal, (db) =>
      db.transaction(
        (tx) => tx.unsafe(`delete from ${this.#table} where budget = $1 and holder = $2`, [budget, holder]),
        { agentId: "agentpool-budget", maxRetries: 0 },
      ));
  }

  /** Closes the control connection. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.pool.close();
  }

  async #ready(signal: AbortSignal): Promise<void> {
    this.#migrated ??= this.#bounded(signal, () => this.migrate());
    try {
      await this.#migrated;
    } catch (error) {
      this.#migrated = undefined; // retried by the next renewal
      throw error;
    }
  }
}

/**
 * The lease table of a global budget on PostgreSQL, reached through `urlOrOptions` — ideally a
 * small dedicated PgBouncer alias (`pool_size = 1`–2) so renewals never queue behind data traffic.
 *
 * @example
 * ```ts
 * import { GlobalBudget, postgresBudgetStore } from "agentpool";
 * const budget = new GlobalBudget({
 *   name: "prod",
 *   limits: { researcher: 6 },
 *   store: postgresBudgetStore("postgres://app@pgbouncer.internal:6432/agentpool_ctl"),
 * });
 * ```
 */
export function postgresBudgetStore(
  urlOrOptions: string | PostgresFactoryOptions,
  options?: PostgresBudgetStoreOptions,
): PostgresBudgetStore {
  return new PostgresBudgetStore(urlOrOptions, options);
}
