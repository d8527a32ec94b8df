/**
 * Per-agent quotas in front of a pool, for the budget's multi-process test while the pool has
 * no `setAgentQuota` of its own yet: the same contract (lowering revokes nothing, raising lets
 * waiters in at once, FIFO per agent). The worker uses the pool itself once it has the method.
 *
 * @module
 */
import type { QuotaTarget } from "../../src/budget/budget.ts";

interface Gate {
  /** Admitted: within the quota when they passed the gate. */
  held: number;
  /** Admitted and running on a connection (what the pool would count as held). */
  started: number;
  quota: number;
  waiters: (() => void)[];
}

/** A per-agent semaphore whose sizes the budget sets. */
export class QuotaGate implements QuotaTarget {
  #gates = new Map<string, Gate>();
  /**
   * `fallback` is the pool's `agentQuotas`; `beforeHandOff` runs before every admission, as a
   * guarded factory's check runs before the pool hands out a connection (see `guardFactory`).
   */
  constructor(
    readonly fallback: (agentId: string) => number | undefined,
    readonly beforeHandOff: () => void = () => {},
  ) {}

  setAgentQuota(agentId: string, quota: number | undefined): void {
    const gate = this.#gate(agentId);
    gate.quota = quota ?? this.fallback(agentId) ?? Infinity;
    this.#drain(gate);
  }

  agents(): { agentId: string; held: number; pending: number }[] {
    return [...this.#gates].map(([agentId, g]) => ({
      agentId,
      held: g.started,
      pending: g.waiters.length + g.held - g.started,
    }));
  }

  /**
   * Runs `fn` once the agent is below its quota; it counts as admitted until `fn` settles.
   * `fn` gets `mayStart()`, to call once it has its pool connection: the pool hands a connection
   * out only within the quota in force at that moment, while this gate admitted the task before
   * its (possibly long) wait for a connection. False means: give the slot back and queue again.
   */
  async run<R>(agentId: string, fn: (mayStart: () => boolean) => Promise<R>): Promise<R> {
    const gate = this.#gate(agentId);
    this.beforeHandOff();
    if (gate.held >= gate.quota || gate.waiters.length > 0) await new Promise<void>((resolve) => gate.waiters.push(resolve));
    else gate.held++;
    let started = false;
    const mayStart = (): boolean => {
      this.beforeHandOff();
      if (started || gate.held > gate.quota) return started;
      gate.started++;
      return (started = true);
    };
    try {
      return await fn(mayStart);
    } finally {
      gate.held--;
      if (started) gate.started--;
      this.#drain(gate);
    }
  }

  #gate(agentId: string): Gate {
    let gate = this.#gates.get(agentId);
    if (gate === undefined) {
      gate = { held: 0, started: 0, quota: this.fallback(agentId) ?? Infinity, waiters: [] };
      this.#gates.set(agentId, gate);
    }
    return gate;
  }

  #drain(gate: Gate): void {
    if (gate.waiters.length > 0) this.beforeHandOff();
    while (gate.waiters.length > 0 && gate.held < gate.quota) {
      gate.held++;
      gate.waiters.shift()!();
    }
  }
}
