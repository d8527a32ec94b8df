/**
 * Recovery: health checks, retiring dead sessions, and the pool's health state.
 *
 * One dead session is one dead session: a fatal error retires that connection only. The whole
 * generation (every connection opened before) is evicted only on evidence that the server itself
 * went away: two strikes with no passing check in between, where a strike is a fatal error, a
 * failed check or a failed create. After the first strike one idle connection is checked at once
 * (and the next one handed out is checked before it leaves); a pass clears the suspicion. So one
 * `pg_terminate_backend` costs one check, and a restart keeps every stale idle connection from
 * being handed out once a second connection fails.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ConnectionSet } from "./connections.ts";
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
  returnSlot(slot: Slot<T>): void;
  /** A borrower's check failed and its connection closed: serve the waiters from the next one. */
  checkFailed(): void;
  emit(type: string, detail: unknown): void;
}

/**
 * Health checks, generation eviction and the health state of one pool.
 *
 * @example
 * ```ts
 * recovery.check(slot, true); // validate for a borrower, then return it to service or close it
 * recovery.strike();          // a fatal error, a failed check or a failed create
 * recovery.updateHealth(false);
 * ```
 */
export class Recovery<T> {
  /** Connections of older generations are retired (the server went away since they opened). */
  generation = 0;
  /** Checks running for borrowers (not keepalives): one per waiter, never one per idle connection. */
  borrowChecks = 0;
  #suspect = false;
  #health: PoolHealth = "healthy";
  #factory: ConnectionFactory<T>;
  #clock: Clock;
  #validateAfterIdleMs: number;
  #options: ResolvedPoolOptions<T>;
  #set: ConnectionSet<T>;
  #counters: PoolCounters;
  #creation: CreationStatus;
  #host: RecoveryHost<T>;

  constructor(
    options: ResolvedPoolOptions<T>,
    set: ConnectionSet<T>,
    counters: PoolCounters,
    creation: CreationStatus,
    host: RecoveryHost<T>,
  ) {
    this.#factory = options.factory;
    this.#clock = options.clock;
    this.#validateAfterIdleMs = options.factory.validate === undefined ? Infinity : options.validateAfterIdleMs;
    this.#options = options;
    this.#set = set;
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
    return this.#creation.failures > 0 && this.#set.open + this.#set.closing.length < cap;
  }

  /** Must this idle connection be checked before it is handed out? */
  needsCheck(slot: Slot<T>, now: number): boolean {
    return now - slot.checkedAt > this.#validateAfterIdleMs || (this.#suspect && this.#factory.validate !== undefined);
  }

  /** When a connection opened or checked at `now` is due its next keepalive (±20 % jitter). */
  keepaliveAt(now: number): number {
    const ms = this.#options.keepaliveMs;
    return this.#factory.validate !== undefined && ms > 0 ? now + ms * (1 - Math.random() * 0.2) : Infinity;
  }

  /** When a connection opened at `now` retires (lifetime jittered downwards). */
  expiresAt(now: number): number {
    const { maxLifetimeMs, lifetimeJitter } = this.#options;
    return maxLifetimeMs > 0 ? now + maxLifetimeMs * (1 - Math.random() * lifetimeJitter) : Infinity;
  }

  /** Takes a connection out of service to validate it; it comes back through the host, or is closed. */
  check(slot: Slot<T>, forBorrower: boolean): void {
    this.#set.move(slot, "validating");
    if (forBorrower) this.borrowChecks++;
    void this.#set.track(this.#validate(slot, forBorrower));
  }

  /**
   * Evidence that the server may have gone away. The first strike makes the pool suspicious and
   * checks one idle connection; a second before any check passed evicts the generation.
   */
  strike(): void {
    if (this.#suspect) {
      this.#evict();
      return;
    }
    this.#suspect = true;
    const probe = this.#set.idle.at(-1);
    if (probe !== undefined && this.#factory.validate !== undefined) this.check(probe, false);
  }

  /** Weaker evidence (a failed create: the server may also just be full): suspicion, a check, never an eviction. */
  suspect(): void {
    if (!this.#suspect) this.strike();
  }

  /** A fatal error on one connection (already on its way to closing). */
  onFatal(): void {
    this.#counters.fatalErrors++;
    this.strike();
  }

  /** Recomputes the health state and emits `statechange` when it moved. */
  updateHealth(closed: boolean): void {
    const failing = this.#creation.failures > 0;
    const next = healthOf({ failing, open: this.#set.open, closed });
    if (next === this.#health) return;
    const from = this.#health;
    this.#health = next;
    this.#host.emit("statechange", { from, to: next, cause: next === "healthy" ? undefined : this.#creation.lastError });
  }

  /** The server went away: every idle connection of the old generation is closed, the others when they return. */
  #evict(): void {
    this.#suspect = false;
    this.generation++;
    while (this.#set.idle.length > 0) void this.#set.destroy(this.#set.idle[this.#set.idle.length - 1]);
  }

  async #validate(slot: Slot<T>, forBorrower: boolean): Promise<void> {
    let alive: boolean;
    try {
      alive = await validateWithin(this.#factory, slot.connection, this.#clock, this.#options.validationTimeoutMs);
    } finally {
      if (forBorrower) this.borrowChecks--;
    }
    this.#counters.validations++;
    // Closed meanwhile (pool closed, or the generation evicted while it was being checked).
    if (slot.place !== "validating") return;
    if (alive) {
      this.#suspect = false;
      const now = this.#clock.now();
      slot.generation = this.generation;
      slot.checkedAt = now;
      slot.keepaliveAt = this.keepaliveAt(now);
      this.#host.returnSlot(slot);
      return;
    }
    this.#counters.validationFailures++;
    void this.#set.destroy(slot);
    this.strike();
    this.#host.checkFailed();
  }
}
