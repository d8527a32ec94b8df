/**
 * Global per-agent budgets across processes: capacity leases in a table, renewed on a short tick
 * in one short transaction, turned into each pool's local per-agent quota. Driver-agnostic and
 * runtime-neutral; the PostgreSQL lease table is `postgresBudgetStore` in the PostgreSQL layer.
 *
 * @example
 * ```ts
 * import { createPostgresPool, GlobalBudget, postgresBudgetStore } from "agentpool";
 * const pool = createPostgresPool("postgres://app@pgbouncer.internal:6432/app");
 * const store = postgresBudgetStore("postgres://app@pgbouncer.internal:6432/agentpool_ctl");
 * const budget = new GlobalBudget({ name: "prod", limits: { researcher: 6 }, store });
 * await budget.start(pool);
 * console.log(budget.snapshot().agents);
 * ```
 *
 * @module
 */

export { fairShares } from "./allocate.ts";
export { GlobalBudget, type QuotaTarget } from "./budget.ts";
export { guardFactory, type LeaseCheck } from "./guard.ts";
export { type BudgetOptions, resolveBudgetOptions, type ResolvedBudgetOptions } from "./options.ts";
export { type AgentDemand, type AgentPlan, type PlanInput, planGrants } from "./plan.ts";
export { budgetPrometheusText } from "./prometheus.ts";
export {
  type BudgetAgentView,
  type BudgetHolderView,
  budgetReason,
  type BudgetSnapshot,
  type BudgetState,
  holderViews,
} from "./snapshot.ts";
export type { BudgetStore, CommittedLeases, LeaseRow, RenewRequest } from "./store.ts";
