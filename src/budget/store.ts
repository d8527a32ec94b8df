/**
 * What the budget needs from a database: one short transaction per renewal that reads the
 * committed leases of the budget under a lock, lets the budget decide, and writes this holder's
 * rows. The PostgreSQL binding (`postgresBudgetStore`) implements it with transaction-scoped
 * primitives only, so it works through PgBouncer in transaction mode.
 *
 * @module
 */

/**
 * One holder's lease on one agent's share of a budget, as committed in the lease table.
 *
 * @example
 * ```ts
 * import type { LeaseRow } from "agentpool";
 * const row: LeaseRow = { holder: "host-a:123", agentId: "researcher", wants: 4, granted: 2, held: 2, limit: 6 };
 * ```
 */
export interface LeaseRow {
  /** The process holding the lease. */
  readonly holder: string;
  /** The agent whose connections the lease counts. */
  readonly agentId: string;
  /** Connections that holder's agent held plus waited for at its last renewal. */
  readonly wants: number;
  /** Connections that holder may have open for the agent: the sum over holders stays within `limit`. */
  readonly granted: number;
  /** Connections that holder's agent held at its last renewal. */
  readonly held: number;
  /** The limit that holder is configured with (the smallest among live holders applies). */
  readonly limit: number;
}

/**
 * The committed state of a budget inside a renewal transaction: the live leases (expired ones
 * already removed) and the database's clock.
 *
 * @example
 * ```ts
 * import type { CommittedLeases } from "agentpool";
 * const state: CommittedLeases = { rows: [], databaseNowMs: Date.now() };
 * ```
 */
export interface CommittedLeases {
  readonly rows: readonly LeaseRow[];
  /** The database's `clock_timestamp()` in epoch milliseconds (the only clock shared by holders). */
  readonly databaseNowMs: number;
}

/**
 * One renewal: which budget and holder, the time-to-live to record, and the decision to make
 * inside the transaction. `decide` runs synchronously between the read and the write; its rows
 * replace every row this holder had in the budget.
 *
 * @example
 * ```ts
 * import type { RenewRequest } from "agentpool";
 * const request: RenewRequest = {
 *   budget: "prod",
 *   holder: "host-a:1",
 *   ttlMs: 5000,
 *   signal: AbortSignal.timeout(3000),
 *   decide: () => [],
 * };
 * ```
 */
export interface RenewRequest {
  readonly budget: string;
  readonly holder: string;
  readonly ttlMs: number;
  /** Aborted when the renewal took too long; the store should give up and roll back. */
  readonly signal: AbortSignal;
  decide(state: CommittedLeases): readonly LeaseRow[];
}

/**
 * A lease table. Implementations must hold a lock on the budget from before the read until the
 * commit, remove leases older than their own time-to-live by the database's clock, and stamp the
 * written rows with the database's clock.
 *
 * @example An in-memory store for tests
 * ```ts
 * import type { BudgetStore, CommittedLeases, RenewRequest } from "agentpool";
 * const store: BudgetStore = {
 *   async renew(request: RenewRequest): Promise<CommittedLeases> {
 *     const state = { rows: [], databaseNowMs: Date.now() };
 *     request.decide(state);
 *     return state;
 *   },
 *   async release(): Promise<void> {},
 * };
 * ```
 */
export interface BudgetStore {
  /** Runs one renewal transaction; resolves with the state it read once the commit succeeded. */
  renew(request: RenewRequest): Promise<CommittedLeases>;
  /** Deletes the holder's rows of the budget (its share returns at once). */
  release(budget: string, holder: string, signal: AbortSignal): Promise<void>;
  /** Closes the store's own connection, if it has one. */
  close?(): Promise<void>;
}
