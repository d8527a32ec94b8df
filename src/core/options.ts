/**
 * Pool options: their types, their defaults, and their resolution (each value checked by
 * pool_checks.ts). Bad values throw at construction, naming the option and the value, so a
 * misconfigured pool never starts.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import { type AgentContext, defaultAgentContext } from "./context.ts";
import type { ConnectionFactory } from "./factory.ts";
import type { PoolMetrics } from "./metrics.ts";
import { noopMetrics } from "./metrics.ts";
import {
  checkDuration,
  checkFactory,
  checkHoldPolicy,
  checkInteger,
  checkOptionalDuration,
  fail,
  quotaRule,
} from "./pool_checks.ts";

/**
 * Options of {@linkcode AsyncConnectionPool}. Every duration ends in `Ms`.
 *
 * @example
 * ```ts
 * import type { ConnectionFactory, PoolOptions } from "agentpool";
 * declare const factory: ConnectionFactory<unknown>;
 * const options: PoolOptions<unknown> = {
 *   factory,
 *   minConnections: 5,
 *   maxConnections: 20,
 *   overflow: 10,
 *   acquireTimeoutMs: 5000,
 * };
 * ```
 */
export interface PoolOptions<T> {
  /** Opens and closes connections. Required. */
  factory: ConnectionFactory<T>;
  /** Connections kept open, created in the background at start. Default 5 (never above max). */
  minConnections?: number;
  /** Steady size of the pool. Default 20. */
  maxConnections?: number;
  /** Extra connections created on demand above `maxConnections`, closed again once returned with nobody waiting. Default 10. */
  overflow?: number;
  /**
   * How long a connection above `maxConnections` may sit idle before it is closed. 0 closes it the
   * moment it is returned with nobody waiting (SQLAlchemy's rule). The default 10000 (pg.Pool's
   * `idleTimeoutMillis`, HikariCP's smallest `idleTimeout`) keeps burst capacity open across the
   * lulls between bursts: with LIFO reuse the coldest connections sit idle between peaks, and a
   * shorter linger closed them only for the next peak to wait on new connects (and their
   * TLS/SCRAM handshakes). Closing happens on the housekeeper's next pass after that.
   */
  overflowIdleMs?: number;
  /** How long `acquire()` waits before failing. Default 5000; `Infinity` waits forever. */
  acquireTimeoutMs?: number;
  /** Pending acquires beyond this fail at once (`reason: "queue_full"`). Default 1000; `Infinity` for no bound. */
  maxWaiting?: number;
  /**
   * Connections one agent may hold at once, unless `agentQuotas` or `pool.setAgentQuota()` say
   * otherwise; further acquires by it wait for its own releases (`AGENT_QUOTA_TIMEOUT` at their
   * deadline). Default: unlimited.
   */
  maxPerAgent?: number;
  /**
   * Per-agent quotas overriding `maxPerAgent`: by agent id, or a function of the id (`undefined`
   * falls back to `maxPerAgent`); asked once per agent. E.g. `{ planner: 8 }` next to workers at 1.
   */
  agentQuotas?: Readonly<Record<string, number>> | ((agentId: string) => number | undefined);
  /**
   * Where acquires find their agent and parent lease (see `withAgent()`). Default: the context
   * installed by importing "agentpool" (AsyncLocalStorage); `null` for none, whatever is installed.
   */
  context?: AgentContext | null;
  /** How long one `factory.create()` may take before its signal aborts. Default 10000. */
  createTimeoutMs?: number;
  /** Validate a connection before handing it out when it sat idle longer than this; 0 = always. Default 500 (as HikariCP). */
  validateAfterIdleMs?: number;
  /** How long one validation may take before the connection counts as dead. Default 2000. */
  validationTimeoutMs?: number;
  /** Validate idle connections this often (±20 % jitter), so dead ones are found before a caller is. 0 = off. Default 120000. */
  keepaliveMs?: number;
  /** Retire connections after this age, jittered downwards by `lifetimeJitter`. 0 = off. Default 1800000 (30 min). */
  maxLifetimeMs?: number;
  /** Close idle connections above `minConnections` after this long. 0 = off. Default 300000 (5 min). */
  idleTimeoutMs?: number;
  /** Emit a `leak` event when a connection is held longer than this. 0 = off. Default 60000. */
  leakDetectionMs?: number;
  /** Record the acquire stack for leak events (~1 µs per acquire). Default false. */
  captureStacks?: boolean;
  /**
   * Read the clock on every borrow and return, so hold times are exact. `false` uses the time of
   * the last slow-path event or housekeeping pass instead (hold times then are accurate to about
   * `housekeepingIntervalMs`), saving two clock reads per cycle (~0.1 µs on Node, ~0.2 µs on
   * Deno). Default true.
   */
  preciseTiming?: boolean;
  /** What happens when an agent holds a connection too long; per-agent overrides in `agentPolicies`. Default: never. */
  holdPolicy?: HoldPolicy;
  /** Per-agent hold policies, by agent id. */
  agentPolicies?: Readonly<Record<string, HoldPolicy>>;
  /** Time source; inject one in tests. Default {@linkcode systemClock}. */
  clock?: Clock;
  /** Receives pool measurements. Default: a no-op tracker. */
  metrics?: PoolMetrics;
  /** A name for messages and metrics. Default "agentpool". */
  name?: string;
}

