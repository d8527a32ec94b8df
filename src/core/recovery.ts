/**
 * Recovery: health checks, retiring dead sessions, and the pool's health state.
 *
 * One dead session is one dead session: a fatal error retires that connection only, and makes
 * the pool suspicious: one idle connection is checked at once (a probe), and while suspicious
 * every connection handed out from idle is checked first. A passing check, or any connection
 * returned without a fatal error, shows the server is there and ends the suspicion. A check that
 * fails while suspicious is the evidence that the server itself went away: the whole generation
 * is evicted (every idle connection opened before is closed, busy ones when they return). So one
 * `pg_terminate_backend` costs at most a check or two, and after a restart no stale idle
 * connection is handed out once a second connection has failed.
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
 * import type { Slot } from "./slot.ts";
 * declare const recovery: Recovery<unknown>; // one per pool, made by its engine
 * declare const slot: Slot<unknown>; // an idle connection
 * recovery.check(slot, "borrow"); // validate for a borrower, then return it to service or close it
 * recovery.onFatal();         // one session died: suspicious, one probe
 * recovery.updateHealth(false);
 * ```
 */
export class Recovery<T> {
  /** Connections of older generations are retired (the server went away since they opened). */
  generation = 0;
  /** Checks running for borrowers (not keepalives): one per waiter, never one per idle connection. */
  borrowChecks = 0;
  /** A fatal error (or failed create or check) was seen and no check has passed since. Read on the hot path. */
  suspicious = false;
  /** A probe (see suspect) is running. */
  #probing = false;
  #health: PoolHealth = "healthy";
  #factory: ConnectionFactory<T>;
  #clock: Clock;
  /** Infinity without `factory.validate`. */
  readonly validateAfterIdleMs: number;
  #options: ResolvedPoolOptions<T>;
  #set: ConnectionSet<T>;
  #counters: PoolCounters;
  #creation: CreationStatus;
  /** The last create failure was the server at its connection limit (see createFailed). */
  #failureAtCapacity = false;
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
    this.validateAfterIdleMs = options.factory.validate === undefined ? Infinity : options.validateAfterIdleMs;
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

  /** The last create failure while creates are failing, and whether it was the server at its connection limit. */
  get failure(): { readonly error: unknown; readonly atCapacity: boolean } | undefined {
    if (this.#creation.failures === 0) return undefined;
    return { error: this.#creation.lastError, atCapacity: this.#failureAtCapacity };
  }

  /**
   * A create failed. A server at its connection limit (`factory.atCapacity`) is there: no reason
   * to doubt the open connections. Any other failure may be the server gone: become suspicious.
   */
  createFailed(error: unknown): void {
    this.#failureAtCapacity = this.#atCapacity(error);
    if (!this.#failureAtCapacity) this.suspect();
  }

  /** A hook that throws proves nothing (reported on `error`): the failure counts as an outage. */
  #atCapacity(error: unknown): boolean {
    try {
      return this.#factory.atCapacity?.(error) === true;
    } catch (hookError) {
      this.#host.emit("error", { error: hookError, during: "factory.atCapacity" });
      return false;
    }
  }

  /** Creates are failing and there is room under `cap`: the database, not the pool, is the limit. */
  unavailable(cap: number): boolean {
    return this.#creation.failures > 0 && this.#set.open + this.#set.closing.length < cap;
  }

  /** Must this idle connection be checked before it is handed out? */
  needsCheck(slot: Slot<T>, now: number): boolean {
    return now - slot.checkedAt > this.validateAfterIdleMs || (this.suspicious && this.#factory.validate !== undefined);
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
  check(slot: Slot<T>, purpose: "borrow" | "probe" | "keepalive"): void {
    this.#set.move(slot, "validating");
    if (purpose === "borrow") this.borrowChecks++;
    if (purpose === "probe") this.#probing = true;
    void this.#set.track(this.#validate(slot, purpose));
  }

  /**
   * The server may have gone away (a fatal error, a failed create): become suspicious and probe
   * one idle connection, unless a probe is already running. Never evicts by itself.
   */
  suspect(): void {
    this.suspicious = true;
    if (this.#probing || this.#factory.validate === undefined) return;
    const idle = this.#set.idle;
    // A connection the driver already knows dead proves nothing: close it, probe the next.
    while (idle.length > 0 && this.#factory.isBroken?.(idle[idle.length - 1].connection) === true) {
      void this.#set.destroy(idle[idle.length - 1]);
    }
    if (idle.length === 0) return;
    this.check(idle[idle.length - 1], "probe");
  }

  /** A fatal error on one connection (already on its way to closing). */
  onFatal(): void {
    this.#counters.fatalErrors++;
    this.suspect();
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
    this.suspicious = false;
    this.generation++;
    while (this.#set.idle.length > 0) void this.#set.destroy(this.#set.idle[this.#set.idle.length - 1]);
  }

  async #validate(slot: Slot<T>, purpose: "borrow" | "probe" | "keepalive"): Promise<void> {
    let alive: boolean;
    try {
      alive = await validateWithin(this.#factory, slot.connection, this.#clock, this.#options.validationTimeoutMs);
    } finally {
      if (purpose === "borrow") this.borrowChecks--;
      if (purpose === "probe") this.#probing = false;
    }
    this.#counters.validations++;
    // Closed meanwhile (pool closed, or the generation evicted while it was being checked).
    if (slot.place !== "validating") return;
    if (alive) {
      this.suspicious = false;
      const now = this.#clock.now();
      slot.generation = this.generation;
      slot.checkedAt = now;
      slot.keepaliveAt = this.keepaliveAt(now);
      this.#host.returnSlot(slot);
      return;
    }
    this.#counters.validationFailures++;
    void this.#set.destroy(slot);
    // Failing while already suspicious: a second connection is dead, the server went away.
    if (this.suspicious) this.#evict();
    else this.suspect();
    this.#host.checkFailed();
  }
}
