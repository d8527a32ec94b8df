/**
 * The checks of the pool's option values, one per kind of value, each throwing the package's one
 * message shape (checks.ts) with the subject "create pool" unless told otherwise.
 *
 * @module
 */

import { type CheckKind, checkDuration as checkDurationOption, checkInteger as checkIntegerOption, invalidOption } from "./checks.ts";
import type { ConnectionFactory } from "./factory.ts";
import type { HoldPolicy } from "./options.ts";

/** What the check is for, as in "Cannot create pool as ..." or "Cannot acquire as ...". */
export type Subject = "create pool" | "acquire" | "set the agent quota";

/**
 * Throws the `TypeError` / `RangeError` for a bad pool option (see checks.ts for the shape).
 *
 * @example
 * ```ts
 * import { fail } from "./pool_checks.ts";
 * const minConnections: number = 30;
 * if (minConnections > 20) fail("range", "minConnections", "at most 'maxConnections' (20)", minConnections);
 * ```
 */
export function fail(kind: CheckKind, option: string, rule: string, value: unknown, subject: string = "create pool"): never {
  invalidOption(kind, subject, option, rule, value);
}

/**
 * Checks an integer option: a number, whole, at least `min`; `Infinity` only when allowed.
 *
 * @example
 * ```ts
 * import { checkInteger } from "./pool_checks.ts";
 * checkInteger("maxConnections", 10, 1); // 10
 * checkInteger("maxConnections", 0, 1); // throws RangeError naming 'maxConnections'
 * ```
 */
export function checkInteger(option: string, value: unknown, min: number, allowInfinity = false): number {
  return checkIntegerOption("create pool", option, value, { min, allowInfinity });
}

/**
 * Checks a duration option: a positive number of milliseconds; `Infinity` only when allowed.
 *
 * @example
 * ```ts
 * import { checkDuration } from "./pool_checks.ts";
 * checkDuration("acquireTimeoutMs", 5000); // 5000
 * checkDuration("acquireTimeoutMs", Infinity, true); // Infinity
 * ```
 */
export function checkDuration(
  option: string,
  value: unknown,
  allowInfinity = false,
  subject: Subject = "create pool",
): number {
  return checkDurationOption(subject, option, value, allowInfinity);
}

/**
 * Checks a duration that may be switched off: 0 (off), a positive number, or Infinity.
 *
 * @example
 * ```ts
 * import { checkOptionalDuration } from "./pool_checks.ts";
 * checkOptionalDuration("leakDetectionMs", 0); // 0: off
 * ```
 */
export function checkOptionalDuration(option: string, value: unknown): number {
  const rule = "0 (off), a positive number of milliseconds, or Infinity";
  if (typeof value !== "number") fail("type", option, rule, value);
  if (Number.isNaN(value) || value < 0) fail("range", option, rule, value);
  return value;
}

/**
 * Checks a hold policy: `{ maxHoldMs, action }`; returns a frozen copy.
 *
 * @example
 * ```ts
 * import { checkHoldPolicy } from "./pool_checks.ts";
 * checkHoldPolicy("holdPolicy", { maxHoldMs: 30_000, action: "warn" }); // { maxHoldMs: 30000, action: "warn" }
 * ```
 */
export function checkHoldPolicy(option: string, value: unknown): HoldPolicy {
  const rule = "an object { maxHoldMs, action: 'warn' | 'cancel' | 'reclaim' }";
  if (typeof value !== "object" || value === null) fail("type", option, rule, value);
  const policy = value as HoldPolicy;
  checkDuration(`${option}.maxHoldMs`, policy.maxHoldMs, true);
  if (!["warn", "cancel", "reclaim"].includes(policy.action)) {
    fail("range", `${option}.action`, "'warn', 'cancel' or 'reclaim'", policy.action);
  }
  return Object.freeze({ maxHoldMs: policy.maxHoldMs, action: policy.action });
}

/**
 * Checks the connection factory: `create` and `destroy` functions, each optional hook a function.
 *
 * @example
 * ```ts
 * import { checkFactory } from "./pool_checks.ts";
 * const factory = checkFactory<{ id: number }>({ create: () => Promise.resolve({ id: 1 }), destroy: () => {} });
 * ```
 */
export function checkFactory<T>(factory: unknown): ConnectionFactory<T> {
  const rule = "an object with create() and destroy() functions";
  if (typeof factory !== "object" || factory === null) fail("type", "factory", rule, factory);
  const f = factory as Record<string, unknown>;
  for (const required of ["create", "destroy"]) {
    if (typeof f[required] !== "function") fail("type", `factory.${required}`, "a function", f[required]);
  }
  for (const hook of ["validate", "reset", "isFatal", "isBroken", "cancel"]) {
    if (f[hook] !== undefined && typeof f[hook] !== "function") fail("type", `factory.${hook}`, "a function", f[hook]);
  }
  return factory as ConnectionFactory<T>;
}

/**
 * The quota rule: `agentQuotas` (record or function), else `maxPerAgent`; every value checked
 * (a table's at once, a function's result per new agent).
 *
 * @example
 * ```ts
 * import { quotaRule } from "./pool_checks.ts";
 * const quotaOf = quotaRule({ planner: 8 }, 1);
 * quotaOf("planner"); // 8
 * quotaOf("worker-3"); // 1
 * ```
 */
export function quotaRule(agentQuotas: unknown, maxPerAgent: number): (agentId: string) => number {
  if (agentQuotas === undefined) return () => maxPerAgent;
  if (typeof agentQuotas === "function") {
    return (agentId) => {
      const quota = (agentQuotas as (id: string) => number | undefined)(agentId);
      return quota === undefined ? maxPerAgent : checkQuota(`agentQuotas('${agentId}')`, quota, "acquire");
    };
  }
  if (typeof agentQuotas !== "object" || agentQuotas === null) {
    fail("type", "agentQuotas", "an object of quotas by agent id, or a function of the agent id", agentQuotas);
  }
  const table = new Map<string, number>();
  for (const [agentId, quota] of Object.entries(agentQuotas)) table.set(agentId, checkQuota(`agentQuotas.${agentId}`, quota));
  return (agentId) => table.get(agentId) ?? maxPerAgent;
}

/**
 * Checks one agent quota: a non-negative integer or Infinity (0 makes the agent wait).
 *
 * @example
 * ```ts
 * checkQuota("maxPerAgent", 4); // 4
 * ```
 */
export function checkQuota(option: string, value: unknown, subject: Subject = "create pool"): number {
  const rule = "a non-negative integer or Infinity";
  if (typeof value !== "number") fail("type", option, rule, value, subject);
  if (value !== Infinity && (!Number.isInteger(value) || value < 0)) fail("range", option, rule, value, subject);
  return value;
}