/**
 * Constants of the pool that no user should need to tune; tests (and only tests) override them.
 * Not exported from the package.
 */
export interface TuningOptions {
  /** Connections created at the same time while the database is healthy. Constant 2. */
  createConcurrency?: number;
  /** First retry delay after a failed create; doubles per failure, with full jitter. Constant 50. */
  createRetryInitialMs?: number;
  /**
   * Longest retry delay after failed creates. Constant 1000: with full jitter the prober then
   * tries about twice a second during an outage (a negligible load) and finds a database that
   * came back within about a second, so the pool serves again within 2 s.
   */
  createRetryMaxMs?: number;
  /** Fraction (0–1) of `maxLifetimeMs` taken off at random per connection, so they do not all expire together. Constant 0.25. */
  lifetimeJitter?: number;
  /**
   * Longest period of the housekeeper (one timer for idle timeout, lifetime, keepalive, leak and
   * hold checks). Constant 1000; it runs more often when a threshold is shorter (housekeeper.ts).
   */
  housekeepingIntervalMs?: number;
}

/**
 * What to do when an agent holds one connection longer than `maxHoldMs`:
 * - `warn`: emit a `holdexceeded` event (once per lease);
 * - `cancel`: also cancel the running query (`factory.cancel`);
 * - `reclaim`: cancel, fence the handle (later use throws `HANDLE_REVOKED`) and close the
 *   connection, which rolls back whatever it had open.
 */
export interface HoldPolicy {
  readonly maxHoldMs: number;
  readonly action: "warn" | "cancel" | "reclaim";
}

/** Options after defaults were applied and every value was checked. */
export interface ResolvedPoolOptions<T> {
  readonly factory: ConnectionFactory<T>;
  readonly minConnections: number;
  readonly maxConnections: number;
  readonly overflow: number;
  readonly overflowIdleMs: number;
  readonly acquireTimeoutMs: number;
  readonly maxWaiting: number;
  readonly maxPerAgent: number;
  /** The quota of an agent without a run-time override (throws RangeError for a bad `agentQuotas` value). */
  readonly quotaOf: (agentId: string) => number;
  readonly context: AgentContext | undefined;
  readonly createTimeoutMs: number;
  readonly createConcurrency: number;
  readonly createRetryInitialMs: number;
  readonly createRetryMaxMs: number;
  readonly validateAfterIdleMs: number;
  readonly validationTimeoutMs: number;
  readonly keepaliveMs: number;
  readonly maxLifetimeMs: number;
  readonly lifetimeJitter: number;
  readonly idleTimeoutMs: number;
  readonly housekeepingIntervalMs: number;
  readonly leakDetectionMs: number;
  readonly captureStacks: boolean;
  readonly preciseTiming: boolean;
  readonly holdPolicy: HoldPolicy | undefined;
  readonly agentPolicies: Readonly<Record<string, HoldPolicy>>;
  readonly clock: Clock;
  readonly metrics: PoolMetrics;
  readonly name: string;
}

/**
 * The documented defaults.
 *
 * @example
 * ```ts
 * import { DEFAULT_POOL_OPTIONS } from "agentpool";
 * DEFAULT_POOL_OPTIONS.maxConnections; // 20
 * ```
 */
export const DEFAULT_POOL_OPTIONS = Object.freeze({
  minConnections: 5,
  maxConnections: 20,
  overflow: 10,
  overflowIdleMs: 10_000,
  acquireTimeoutMs: 5000,
  maxWaiting: 1000,
  maxPerAgent: Infinity,
  createTimeoutMs: 10_000,
  createConcurrency: 2,
  createRetryInitialMs: 50,
  createRetryMaxMs: 1000,
  validateAfterIdleMs: 500,
  validationTimeoutMs: 2000,
  keepaliveMs: 120_000,
  maxLifetimeMs: 1_800_000,
  lifetimeJitter: 0.25,
  idleTimeoutMs: 300_000,
  housekeepingIntervalMs: 1000,
  leakDetectionMs: 60_000,
  captureStacks: false,
  preciseTiming: true,
  name: "agentpool",
});

/**
 * Applies defaults and validates every option.
 *
 * @example
 * ```ts
 * import type { ConnectionFactory } from "agentpool";
 * import { resolvePoolOptions } from "./options.ts";
 * declare const factory: ConnectionFactory<unknown>;
 * resolvePoolOptions({ factory, maxConnections: 0 }); // throws RangeError naming 'maxConnections'
 * ```
 */
