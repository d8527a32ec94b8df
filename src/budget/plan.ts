/**
 * One holder's decision inside a renewal: from the committed leases and its own demand, what it
 * may use for each agent. Pure. The sum over holders stays within the limit because a holder
 * only ever takes what is free in the committed state; a holder above its fair share shrinks on
 * its own renewal, and the others grow into the room on theirs.
 *
 * @module
 */

import { fairShares } from "./allocate.ts";
import type { LeaseRow } from "./store.ts";

/**
 * What one agent holds and waits for in this process.
 *
 * @example
 * ```ts
 * import type { AgentDemand } from "agentpool";
 * const demand: AgentDemand = { agentId: "researcher", held: 2, pending: 3 };
 * ```
 */
export interface AgentDemand {
  readonly agentId: string;
  readonly held: number;
  readonly pending: number;
}

/**
 * The decision for one agent.
 *
 * @example
 * ```ts
 * import type { AgentPlan } from "agentpool";
 * const plan: AgentPlan = { agentId: "researcher", limit: 6, wants: 5, target: 3, free: 4, quota: 3, others: [] };
 * ```
 */
export interface AgentPlan {
  readonly agentId: string;
  /** The limit in force: the smallest configured among the live holders and this one. */
  readonly limit: number;
  /** This process's demand (held + pending). */
  readonly wants: number;
  /** This process's fair share. */
  readonly target: number;
  /** The limit minus what the other holders are granted in the committed state. */
  readonly free: number;
  /** What this process may let the agent hold: its fair share, within what is free. */
  readonly quota: number;
  /** The other holders' committed leases for the agent. */
  readonly others: readonly LeaseRow[];
}

/**
 * Inputs of {@linkcode planGrants}.
 *
 * @example
 * ```ts
 * import type { PlanInput } from "agentpool";
 * const input: PlanInput = { holder: "a", limitOf: () => 3, demands: [], committed: [], rotation: 0 };
 * ```
 */
export interface PlanInput {
  readonly holder: string;
  /** The configured limit of an agent, `undefined` when the agent is not budgeted. */
  readonly limitOf: (agentId: string) => number | undefined;
  readonly demands: readonly AgentDemand[];
  /** Live leases of every holder, as read under the budget's lock. */
  readonly committed: readonly LeaseRow[];
  /** Selects who gets the odd units of an uneven split (see `fairShares`). */
  readonly rotation: number;
}

/**
 * Plans every budgeted agent this holder has demand for or a lease on.
 *
 * @example
 * ```ts
 * import { planGrants } from "agentpool";
 * const [plan] = planGrants({
 *   holder: "a",
 *   limitOf: () => 3,
 *   demands: [{ agentId: "hot", held: 0, pending: 5 }],
 *   committed: [{ holder: "b", agentId: "hot", wants: 5, granted: 3, held: 3, limit: 3 }],
 *   rotation: 0,
 * });
 * plan.target; // 2 (fair share of 3 between a and b, odd unit to a)
 * plan.quota; // 0 (b still holds all 3; a grows once b shrinks)
 * ```
 */
export function planGrants(input: PlanInput): AgentPlan[] {
  const { holder, limitOf } = input;
  const byAgent = new Map<string, LeaseRow[]>();
  const mine = new Set<string>();
  for (const row of input.committed) {
    if (row.holder === holder) {
      mine.add(row.agentId);
      continue;
    }
    let rows = byAgent.get(row.agentId);
    if (rows === undefined) byAgent.set(row.agentId, rows = []);
    rows.push(row);
  }
  const wanted = new Map<string, number>();
  for (const d of input.demands) wanted.set(d.agentId, (wanted.get(d.agentId) ?? 0) + d.held + d.pending);
  const agents = new Set<string>([...mine]);
  for (const [agentId, wants] of wanted) if (wants > 0) agents.add(agentId);

  const plans: AgentPlan[] = [];
  for (const agentId of [...agents].sort()) {
    const configured = limitOf(agentId);
    if (configured === undefined) continue;
    const others = byAgent.get(agentId) ?? [];
    const wants = wanted.get(agentId) ?? 0;
    let limit = configured;
    let othersGranted = 0;
    for (const row of others) {
      limit = Math.min(limit, row.limit);
      othersGranted += row.granted;
    }
    const claimants = [...others.map((row) => ({ holder: row.holder, wants: row.wants })), { holder, wants }]
      .sort((a, b) => (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : 0));
    const shares = fairShares(limit, claimants.map((c) => c.wants), input.rotation);
    const target = shares[claimants.findIndex((c) => c.holder === holder)];
    const free = limit - othersGranted;
    plans.push({ agentId, limit, wants, target, free, quota: Math.max(0, Math.min(target, free)), others });
  }
  return plans;
}
