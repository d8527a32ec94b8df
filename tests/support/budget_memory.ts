/**
 * Test doubles for the budget's unit tests: an in-memory lease table with the same semantics as
 * the PostgreSQL one (one lock per budget held across read-decide-write, expiry by the table's
 * own clock, rows stamped at the write), and a pool that only keeps per-agent quotas and
 * holdings, moved by the test.
 *
 * @module
 */
import type { QuotaTarget } from "../../src/budget/budget.ts";
import type { BudgetStore, CommittedLeases, LeaseRow, RenewRequest } from "../../src/budget/store.ts";

interface StoredRow extends LeaseRow {
  renewedAt: number;
  ttlMs: number;
}

/** An in-memory lease table shared by several budgets; `now()` is the "database clock". */
export class MemoryLeaseTable {
  #rows = new Map<string, StoredRow>();
  #lock: Promise<void> = Promise.resolve();
  /** Commits whose result broke Σgranted ≤ limit for some agent (must stay empty). */
  readonly violations: string[] = [];
  /** Renewals that committed. */
  commits = 0;
  /** When set, every renewal fails with this error (the database is unreachable). */
  failWith: Error | undefined;

  constructor(readonly now: () => number, readonly limitOf: (agentId: string) => number) {}

  /** The live rows of a budget, as a renewal would read them. */
  live(budget: string): StoredRow[] {
    const now = this.now();
    return [...this.#rows.entries()]
      .filter(([key, row]) => key.startsWith(`${budget}\u0000`) && row.renewedAt + row.ttlMs >= now)
      .map(([, row]) => row);
  }

  /** Σgranted of one agent over live rows. */
  granted(budget: string, agentId: string): number {
    return this.live(budget).filter((r) => r.agentId === agentId).reduce((s, r) => s + r.granted, 0);
  }

  /** A store bound to this table; `beforeWrite` (from the test) runs between the read and the write. */
  store(options: { beforeWrite?: () => void | Promise<void> } = {}): BudgetStore {
    const deleteHolder = (budget: string, holder: string): void => {
      for (const key of [...this.#rows.keys()]) if (key.startsWith(`${budget}\u0000${holder}\u0000`)) this.#rows.delete(key);
    };
    return {
      renew: (request: RenewRequest): Promise<CommittedLeases> =>
        this.#locked(async () => {
          if (this.failWith !== undefined) throw this.failWith;
          request.signal.throwIfAborted();
          this.#expire(request.budget);
          const state: CommittedLeases = {
            rows: this.live(request.budget).map(({ renewedAt: _r, ttlMs: _t, ...row }) => row),
            databaseNowMs: this.now(),
          };
          const rows = request.decide(state);
          await options.beforeWrite?.();
          request.signal.throwIfAborted();
          deleteHolder(request.budget, request.holder);
          for (const row of rows) {
            this.#rows.set(`${request.budget}\u0000${row.holder}\u0000${row.agentId}`, { ...row, renewedAt: this.now(), ttlMs: request.ttlMs });
          }
          this.commits++;
          this.#check(request.budget);
          return state;
        }),
      release: (budget: string, holder: string): Promise<void> => this.#locked(() => Promise.resolve(deleteHolder(budget, holder))),
    };
  }

  #expire(budget: string): void {
    const now = this.now();
    for (const [key, row] of this.#rows) {
      if (key.startsWith(`${budget}\u0000`) && row.renewedAt + row.ttlMs < now) this.#rows.delete(key);
    }
  }

  #check(budget: string): void {
    const sums = new Map<string, number>();
    for (const row of this.live(budget)) sums.set(row.agentId, (sums.get(row.agentId) ?? 0) + row.granted);
    for (const [agentId, sum] of sums) {
      if (sum > this.limitOf(agentId)) this.violations.push(`${agentId}: granted ${sum} > ${this.limitOf(agentId)}`);
    }
  }

  #locked<R>(work: () => Promise<R>): Promise<R> {
    const run = this.#lock.then(work);
    this.#lock = run.then(() => {}, () => {});
    return run;
  }
}

/** A pool stand-in: quotas set by the budget, holdings and demand moved by the test. */
export class QuotaPool implements QuotaTarget {
  readonly quotas = new Map<string, number | undefined>();
  readonly whys = new Map<string, () => string>();
  readonly held = new Map<string, number>();
  readonly pending = new Map<string, number>();
  /** The pool's `agentQuotas` option: consulted for an agent without an override (e.g. `budget.agentQuotas`). */
  agentQuotas: (agentId: string) => number | undefined = () => undefined;
  /** Quota changes, in order: [agentId, quota]. */
  readonly log: [string, number | undefined][] = [];

  setAgentQuota(agentId: string, quota: number | undefined, why?: () => string): void {
    this.quotas.set(agentId, quota);
    if (why !== undefined) this.whys.set(agentId, why);
    this.log.push([agentId, quota]);
  }

  agents(): { agentId: string; held: number; pending: number }[] {
    const ids = new Set([...this.held.keys(), ...this.pending.keys()]);
    return [...ids].map((agentId) => ({
      agentId,
      held: this.held.get(agentId) ?? 0,
      pending: this.pending.get(agentId) ?? 0,
    }));
  }

  /** Wants `n` connections for `agentId` in all (held + pending). */
  want(agentId: string, n: number): void {
    this.pending.set(agentId, Math.max(0, n - (this.held.get(agentId) ?? 0)));
  }

  /** Serves waiters up to the quota, like the pool would: returns how many were handed out. */
  serve(agentId: string): number {
    const quota = this.quotas.get(agentId) ?? this.agentQuotas(agentId) ?? Infinity;
    let held = this.held.get(agentId) ?? 0;
    let pending = this.pending.get(agentId) ?? 0;
    let served = 0;
    while (pending > 0 && held < quota) {
      held++;
      pending--;
      served++;
    }
    this.held.set(agentId, held);
    this.pending.set(agentId, pending);
    return served;
  }

  /** Releases `n` of the agent's connections (its work finished); they become demand again if `requeue`. */
  finish(agentId: string, n: number, requeue = false): void {
    const held = this.held.get(agentId) ?? 0;
    const done = Math.min(n, held);
    this.held.set(agentId, held - done);
    if (requeue) this.pending.set(agentId, (this.pending.get(agentId) ?? 0) + done);
  }
}