export function resolvePoolOptions<T>(options: PoolOptions<T> & TuningOptions): ResolvedPoolOptions<T> {
  if (typeof options !== "object" || options === null) fail("type", "options", "an object", options);
  const d = DEFAULT_POOL_OPTIONS;
  const factory = checkFactory<T>(options.factory);
  const maxConnections = checkInteger("maxConnections", options.maxConnections ?? d.maxConnections, 1);
  const minConnections = checkInteger(
    "minConnections",
    options.minConnections ?? Math.min(d.minConnections, maxConnections),
    0,
  );
  if (minConnections > maxConnections) {
    fail("range", "minConnections", `at most 'maxConnections' (${maxConnections})`, minConnections);
  }
  const overflow = checkInteger("overflow", options.overflow ?? d.overflow, 0);
  const createConcurrency = checkInteger(
    "createConcurrency",
    options.createConcurrency ?? d.createConcurrency,
    1,
  );
  const createRetryInitialMs = checkDuration(
    "createRetryInitialMs",
    options.createRetryInitialMs ?? d.createRetryInitialMs,
  );
  const createRetryMaxMs = checkDuration("createRetryMaxMs", options.createRetryMaxMs ?? d.createRetryMaxMs);
  if (createRetryMaxMs < createRetryInitialMs) {
    fail("range", "createRetryMaxMs", `at least 'createRetryInitialMs' (${createRetryInitialMs})`, createRetryMaxMs);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== "function" || typeof clock.setTimeout !== "function" || typeof clock.clearTimeout !== "function") {
    fail("type", "clock", "an object with now(), setTimeout() and clearTimeout()", clock);
  }
  const lifetimeJitter = options.lifetimeJitter ?? d.lifetimeJitter;
  if (typeof lifetimeJitter !== "number") fail("type", "lifetimeJitter", "a number from 0 to 1", lifetimeJitter);
  if (!(lifetimeJitter >= 0 && lifetimeJitter <= 1)) {
    fail("range", "lifetimeJitter", "a number from 0 to 1", lifetimeJitter);
  }
  const captureStacks = options.captureStacks ?? d.captureStacks;
  if (typeof captureStacks !== "boolean") fail("type", "captureStacks", "a boolean", captureStacks);
  const preciseTiming = options.preciseTiming ?? d.preciseTiming;
  if (typeof preciseTiming !== "boolean") fail("type", "preciseTiming", "a boolean", preciseTiming);
  const agentPolicies: Record<string, HoldPolicy> = {};
  if (options.agentPolicies !== undefined) {
    if (typeof options.agentPolicies !== "object" || options.agentPolicies === null) {
      fail("type", "agentPolicies", "an object of hold policies by agent id", options.agentPolicies);
    }
    for (const [agentId, policy] of Object.entries(options.agentPolicies)) {
      agentPolicies[agentId] = checkHoldPolicy(`agentPolicies.${agentId}`, policy);
    }
  }
  const maxPerAgent = checkInteger("maxPerAgent", options.maxPerAgent ?? d.maxPerAgent, 1, true);
  const context = options.context === null ? undefined : options.context ?? defaultAgentContext();
  if (context !== undefined && (typeof context.run !== "function" || typeof context.get !== "function")) {
    fail("type", "context", "an object with run() and get(), or null", context);
  }
  const name = options.name ?? d.name;
  if (typeof name !== "string" || name === "") fail("type", "name", "a non-empty string", name);
  return Object.freeze({
    factory,
    minConnections,
    maxConnections,
    overflow,
    overflowIdleMs: checkOptionalDuration("overflowIdleMs", options.overflowIdleMs ?? d.overflowIdleMs),
    acquireTimeoutMs: checkDuration("acquireTimeoutMs", options.acquireTimeoutMs ?? d.acquireTimeoutMs, true),
    maxWaiting: checkInteger("maxWaiting", options.maxWaiting ?? d.maxWaiting, 0, true),
    maxPerAgent,
    quotaOf: quotaRule(options.agentQuotas, maxPerAgent),
    context,
    createTimeoutMs: checkDuration("createTimeoutMs", options.createTimeoutMs ?? d.createTimeoutMs),
    createConcurrency,
    createRetryInitialMs,
    createRetryMaxMs,
    validateAfterIdleMs: checkOptionalDuration("validateAfterIdleMs", options.validateAfterIdleMs ?? d.validateAfterIdleMs),
    validationTimeoutMs: checkDuration("validationTimeoutMs", options.validationTimeoutMs ?? d.validationTimeoutMs),
    keepaliveMs: checkOptionalDuration("keepaliveMs", options.keepaliveMs ?? d.keepaliveMs),
    maxLifetimeMs: checkOptionalDuration("maxLifetimeMs", options.maxLifetimeMs ?? d.maxLifetimeMs),
    lifetimeJitter,
    idleTimeoutMs: checkOptionalDuration("idleTimeoutMs", options.idleTimeoutMs ?? d.idleTimeoutMs),
    housekeepingIntervalMs: checkDuration(
      "housekeepingIntervalMs",
      options.housekeepingIntervalMs ?? d.housekeepingIntervalMs,
    ),
    leakDetectionMs: checkOptionalDuration("leakDetectionMs", options.leakDetectionMs ?? d.leakDetectionMs),
    captureStacks,
    preciseTiming,
    holdPolicy: options.holdPolicy === undefined ? undefined : checkHoldPolicy("holdPolicy", options.holdPolicy),
    agentPolicies: Object.freeze(agentPolicies),
    clock,
    metrics: options.metrics ?? noopMetrics,
    name,
  });
}
