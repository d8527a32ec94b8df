/**
 * The supply of connections, as the filler sees it: how many creates to start (demand not yet met,
 * within the cap), and what becomes of a connection once it opened. The cap counts everything that
 * holds or may hold a server session: open connections, creates in flight (abandoned or not) and
 * closes the driver has not finished.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ConnectionSet } from "./connections.ts";
import type { PoolCounters } from "./counters.ts";
import type { FillerHost } from "./filler.ts";
import type { PoolMetrics } from "./metrics.ts";
import type { Recovery } from "./recovery.ts";
import { Slot } from "./slot.ts";
import type { FairQueue } from "./waiters.ts";

/**
 * The parts of the pool (its engine) the supply reaches when a create settles. Read at each use,
 * not kept: the filler, and so the supply, is made before recovery and the return path exist.
 */
export interface SupplyHost<T> {
  readonly recovery: Recovery<T>;
  readonly closed: boolean;
  readonly counters: PoolCounters;
  readonly metrics: PoolMetrics;
  /** The return path: a new connection goes where a returned one would (the next waiter, idle, or closed). */
  readonly leases: { returnSlot(slot: Slot<T>): Promise<void> };
}

/** The sizes the supply works within. */
export interface SupplyLimits {
  /** Kept open even without demand. */
  readonly minConnections: number;
  /** maxConnections + overflow. */
  readonly cap: number;
}

/**
 * The filler's host: demand and room on one side, adoption of new connections on the other.
 *
 * @example
 * ```ts
 * import { type ConnectionFactory, systemClock } from "agentpool";
 * import { ConnectionSet } from "./connections.ts";
 * import { Filler } from "./filler.ts";
 * import { resolvePoolOptions } from "./options.ts";
 * import type { FairQueue } from "./waiters.ts";
 * declare const factory: ConnectionFactory<unknown>;
 * declare const set: ConnectionSet<unknown>;
 * declare const queue: FairQueue; // the waiting room's queue
 * declare const engine: SupplyHost<unknown>; // the pool: recovery, counters, the return path
 * const o = resolvePoolOptions({ factory, minConnections: 2, maxConnections: 10 });
 * const supply = new Supply(set, queue, { minConnections: 2, cap: 10 }, systemClock, console.error, engine);
 * const filler = new Filler(factory, systemClock, supply, o);
 * if (supply.roomToOpen(filler.creating) > 0) filler.kick();
 * ```
 */
export class Supply<T> implements FillerHost<T> {
  #set: ConnectionSet<T>;
  #queue: FairQueue;
  #limits: SupplyLimits;
  #clock: Clock;
  #emit: (type: string, detail: unknown) => void;
  #host: SupplyHost<T>;
  #nextId = 1;

  constructor(
    set: ConnectionSet<T>,
    queue: FairQueue,
    limits: SupplyLimits,
    clock: Clock,
    emit: (type: string, detail: unknown) => void,
    host: SupplyHost<T>,
  ) {
    this.#set = set;
    this.#queue = queue;
    this.#limits = limits;
    this.#clock = clock;
    this.#emit = emit;
    this.#host = host;
  }

  /** How many creates to start: demand not met by open connections and active creates, within the cap. */
  deficit(creating: number, active: number): number {
    const set = this.#set;
    const { cap, minConnections } = this.#limits;
    const wanted = Math.min(cap, Math.max(minConnections, set.usedCount + this.#queue.takeable));
    return Math.min(this.roomToOpen(creating), wanted - set.open - active);
  }

  /** Connections that may still be opened: the cap less open, creating and closing ones. */
  roomToOpen(creating: number): number {
    return this.#limits.cap - this.#set.open - creating - this.#set.closing.length;
  }

  /** A create succeeded: the connection joins the pool and goes to a waiter, idles, or closes. */
  adopt(connection: T, createMs: number): void {
    const host = this.#host;
    host.counters.created++;
    const now = this.#clock.now();
    const recovery = host.recovery;
    // Jittered lifetime and keepalive: connections opened together are not retired together.
    const slot = new Slot(this.#nextId++, connection, now, recovery.generation, recovery.expiresAt(now), recovery.keepaliveAt(now));
    this.#set.move(slot, "idle"); // open from now on; the return path hands it on, keeps or closes it
    void host.leases.returnSlot(slot);
    recovery.updateHealth(host.closed);
    host.metrics.created(createMs);
  }

  /** A create failed: counted, and the pool's health judged again. */
  createFailed(error: unknown, failures: number): void {
    const host = this.#host;
    host.counters.createErrors++;
    host.recovery.createFailed(error);
    host.recovery.updateHealth(host.closed);
    host.metrics.createFailed(error);
    this.#emit("createerror", { error, failures });
  }
}
