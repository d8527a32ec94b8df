/**
 * A connection factory wrapper that checks the budget's lease whenever the pool is about to
 * hand out or take back a connection: after a pause (SIGSTOP, a VM freeze) the budget's own
 * timers run only after the I/O that piled up meanwhile, and that I/O can release connections
 * to waiters under a grant that has already expired. The check costs one clock read.
 *
 * @module
 */

import type { ConnectionFactory } from "../core/factory.ts";

/**
 * What the guard needs from a budget: `GlobalBudget` fits.
 *
 * @example
 * ```ts
 * import { GlobalBudget, type LeaseCheck, postgresBudgetStore } from "agentpool";
 * const check: LeaseCheck = new GlobalBudget({ name: "prod", store: postgresBudgetStore("postgres://app@pgbouncer:6432/agentpool_ctl") });
 * ```
 */
export interface LeaseCheck {
  checkLease(): boolean;
}

/**
 * Wraps `factory` so that every borrow and return (the pool's `isBroken` probe) and every new
 * connection first checks `budget`'s lease. Everything else passes through unchanged.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool, type GlobalBudget, guardFactory, postgresFactory } from "agentpool";
 * declare const budget: GlobalBudget;
 * const url = "postgres://app@pgbouncer.internal:6432/app";
 * const pool = new AsyncConnectionPool({
 *   factory: guardFactory(budget, postgresFactory(url, { prepare: false })),
 *   agentQuotas: budget.agentQuotas,
 * });
 * ```
 */
export function guardFactory<T>(budget: LeaseCheck, factory: ConnectionFactory<T>): ConnectionFactory<T> {
  const guarded: ConnectionFactory<T> = {
    create: async (signal) => {
      const connection = await factory.create(signal);
      budget.checkLease();
      return connection;
    },
    destroy: (connection) => factory.destroy(connection),
    isBroken: (connection) => {
      budget.checkLease();
      return factory.isBroken?.(connection) === true;
    },
  };
  if (factory.validate) guarded.validate = (connection, signal) => factory.validate!(connection, signal);
  if (factory.reset) guarded.reset = (connection) => factory.reset!(connection);
  if (factory.isFatal) guarded.isFatal = (error) => factory.isFatal!(error);
  if (factory.cancel) guarded.cancel = (connection) => factory.cancel!(connection);
  if (factory.atCapacity) guarded.atCapacity = (error) => factory.atCapacity!(error);
  return guarded;
}
