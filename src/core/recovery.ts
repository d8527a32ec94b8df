/**
 * Recovery: validating connections, retiring a whole generation after a fatal error, and the
 * pool's health state. A database restart kills every connection at once; one failed check of a
 * suspect connection retires all its peers, so callers are not handed N dead connections in turn.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { OpenConnections } from "./connections.ts";
import type { PoolCounters } from "./counters.ts";
import type { ConnectionFactory } from "./factory.ts";
import { healthOf, type PoolHealth } from "./health.ts";
import type { ResolvedPoolOptions } from "./options.ts";
import type { Slot } from "./slot.ts";
import { validateWithin } from "./validation.ts";

/** Where connection creation stands (the filler). */
export interface CreationStatus {
  readonly failures: number;
  readonly lastError: unknown;
}

/** What recovery needs from the pool. */
export interface RecoveryHost<T> {
  /** A connection that passed its check goes back into service. */
  returnSlot(slot: Slot<T>): Promise<void>;
  emit(type: string, detail: unknown): void;
}

/**
 * Health checks, generation eviction and the health state of one pool.
 *
 * @example
 * ```ts
 * recovery.check(slot);    // validate in the background, then return or close it
 * recovery.onFatal();      // every older connection becomes suspect
 * recovery.updateHealth(); // emits `statechange` when the state moved
 * ```
 */
export class Recovery<T> {
  /** Bumped by every fatal error; connections of older generations are suspect until re-checked. */
  generation = 0;
  #health: PoolHealth = "healthy";
  #factory: ConnectionFactory<T>;
  #clock: Clock;
  #options: ResolvedPoolOptions<T>;
  #open: OpenConnections<T>;
  #counters: PoolCounters;
  #creation: CreationStatus;
  #host: RecoveryHost<T>;

  constructor(
    options: ResolvedPoolOptions<T>,
    open: OpenConnections<T>,
    counters: PoolCounters,
    creation: CreationStatus,
    host: RecoveryHost<T>,
  ) {
    this.#options = options;
    this.#factory = options.factory;
    this.#clock = options.clock;
    this.#open = open;
    this.#counters = counters;
    this.#creation = creation;
    this.#host = host;
  }

  /** The current health state. */
  get health(): PoolHealth {
    return this.#health;
  }

  /** The last create failure while creates are failing, else undefined. */
  get failure(): { readonly error: unknown } | undefined {
    return this.#creation.failures > 0 ? { error: this.#creation.lastError } : undefined;
  }

  /** Creates are failing and there is room under `cap`: the database, not the pool, is the limit. */
  unavailable(cap: number): boolean {
    return this.#creation.failures > 0 && this.#open.size + this.#open.closing < cap;
  }

  /** When a connection opened or checked at `now` is due its next keepalive (±20 % jitter). */
  keepaliveAt(now: number): number {
    const ms = this.#options.keepaliveMs;
    return ms > 0 ? now + ms * (1 - Math.random() * 0.2) : Infinity;
  }

  /** When a connection opened at `now` retires (lifetime jittered downwards). */
  expiresAt(now: number): number {
    const { maxLifetimeMs, lifetimeJitter } = this.#options;
    return maxLifetimeMs > 0 ? now + maxLifetimeMs * (1 - Math.random() * lifetimeJitter) : Infinity;
  }

  /** Takes a connection out of service to validate it; it comes back through the host, or is closed. */
  check(slot: Slot<T>): void {
    slot.state = "validating";
    void this.#open.track(this.#validate(slot));
  }

  /** A fatal error: older connections become suspect; idle ones are checked (or closed) now. */
  onFatal(): void {
    this.#counters.fatalErrors++;
    this.generation++;
    for (const slot of [...this.#open.idle]) {
      this.#open.removeIdle(slot);
      if (this.#factory.isBroken?.(slot.connection) === true) void this.#open.destroy(slot);
      else this.check(slot);
    }
  }

  /** Recomputes the health state and emits `statechange` when it moved. */
  updateHealth(closed: boolean): void {
    const failing = this.#creation.failures > 0;
    const next = healthOf({ failing, open: this.#open.size, closed });
    if (next === this.#health) return;
    const from = this.#health;
    this.#health = next;
    this.#host.emit("statechange", { from, to: next, cause: next === "healthy" ? undefined : this.#creation.lastError });
  }

  async #validate(slot: Slot<T>): Promise<void> {
    const suspect = slot.generation < this.generation;
    const alive = await validateWithin(this.#factory, slot.connection, this.#clock, this.#options.validationTimeoutMs);
    this.#counters.validations++;
    if (!this.#open.slots.has(slot)) return;
    if (alive) {
      const now = this.#clock.now();
      slot.generation = this.generation;
      slot.checkedAt = now;
      slot.keepaliveAt = this.keepaliveAt(now);
      return this.#host.returnSlot(slot);
    }
    this.#counters.validationFailures++;
    await this.#open.destroy(slot);
    // A suspect failed too: the server restarted, so every older idle connection is dead as well.
    if (suspect) {
      for (const other of [...this.#open.idle]) if (other.generation < this.generation) void this.#open.destroy(other);
    }
  }
}
