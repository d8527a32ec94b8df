/**
 * Bookkeeping of open transactions per agent, and the report of those held open too long. The
 * timer exists only while a transaction is open and `slowTransactionMs` is set, so an idle
 * adapter holds no timers (Deno's test sanitizers stay green).
 *
 * @module
 */

import { checkDuration, invalidOption } from "../core/checks.ts";

/**
 * A transaction open right now (from `adapter.openTransactions()`), or one reported as slow.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * for (const t of adapter.openTransactions()) console.log(t.agentId, t.connectionId, t.durationMs);
 * ```
 */
export interface OpenTransaction {
  /** The agent running it. */
  readonly agentId: string;
  /** The pooled connection's id (as in `pool.connections()`). */
  readonly connectionId: number;
  /** The server process id of the session, when known. */
  readonly backendPid: number | undefined;
  /** When it started (epoch ms). */
  readonly startedAt: number;
  /** How long it has been open so far. */
  readonly durationMs: number;
}

/**
 * Slow-transaction reporting options of the adapter.
 *
 * @example
 * ```ts
 * import { type AsyncConnectionPool, PooledDatabaseAdapter, type Sql } from "agentpool";
 * declare const pool: AsyncConnectionPool<Sql>;
 * const adapter = new PooledDatabaseAdapter(pool, { slowTransactionMs: 1000, onSlowTransaction: console.warn });
 * ```
 */
export interface TransactionTrackerOptions {
  /** A transaction open longer than this is reported once, while still open. Default: off. */
  slowTransactionMs?: number;
  /** Receives slow transactions. Default: none (they still show in `openTransactions()`). */
  onSlowTransaction?: (transaction: OpenTransaction) => void;
}

interface Entry {
  agentId: string;
  connectionId: number;
  backendPid: number | undefined;
  start: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

function info(entry: Entry, now: number): OpenTransaction {
  return {
    agentId: entry.agentId,
    connectionId: entry.connectionId,
    backendPid: entry.backendPid,
    startedAt: Date.now() - (now - entry.start),
    durationMs: now - entry.start,
  };
}

/**
 * Tracks open transactions; reports slow ones.
 *
 * @example
 * ```ts
 * const tracker = new TransactionTracker({ slowTransactionMs: 500, onSlowTransaction: console.warn });
 * const entry = tracker.opened("planner-1", 3, 4242);
 * tracker.closed(entry);
 * ```
 */
export class TransactionTracker {
  readonly #open = new Set<Entry>();
  readonly #slowMs: number | undefined;
  readonly #onSlow: ((transaction: OpenTransaction) => void) | undefined;

  /** Validates the options (RangeError / TypeError naming them). */
  constructor(options: TransactionTrackerOptions) {
    const { slowTransactionMs, onSlowTransaction } = options;
    if (slowTransactionMs !== undefined) checkDuration("create adapter", "slowTransactionMs", slowTransactionMs, true);
    if (onSlowTransaction !== undefined && typeof onSlowTransaction !== "function") {
      invalidOption("type", "create adapter", "onSlowTransaction", "a function", onSlowTransaction);
    }
    this.#slowMs = Number.isFinite(slowTransactionMs) ? slowTransactionMs : undefined;
    this.#onSlow = onSlowTransaction;
  }

  /** Records a transaction that starts now. */
  opened(agentId: string, connectionId: number, backendPid: number | undefined): object {
    // One clock read per transaction: the wall-clock start is derived when someone asks.
    const entry: Entry = { agentId, connectionId, backendPid, start: performance.now(), timer: undefined };
    if (this.#slowMs !== undefined) entry.timer = setTimeout(() => this.#report(entry), this.#slowMs);
    this.#open.add(entry);
    return entry;
  }

  /** Records that the transaction ended. */
  closed(token: object): void {
    const entry = token as Entry;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    this.#open.delete(entry);
  }

  /** Open transactions, oldest first. */
  snapshot(): OpenTransaction[] {
    const now = performance.now();
    return [...this.#open].map((entry) => info(entry, now));
  }

  #report(entry: Entry): void {
    entry.timer = undefined;
    try {
      this.#onSlow?.(info(entry, performance.now()));
    } catch (error) {
      // A faulty callback must not become an unhandled exception inside a timer.
      console.error("agentpool: onSlowTransaction threw", error);
    }
  }
}
