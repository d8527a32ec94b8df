/**
 * The pool's machinery behind {@linkcode AsyncConnectionPool}, assembled: the collections
 * (`ConnectionSet`), the agents, the waiting room, the supply and filler, recovery, governance,
 * resets and the housekeeper, wired to the one borrow path and one return path (`Leases`). Also
 * what the parts report back to: a failed wait's error, close and the housekeeping sweep.
 * Internal: users see the pool class.
 *
 * @module
 */

import { type AgentRecord, AgentRegistry } from "./agents.ts";
import type { Clock } from "./clock.ts";
import { ConnectionSet } from "./connections.ts";
import { newCounters, type PoolCounters } from "./counters.ts";
import { type ExhaustedReason, PoolClosedError } from "./errors.ts";
import { exhaustedError } from "./exhausted.ts";
import { Filler } from "./filler.ts";
import { Governor } from "./governance.ts";
import { Housekeeper, housekeepingIntervalMs, sweep } from "./housekeeper.ts";
import { type LeaseParts, Leases } from "./leases.ts";
import type { PoolMetrics } from "./metrics.ts";
import type { ResolvedPoolOptions } from "./options.ts";
import { Recovery } from "./recovery.ts";
import { Resets } from "./reset.ts";
import { stateCounts, topHolders } from "./snapshots.ts";
import { Supply, type SupplyHost } from "./supply.ts";
import { type NestedRefusal, WaitingRoom } from "./waiting_room.ts";

/** Agents that hold and wait for nothing are forgotten beyond this many, oldest first. */
const MAX_IDLE_AGENTS = 10_000;

/**
 * State and machinery of one pool. `owner` is the public pool object: it issues the handles.
 *
 * @example
 * ```ts
 * import { type ConnectionFactory, noopMetrics } from "agentpool";
 * import { resolvePoolOptions } from "./options.ts";
 * declare const factory: ConnectionFactory<unknown>;
 * const owner = new EventTarget(); // the public pool object
 * const emit = (type: string, detail: unknown) => owner.dispatchEvent(new CustomEvent(type, { detail }));
 * const engine = new PoolEngine(owner, resolvePoolOptions({ factory }), noopMetrics, emit);
 * const handle = await engine.leases.acquire({ agentId: "a" });
 * await handle.release();
 * await engine.close();
 * ```
 */
export class PoolEngine<T> implements LeaseParts<T>, SupplyHost<T> {
  readonly set: ConnectionSet<T>;
  readonly agents: AgentRegistry;
  readonly room: WaitingRoom;
  readonly supply: Supply<T>;
  readonly filler: Filler<T>;
  readonly recovery: Recovery<T>;
  readonly governor: Governor<T>;
  readonly resets: Resets<T>;
  /** The borrow and return paths; made last, when every part they move connections between exists. */
  readonly leases: Leases<T>;
  readonly counters: PoolCounters = newCounters();
  readonly metrics: PoolMetrics;
  readonly cap: number;
  #options: ResolvedPoolOptions<T>;
  #clock: Clock;
  #housekeeper: Housekeeper;

  // The parts are made in dependency order; the hooks each is given read the others only when
  // called, which is never during construction (the first create starts at the end).
  constructor(owner: object, o: ResolvedPoolOptions<T>, metrics: PoolMetrics, emit: (type: string, detail: unknown) => void) {
    this.#options = o;
    this.#clock = o.clock;
    this.metrics = metrics;
    this.cap = o.maxConnections + o.overflow;
    this.agents = new AgentRegistry(o.quotaOf);
    this.set = new ConnectionSet(o.factory, {
      closed: () => {
        this.counters.destroyed++;
        this.recovery.updateHealth(this.closed);
        this.filler.kick();
        metrics.destroyed();
      },
      failed: (error, slot) => emit("error", { error, connectionId: slot.id, during: "destroy" }),
    });
    this.room = new WaitingRoom(o.clock, this.counters, o, {
      errorFor: (reason, agent, waitedMs, nested) => this.#exhaustedError(reason, agent, waitedMs, nested),
      expiryReason: (agent) =>
        agent.held >= agent.quota
          ? "agent_quota"
          : this.recovery.unavailable(this.cap)
          ? (this.recovery.failure?.atCapacity ? "at_capacity" : "unavailable")
          : "timeout",
      rejected: (agentId, reason) => metrics.rejected(agentId, reason),
    });
    const limits = { minConnections: o.minConnections, cap: this.cap };
    this.supply = new Supply(this.set, this.room.queue, limits, o.clock, emit, this);
    this.filler = new Filler(o.factory, o.clock, this.supply, o);
    this.recovery = new Recovery(o, this.set, this.counters, this.filler, {
      returnSlot: (slot) => void this.leases.returnSlot(slot),
      checkFailed: () => {
        this.leases.serveFromIdle();
        this.filler.kick();
      },
      emit,
    });
    this.governor = new Governor(o, this.agents, this.set, this.counters, {
      reclaimLease: (slot) => this.leases.reclaim(slot),
      refuseWaiters: (agent) => this.room.refuseAll(agent),
      check: (slot) => this.recovery.check(slot, "keepalive"),
      metrics,
      emit,
    });
    this.resets = new Resets(o.factory, this.set, {
      returnSlot: (slot, now) => this.leases.returnSlot(slot, now),
      failed: (error, slot) => emit("error", { error, connectionId: slot.id, during: "reset" }),
    });
    this.leases = new Leases(owner, o, this, emit);
    this.#housekeeper = new Housekeeper(o.clock, housekeepingIntervalMs(o), () => this.#sweep());
    this.#housekeeper.start();
    this.filler.kick();
  }

  /** Set by close(). */
  get closed(): boolean {
    return this.leases.closed;
  }

  /** Closes: waiters rejected, idle connections and creates closed, timers cleared. */
  async close(): Promise<void> {
    this.leases.closed = true;
    this.#housekeeper.stop();
    this.room.close(this.agents.values(), new PoolClosedError("The pool was closed while this acquire waited"));
    while (this.set.idle.length > 0) void this.set.destroy(this.set.idle[this.set.idle.length - 1]);
    await this.filler.close();
    await this.set.settle();
    this.recovery.updateHealth(true);
  }

  #exhaustedError(reason: ExhaustedReason, agent: AgentRecord, waitedMs: number, nested?: NestedRefusal): Error {
    return exhaustedError(reason, agent, waitedMs, {
      // Not stats(): a burst of timeouts must not walk every agent once per failed waiter.
      stats: stateCounts(this.set, this.cap, this.#options.maxConnections, this.room.queue.size, this.filler.creating),
      holders: topHolders(this.set.used, this.#clock.now(), 3),
      maxWaiting: this.#options.maxWaiting,
      failure: this.recovery.failure,
      nested,
    });
  }

  #sweep(): void {
    if (this.closed) return;
    const now = this.#clock.now();
    this.leases.observe(now);
    sweep(this.governor.sweepHost(), now);
    if (this.agents.size > MAX_IDLE_AGENTS) this.agents.prune(MAX_IDLE_AGENTS);
    this.filler.kick();
  }
}
