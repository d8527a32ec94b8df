/**
 * Governance of agents: hold policies (warn, cancel, reclaim), leak reports, and revocation. All
 * of it runs off the hot path, from the housekeeper or on an explicit call.
 *
 * @module
 */

import type { AgentRecord, AgentRegistry } from "./agents.ts";
import type { ConnectionSet } from "./connections.ts";
import type { PoolCounters } from "./counters.ts";
import { PooledConnection } from "./handle.ts";
import type { SweepHost } from "./housekeeper.ts";
import type { PoolMetrics } from "./metrics.ts";
import type { HoldPolicy, ResolvedPoolOptions } from "./options.ts";
import type { Slot } from "./slot.ts";

/** What governance needs from the pool. */
export interface GovernorHost<T> {
  /** Ends the lease on `slot` from the pool's side (counted as reclaimed, not released). */
  reclaimLease(slot: Slot<T>): void;
  /** Rejects every waiter of `agent` with reason `revoked`. */
  refuseWaiters(agent: AgentRecord): void;
  /** Validates an idle connection in the background (a keepalive). */
  check(slot: Slot<T>): void;
  /** The pool's guarded metrics sink. */
  readonly metrics: PoolMetrics;
  emit(type: string, detail: unknown): void;
}

/**
 * Per-agent policies, leak detection, reclaim and revoke.
 *
 * @example
 * ```ts
 * declare const governor: Governor<unknown>; // one per pool, made by its engine
 * governor.setAgentPolicy("runaway-7", { maxHoldMs: 30_000, action: "reclaim" });
 * await governor.revoke("runaway-7");
 * ```
 */
export class Governor<T> {
  #policies = new Map<string, HoldPolicy>();
  #options: ResolvedPoolOptions<T>;
  #agents: AgentRegistry;
  #set: ConnectionSet<T>;
  #counters: PoolCounters;
  #host: GovernorHost<T>;

  constructor(
    options: ResolvedPoolOptions<T>,
    agents: AgentRegistry,
    set: ConnectionSet<T>,
    counters: PoolCounters,
    host: GovernorHost<T>,
  ) {
    this.#options = options;
    this.#agents = agents;
    this.#set = set;
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
    for (const slot of this.#set.used) if (slot.agent === agent) reclaims.push(this.reclaim(slot));
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

  /**
   * Takes a connection back from its holder: fence the handle, cancel what runs, close it. It goes
   * to no other lease: it is closed once the cancel settled.
   */
  reclaim(slot: Slot<T>): Promise<void> {
    PooledConnection.revoke(slot.lease as PooledConnection<unknown>);
    this.#host.reclaimLease(slot);
    this.#set.move(slot, "resetting");
    return this.#set.track(this.#cancelThenDestroy(slot));
  }

  /** The housekeeper's view of the pool, acting through this governor. */
  sweepHost(): SweepHost<T> {
    const o = this.#options;
    return {
      idle: this.#set.idle,
      used: this.#set.used,
      open: this.#set.open,
      minConnections: o.minConnections,
      maxConnections: o.maxConnections,
      idleTimeoutMs: o.idleTimeoutMs,
      overflowIdleMs: o.overflowIdleMs,
      leakDetectionMs: o.leakDetectionMs,
      retire: (slot) => void this.#set.destroy(slot),
      check: (slot) => this.#host.check(slot),
      leak: (slot, heldMs) => {
        slot.agent!.leaks++;
        this.#counters.leaks++;
        this.#host.metrics.leaked?.(slot.agent!.agentId, heldMs);
        this.#host.emit("leak", { agentId: slot.agent!.agentId, connectionId: slot.id, heldMs, stack: slot.stack });
      },
      holdExceeded: (slot, policy, heldMs) => {
        const detail = { agentId: slot.agent!.agentId, connectionId: slot.id, heldMs, action: policy.action };
        // The action first, the listeners after: a listener cannot see (or break) a half-done step.
        if (policy.action === "cancel") this.#cancelInPlace(slot);
        else if (policy.action === "reclaim") void this.reclaim(slot);
        this.#host.emit("holdexceeded", detail);
      },
      policyFor: (agent) => this.#policies.get(agent.agentId) ?? o.holdPolicy,
    };
  }

  /** Cancels what the holder runs; until the cancel settles, a release keeps it from every other lease. */
  #cancelInPlace(slot: Slot<T>): void {
    const cancelling = this.#cancel(slot).then(() => {
      if (slot.cancelling === cancelling) slot.cancelling = undefined;
    });
    slot.cancelling = cancelling;
    void this.#set.track(cancelling);
  }

  async #cancelThenDestroy(slot: Slot<T>): Promise<void> {
    await this.#cancel(slot);
    await this.#set.destroy(slot);
  }

  async #cancel(slot: Slot<T>): Promise<void> {
    try {
      await this.#options.factory.cancel?.(slot.connection);
    } catch (error) {
      this.#host.emit("error", { error, connectionId: slot.id, during: "cancel" });
    }
  }
}
