/**
 * Prometheus text exposition of a budget: the limit of each budgeted agent, each holder's
 * committed grant, demand and use (the cluster-wide view from this process's last renewal), this
 * process's local quota, and the renewal counters. Append it to the pool's `prometheusText`.
 *
 * @module
 */

import { escapeLabelValue } from "../core/prometheus.ts";
import type { BudgetSnapshot } from "./snapshot.ts";

type Labels = Readonly<Record<string, string>>;

function line(name: string, labels: Labels, value: number): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
  return `${name}{${parts}} ${Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : "NaN"}`;
}

/**
 * Renders `budget.snapshot()` in the Prometheus text format (0.0.4).
 *
 * @example
 * ```ts
 * import { type AsyncConnectionPool, budgetPrometheusText, type GlobalBudget, PROMETHEUS_CONTENT_TYPE, prometheusText } from "agentpool";
 * declare const pool: AsyncConnectionPool<unknown>;
 * declare const budget: GlobalBudget;
 * const body = prometheusText(pool) + budgetPrometheusText(budget.snapshot());
 * new Response(body, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
 * // agentpool_budget_granted{budget="prod",agent="researcher",holder="host-a:1"} 2
 * ```
 */
export function budgetPrometheusText(snapshot: BudgetSnapshot): string {
  const budget = snapshot.name;
  const self = snapshot.holder;
  const out: string[] = [];
  const family = (name: string, type: "gauge" | "counter", help: string, samples: string[]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  const agents = snapshot.agents;
  family("agentpool_budget_limit", "gauge", "Connections the agent may hold across every process of the budget.", agents.map((a) => line("agentpool_budget_limit", { budget, agent: a.agentId }, a.limit)));
  family("agentpool_budget_granted", "gauge", "Each holder's committed grant for the agent, as of this process's last renewal.", agents.flatMap((a) => a.holders.map((h) => line("agentpool_budget_granted", { budget, agent: a.agentId, holder: h.holder }, h.granted))));
  family("agentpool_budget_wants", "gauge", "Each holder's demand (held + waiting) for the agent at its last renewal.", agents.flatMap((a) => a.holders.map((h) => line("agentpool_budget_wants", { budget, agent: a.agentId, holder: h.holder }, h.wants))));
  family("agentpool_budget_held", "gauge", "Connections each holder's agent held at its last renewal.", agents.flatMap((a) => a.holders.map((h) => line("agentpool_budget_held", { budget, agent: a.agentId, holder: h.holder }, h.held))));
  family("agentpool_budget_local_quota", "gauge", "What this process lets the agent hold now (0 while its lease is not valid).", agents.map((a) => line("agentpool_budget_local_quota", { budget, agent: a.agentId, holder: self }, a.quota)));
  const p = { budget, holder: self };
  family("agentpool_budget_lease_valid", "gauge", "1 while this process holds a valid lease, else 0.", [line("agentpool_budget_lease_valid", p, snapshot.state === "granted" ? 1 : 0)]);
  family("agentpool_budget_lease_remaining_seconds", "gauge", "How long this process may still grant without renewing.", [line("agentpool_budget_lease_remaining_seconds", p, snapshot.leaseRemainingMs / 1000)]);
  family("agentpool_budget_renew_seconds", "gauge", "Duration of the last successful renewal transaction.", [line("agentpool_budget_renew_seconds", p, snapshot.lastRenewMs / 1000)]);
  family("agentpool_budget_renewals_total", "counter", "Renewal transactions that committed.", [line("agentpool_budget_renewals_total", p, snapshot.renewals)]);
  family("agentpool_budget_renew_failures_total", "counter", "Renewal transactions that failed.", [line("agentpool_budget_renew_failures_total", p, snapshot.renewFailures)]);
  family("agentpool_budget_expiries_total", "counter", "Times this process's lease ran out before a renewal succeeded.", [line("agentpool_budget_expiries_total", p, snapshot.expiries)]);
  return `${out.join("\n")}\n`;
}
