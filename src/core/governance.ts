/**
 * Governance of agents: hold policies (warn, cancel, reclaim), leak reports, and revocation. All
 * of it runs off the hot path, from the housekeeper or on an explicit call.
 *
 * @module
 */

import type { AgentRecord, AgentRegistry } from "./agents.ts";
import type { OpenConnections } from "./connections.ts";
import type { PoolCounters } from "./counters.ts";
import { PooledConnection } from "./handle.ts";
import type { SweepHost } from "./housekeeper.ts";
import type { HoldPolicy, ResolvedPoolOptions } from "./options.ts";
import type { Slot } from "./slot.ts";

/** What governance needs from the pool. */
export interface GovernorHost<T> {
  /** Bookkeeping of a lease that ends (the agent no longer holds `slot`). */
  endLease(slot: Slot<T>, now: number): void;
  /** Rejects every waiter of `agent` with reason `revoked`. */
  refuseWaiters(agent: AgentRecord): void;
  /** Validates an idle connection in the background. */
  check(slot: Slot<T>): void;
  /** Generations below this are suspect. */
  generation(): number;
  now(): number;
  emit(type: string, detail: unknown): void;
}

/**
 * Per-agent policies, leak detection, reclaim and revoke.
 *
 * @example
 * ```ts
 * governor.setAgentPolicy("runaway-7", { maxHoldMs: 30_000, action: "reclaim" });
 * await governor.revoke("runaway-7");
 * ```
 */
export class Governor<T> {
  #policies = new Map<string, HoldPolicy>();
  #options: ResolvedPoolOptions<T>;
  #agents: AgentRegistry;
  #open: OpenConnections<T>;
  #counters: PoolCounters;
  #host: GovernorHost<T>;

  constructor(
    options: ResolvedPoolOptions<T>,
    agents: AgentRegistry,
    open: OpenConnections<T>,
    counters: PoolCounters,
    host: GovernorHost<T>,
  ) {
    this.#options = options;
    this.#agents = agents;
    this.#open = open;
    this.#counters = counters;
    this.#host = host;
    for (const [agentId, policy] of Object.entries(options.agentPolicies)) this.#policies.set(agentId, policy);
  }

  /** Rejects the agent's waiters, reclaims its connections, refuses it until readmitted. */
  async revoke(agentId: string): Promise<void> {
    const agent = this.#agents.get(agentId);
    agent.revoked = true;
    this.#host.refuseWaiters(agent);
    const reclaims: Promise<void>[] = [];
    for (const slot of this.#open.slots) if (slot.agent === agent) reclaims.push(this.reclaim(slot));
    this.#host.emit("revoked", { agentId, reclaimed: reclaims.length });
    await Promise.all(reclaims);
  }

  /** Lets a revoked agent acquire again. */
  readmit(agentId: string): void {
    const agent = this.#agents.find(agentId);
    if (agent !== undefined) agent.revoked = false;
  }

  /** Revokes `agentId` when `signal` aborts; returns the unbinding function. */
  revokeOnAbort(agentId: string, signal: AbortSignal): () => void {
    const onAbort = (): void => void this.revoke(agentId);
    if (signal.aborted) {
      onAbort();
      return () => {};
    }
    signal.addEventListener("abort", onAbort, { once: true });
    return () => signal.removeEventListener("abort", onAbort);
  }

  /** Sets (or with `undefined`, clears) one agent's hold policy. */
  setAgentPolicy(agentId: string, policy: HoldPolicy | undefined): void {
    if (policy === undefined) this.#policies.delete(agentId);
    else this.#policies.set(agentId, policy);
  }

  /** Takes a connection back from its holder: fence the handle, cancel what runs, close it. */
  reclaim(slot: Slot<T>): Promise<void> {
    const agent = slot.agent!;
    PooledConnection.revoke(slot.lease as PooledConnection<unknown>);
    this.#host.endLease(slot, this.#host.now());
    agent.reclaimed++;
    this.#counters.reclaimed++;
    slot.state = "resetting";
    return this.#open.track(this.#cancelThenDestroy(slot));
  }

  /** The housekeeper's view of the pool, acting through this governor. */
  sweepHost(): SweepHost<T> {
    const o = this.#options;
    return {
      idle: this.#open.idle,
      slots: this.#open.slots,
      minConnections: o.minConnections,
      maxConnections: o.maxConnections,
      idleTimeoutMs: o.idleTimeoutMs,
      overflowIdleMs: o.overflowIdleMs,
      leakDetectionMs: o.leakDetectionMs,
      suspectBelow: this.#host.generation(),
      retire: (slot) => void this.#open.destroy(slot),
      check: (slot) => {
        this.#open.removeIdle(slot);
        this.#host.check(slot);
      },
      leak: (slot, heldMs) => {
        slot.agent!.leaks++;
        this.#counters.leaks++;
        o.metrics.leaked?.(slot.agent!.agentId, heldMs);
        this.#host.emit("leak", { agentId: slot.agent!.agentId, connectionId: slot.id, heldMs, stack: slot.stack });
      },
      holdExceeded: (slot, policy, heldMs) => {
        const detail = { agentId: slot.agent!.agentId, connectionId: slot.id, heldMs, action: policy.action };
        this.#host.emit("holdexceeded", detail);
        if (policy.action === "cancel") void this.#open.track(this.#cancel(slot));
        else if (policy.action === "reclaim") void this.reclaim(slot);
      },
      policyFor: (agent) => this.#policies.get(agent.agentId) ?? o.holdPolicy,
    };
  }

  async #cancelThenDestroy(slot: Slot<T>): Promise<void> {
    await this.#cancel(slot);
    await this.#open.destroy(slot);
  }

  async #cancel(slot: Slot<T>): Promise<void> {
    try {
      await this.#options.factory.cancel?.(slot.connection);
    } catch (error) {
      this.#host.emit("error", { error, connectionId: slot.id, during: "cancel" });
    }
  }
}
