/**
 * Per-agent records: what an agent holds, what it waits for, and its lifetime counters. The record
 * doubles as the agent's waiter queue and its place in the fair rotation, so a hand-off touches
 * no extra map.
 *
 * @module
 */

import type { Waiter } from "./waiters.ts";

/**
 * The agent id used when `acquire()` is called without one.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * declare const pool: AsyncConnectionPool<unknown>;
 * await using handle = await pool.acquire(); // held by DEFAULT_AGENT_ID, "default"
 * ```
 */
export const DEFAULT_AGENT_ID = "default";

/**
 * One agent's live state and counters. Mutated only by the pool.
 *
 * @example
 * ```ts
 * const agent = new AgentRecord("planner-1", 3); // may hold 3 connections at once
 * agent.held; // 0
 * ```
 */
export class AgentRecord {
  // The fields every acquire and release touches come first, so they share a cache line or two
  // (10,000 agents round-robin: each record is cold when its turn comes).
  readonly agentId: string;
  /** Connections held right now. */
  held = 0;
  /** Acquires waiting right now. */
  pending = 0;
  /** Connections it may hold at once (its override, `agentQuotas`, else `maxPerAgent`). */
  quota: number;
  /** Refused until `pool.readmit()`. Revoked agents are never pruned. */
  revoked = false;
  /** Connections handed to this agent, ever. */
  acquired = 0;
  // This agent's FIFO of waiters (intrusive doubly linked list: O(1) push, shift, remove).
  /** @internal */ head: Waiter | null = null;
  /** Summed hold time of returned connections. */
  totalHoldMs = 0;
  /** Longest hold of a returned connection. */
  maxHoldMs = 0;
  /** Acquires that failed at their deadline. */
  timeouts = 0;
  /** Acquires refused at once (queue full, nested acquire, revoked). */
  rejected = 0;
  /** Acquires abandoned through their AbortSignal. */
  aborted = 0;
  /** Summed wait of the acquires that got a connection. */
  totalWaitMs = 0;
  /** Longest wait that got a connection. */
  maxWaitMs = 0;
  /** Leases that passed `leakDetectionMs`. */
  leaks = 0;
  /** Connections taken back by the pool (hold policy `reclaim`, or `revoke()`). */
  reclaimed = 0;
  /** Set by `pool.setAgentQuota`: the quota may change, so it never proves a deadlock. */
  quotaDynamic = false;
  /** Appended to its `AGENT_QUOTA_TIMEOUT` message (from `setAgentQuota`). */
  quotaWhy: (() => string) | undefined = undefined;
  /** @internal */ tail: Waiter | null = null;
  // Position in the round-robin rotation of agents that have waiters and may take a connection.
  /** @internal */ inRotation = false;
  /** @internal */ rotationPrev: AgentRecord | null = null;
  /** @internal */ rotationNext: AgentRecord | null = null;

  constructor(agentId: string, quota: number) {
    this.agentId = agentId;
    this.quota = quota;
  }
}

/**
 * The table of agents seen by a pool. Lookups are one `Map.get`.
 *
 * @example
 * ```ts
 * const registry = new AgentRegistry();
 * registry.get("planner-1").held; // 0
 * ```
 */
export class AgentRegistry {
  #agents = new Map<string, AgentRecord>();
  #quotaOf: (agentId: string) => number;

  /** `quotaOf(agentId)` gives a new record its quota (it may throw for a bad `agentQuotas` value). */
  constructor(quotaOf: (agentId: string) => number = () => Infinity) {
    this.#quotaOf = quotaOf;
  }

  /** The record of `agentId`, created on first use. */
  get(agentId: string): AgentRecord {
    let agent = this.#agents.get(agentId);
    if (agent === undefined) {
      agent = new AgentRecord(agentId, this.#quotaOf(agentId));
      this.#agents.set(agentId, agent);
    }
    return agent;
  }

  /** {@linkcode get}, with a bad `agentQuotas` value for a new agent returned as its error, not thrown. */
  tryGet(agentId: string): AgentRecord | Error {
    try {
      return this.get(agentId);
    } catch (error) {
      return error instanceof Error ? error : new RangeError(String(error));
    }
  }

  /** The record of `agentId` if the pool has seen it. */
  find(agentId: string): AgentRecord | undefined {
    return this.#agents.get(agentId);
  }

  /** Number of agents seen. */
  get size(): number {
    return this.#agents.size;
  }

  /** Every record, in first-seen order. */
  values(): IterableIterator<AgentRecord> {
    return this.#agents.values();
  }

  /**
   * Forgets agents that hold and wait for nothing, oldest first, until at most `keep` remain.
   * Revoked agents and agents with a quota set at run time are kept: forgetting them would undo it.
   */
  prune(keep: number): number {
    let removed = 0;
    for (const [id, agent] of this.#agents) {
      if (this.#agents.size <= keep) break;
      if (agent.held === 0 && agent.pending === 0 && !agent.revoked && !agent.quotaDynamic) {
        this.#agents.delete(id);
        removed++;
      }
    }
    return removed;
  }
}
