/**
 * Read-only views of a budget for people and dashboards: who holds which agent's share across
 * processes, what this process may use, and the text that quota errors carry.
 *
 * @module
 */

import type { LeaseRow } from "./store.ts";

/** Where this process's lease stands. */
export type BudgetState = "starting" | "granted" | "expired" | "stopped";

/**
 * One holder's committed lease on an agent, as last read.
 *
 * @example
 * ```ts
 * import type { BudgetHolderView } from "agentpool";
 * const view: BudgetHolderView = { holder: "host-a:1", granted: 2, wants: 4, held: 2, self: true };
 * ```
 */
export interface BudgetHolderView {
  readonly holder: string;
  readonly granted: number;
  readonly wants: number;
  readonly held: number;
  /** This process. */
  readonly self: boolean;
}

/**
 * One budgeted agent.
 *
 * @example
 * ```ts
 * import type { BudgetAgentView } from "agentpool";
 * const view: BudgetAgentView = { agentId: "researcher", limit: 6, granted: 5, quota: 2, held: 2, wants: 4, holders: [] };
 * ```
 */
export interface BudgetAgentView {
  readonly agentId: string;
  /** The limit across every process (the smallest configured among the live holders). */
  readonly limit: number;
  /** Sum of the committed grants of every holder. */
  readonly granted: number;
  /** What this process lets the agent hold right now (0 while its lease is not valid). */
  readonly quota: number;
  /** Connections the agent holds in this process at the last renewal. */
  readonly held: number;
  /** This process's demand at the last renewal. */
  readonly wants: number;
  /** Every holder's committed lease, by holder name. */
  readonly holders: readonly BudgetHolderView[];
}

/**
 * `budget.snapshot()`: the state of this process's lease and the cluster-wide view from the
 * last renewal.
 *
 * @example
 * ```ts
 * import type { BudgetSnapshot, GlobalBudget } from "agentpool";
 * declare const budget: GlobalBudget;
 * const s: BudgetSnapshot = budget.snapshot();
 * for (const agent of s.agents) console.log(agent.agentId, agent.limit, agent.holders);
 * ```
 */
export interface BudgetSnapshot {
  readonly name: string;
  readonly holder: string;
  readonly state: BudgetState;
  readonly tickMs: number;
  readonly ttlMs: number;
  /** How long this process may still grant without renewing (0 once expired). */
  readonly leaseRemainingMs: number;
  readonly renewals: number;
  readonly renewFailures: number;
  /** Times the lease ran out before a renewal succeeded. */
  readonly expiries: number;
  /** Duration of the last successful renewal transaction. */
  readonly lastRenewMs: number;
  readonly maxRenewMs: number;
  /** The last renewal error's message (never a connection string). */
  readonly lastError?: string;
  readonly agents: readonly BudgetAgentView[];
}

/**
 * Groups committed lease rows into per-agent holder views, holders sorted by name.
 *
 * @example
 * ```ts
 * import { holderViews, type LeaseRow } from "agentpool";
 * declare const rows: LeaseRow[];
 * const views = holderViews(rows, "host-a:1");
 * views.get("researcher"); // [{ holder: "host-a:1", granted: 2, ... }, ...]
 * ```
 */
export function holderViews(rows: readonly LeaseRow[], self: string): Map<string, BudgetHolderView[]> {
  const views = new Map<string, BudgetHolderView[]>();
  for (const row of rows) {
    let list = views.get(row.agentId);
    if (list === undefined) views.set(row.agentId, list = []);
    list.push({ holder: row.holder, granted: row.granted, wants: row.wants, held: row.held, self: row.holder === self });
  }
  for (const list of views.values()) list.sort((a, b) => (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : 0));
  return views;
}

/**
 * The sentence a quota timeout carries when the global budget was the limit.
 *
 * @example
 * ```ts
 * import { type BudgetAgentView, budgetReason } from "agentpool";
 * declare const view: BudgetAgentView;
 * budgetReason("prod", "granted", view);
 * // "global budget 'prod' allows researcher 3 across processes; granted here 1; holders: host-a:1 (1, this process), host-b:2 (2)"
 * ```
 */
export function budgetReason(name: string, state: BudgetState, agent: BudgetAgentView, lastError?: string): string {
  const holders = agent.holders.length === 0
    ? "none"
    : agent.holders.map((h) => `${h.holder} (${h.granted}${h.self ? ", this process" : ""})`).join(", ");
  const head = `global budget '${name}' allows ${agent.agentId} ${agent.limit} across processes`;
  if (state === "granted") return `${head}; granted here ${agent.quota}; holders: ${holders}`;
  const why = state === "expired"
    ? `this process could not renew its lease${lastError === undefined ? "" : ` (${lastError})`}`
    : state === "starting"
    ? "this process has no lease yet"
    : "the budget was stopped";
  return `${head}; ${why}, so it grants nothing here until it renews; holders: ${holders}`;
}
