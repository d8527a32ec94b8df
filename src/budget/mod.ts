/**
 * Global per-agent budgets across processes: capacity leases in a table, renewed on a short tick
 * in one short transaction, turned into each pool's local per-agent quota. Driver-agnostic and
 * runtime-neutral; the PostgreSQL lease table is `postgresBudgetStore` in the PostgreSQL layer.
 *
 * @example
 * ```ts
 * import { GlobalBudget, postgresBudgetStore } from "agentpool";
 * const budget = new GlobalBudget({ name: "prod", limits: { researcher: 6 }, store: postgresBudgetStore(controlUrl) });
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
