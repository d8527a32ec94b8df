/**
 * The global budget's lines of `agentpool monitor`: the lease's state and, per budgeted agent,
 * the limit across processes, the grants of every process and this process's quota and use.
 *
 * @module
 */

import type { BudgetSnapshot } from "../budget/snapshot.ts";

/** Agents listed; the rest are counted on one line. */
const MAX_AGENTS = 6;

/**
 * The monitor's budget lines for `budget` (none without one).
 *
 * @example
 * ```ts
 * import { budgetLines } from "./monitor_budget.ts";
 * budgetLines(null); // []
 * ```
 */
export function budgetLines(budget: BudgetSnapshot | null | undefined): string[] {
  if (budget === null || budget === undefined) return [];
  const left = budget.state === "granted" ? ` (${(budget.leaseRemainingMs / 1000).toFixed(1)} s left)` : "";
  const lines = [
    `budget ${JSON.stringify(budget.name)} as ${budget.holder}: lease ${budget.state}${left}   renewals ${budget.renewals}` +
    `   failed ${budget.renewFailures}   expiries ${budget.expiries}${budget.lastError === undefined ? "" : `   last error: ${budget.lastError}`}`,
  ];
  for (const agent of budget.agents.slice(0, MAX_AGENTS)) {
    const holders = agent.holders.map((h) => `${h.holder}${h.self ? "*" : ""} ${h.granted}/${h.held}`).join(", ");
    lines.push(
      `  ${agent.agentId.slice(0, 24).padEnd(24)} limit ${agent.limit}  granted ${agent.granted}  here quota ${agent.quota} held ${agent.held}` +
        `   granted/held by process: ${holders || "none"}`,
    );
  }
  if (budget.agents.length > MAX_AGENTS) lines.push(`  … ${budget.agents.length - MAX_AGENTS} more budgeted agent(s)`);
  return lines;
}
