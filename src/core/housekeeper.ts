/**
 * Off the hot path, on one timer: idle timeout, jittered max lifetime, keepalive, leak detection
 * and per-agent hold policies.
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";
import type { Clock } from "./clock.ts";
import type { HoldPolicy, ResolvedPoolOptions } from "./options.ts";
import type { Slot } from "./slot.ts";

/** What a sweep may do to the pool. */
export interface SweepHost<T> {
  readonly idle: readonly Slot<T>[];
  /** The leased connections: a snapshot taken for this sweep, not a live list. */
  readonly used: readonly Slot<T>[];
  /** Open connections now. */
  readonly open: number;
  readonly minConnections: number;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  readonly overflowIdleMs: number;
  readonly leakDetectionMs: number;
  /** Close an idle connection. */
  retire(slot: Slot<T>): void;
  /** Take an idle connection out and validate it. */
  check(slot: Slot<T>): void;
  /** A lease passed `leakDetectionMs`. */
  leak(slot: Slot<T>, heldMs: number): void;
  /** A lease passed its agent's `maxHoldMs`. */
  holdExceeded(slot: Slot<T>, policy: HoldPolicy, heldMs: number): void;
  policyFor(agent: AgentRecord): HoldPolicy | undefined;
}

/**
 * One pass over the connections. Idle ones past their lifetime, idle too long while the pool is
 * above `minConnections`, or idle `overflowIdleMs` while it is above `maxConnections`, are closed;
 * idle ones due a keepalive are validated; held ones are checked against the leak threshold and
 * their agent's hold policy.
 *
 * @example
 * ```ts
 * import { systemClock } from "agentpool";
 * declare const host: SweepHost<unknown>; // the pool's connections, agents and options
 * sweep(host, systemClock.now());
 * ```
 */
export function sweep<T>(host: SweepHost<T>, now: number): void {
  let open = host.open;
  // Oldest-idle first, so the idle timeout shrinks the pool from its cold end (LIFO reuse).
  for (const slot of [...host.idle].sort((a, b) => a.lastUsedAt - b.lastUsedAt)) {
    const idleFor = now - slot.lastUsedAt;
    if (now >= slot.expiresAt) {
      host.retire(slot);
      open--;
    } else if (host.idleTimeoutMs > 0 && idleFor >= host.idleTimeoutMs && open > host.minConnections) {
      host.retire(slot);
      open--;
    } else if (open > host.maxConnections && idleFor >= host.overflowIdleMs) {
      // Above the steady size with nobody needing it: the burst is over.
      host.retire(slot);
      open--;
    } else if (now >= slot.keepaliveAt) {
      host.check(slot);
    }
  }
  for (const slot of host.used) { // a snapshot: the sweep may end leases
    if (slot.agent === null) continue;
    const heldMs = now - slot.heldSince;
    if (!slot.leakReported && host.leakDetectionMs > 0 && heldMs >= host.leakDetectionMs) {
      slot.leakReported = true;
      host.leak(slot, heldMs);
    }
    if (slot.holdReported || slot.agent === null) continue;
    const policy = host.policyFor(slot.agent);
    if (policy !== undefined && heldMs >= policy.maxHoldMs) {
      slot.holdReported = true;
      host.holdExceeded(slot, policy, heldMs);
    }
  }
}

/** The housekeeper never sleeps longer than this. */
const MAX_INTERVAL_MS = 1000;
/** Nor shorter. */
const MIN_INTERVAL_MS = 10;

/**
 * How often the housekeeper runs: every second, or often enough that the shortest threshold it
 * enforces (leak detection, a hold policy, the overflow linger) is met within a quarter of itself.
 *
 * @example
 * ```ts
 * import type { ConnectionFactory } from "agentpool";
 * import { resolvePoolOptions } from "./options.ts";
 * declare const factory: ConnectionFactory<unknown>;
 * housekeepingIntervalMs(resolvePoolOptions({ factory })); // 1000 with the defaults
 * housekeepingIntervalMs(resolvePoolOptions({ factory, leakDetectionMs: 100 })); // 25
 * ```
 */
export function housekeepingIntervalMs(options: ResolvedPoolOptions<unknown>): number {
  const thresholds = [options.leakDetectionMs, options.overflowIdleMs, options.holdPolicy?.maxHoldMs ?? 0];
  for (const policy of Object.values(options.agentPolicies)) thresholds.push(policy.maxHoldMs);
  let interval = options.housekeepingIntervalMs ?? MAX_INTERVAL_MS;
  for (const ms of thresholds) if (ms > 0 && ms !== Infinity) interval = Math.min(interval, ms / 4);
  return Math.max(MIN_INTERVAL_MS, Math.min(MAX_INTERVAL_MS, interval));
}

/**
 * The housekeeper's timer: runs `tick` every `intervalMs` until stopped. Unref'd where the
 * runtime allows, so a forgotten pool does not keep a process alive by housekeeping alone.
 *
 * @example
 * ```ts
 * import { systemClock } from "agentpool";
 * declare const host: SweepHost<unknown>;
 * const housekeeper = new Housekeeper(systemClock, 1000, () => sweep(host, systemClock.now()));
 * housekeeper.start();
 * housekeeper.stop();
 * ```
 */
export class Housekeeper {
  #clock: Clock;
  #intervalMs: number;
  #tick: () => void;
  #timer: unknown = undefined;
  #stopped = false;

  constructor(clock: Clock, intervalMs: number, tick: () => void) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#tick = tick;
  }

  /** Arms the timer (idempotent). */
  start(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.#timer = this.#clock.setTimeout(this.#run, this.#intervalMs);
    this.#clock.unref?.(this.#timer);
  }

  /** Clears the timer for good. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #run = (): void => {
    this.#timer = undefined;
    try {
      this.#tick();
    } finally {
      this.start();
    }
  };
}
