/**
 * Budget options: defaults and validation. A bad value throws at construction, naming the option
 * and the value, so a misconfigured budget never starts.
 *
 * @module
 */

import { type Clock, systemClock } from "../core/clock.ts";
import type { BudgetStore } from "./store.ts";

/**
 * Options of {@linkcode GlobalBudget}. Every duration ends in `Ms`.
 *
 * @example
 * ```ts
 * import { type BudgetOptions, postgresBudgetStore } from "agentpool";
 * const store = postgresBudgetStore("postgres://app@pgbouncer.internal:6432/agentpool_ctl");
 * const options: BudgetOptions = {
 *   name: "prod",
 *   holder: "host-a:4242",
 *   limits: { researcher: 6 },
 *   defaultLimit: 2,
 *   store,
 * };
 * ```
 */
export interface BudgetOptions {
  /** The budget's name: every process naming it shares its limits. Any characters. Required. */
  name: string;
  /** The lease table, e.g. `postgresBudgetStore(...)`. Required. */
  store: BudgetStore;
  /** This process's name in the lease table and in errors. Default `holder-<random>`; use host and pid. */
  holder?: string;
  /** Connections each named agent may hold across every process: a non-negative integer each. */
  limits?: Readonly<Record<string, number>>;
  /** The limit for every agent not named in `limits`. Default: such agents are not budgeted. */
  defaultLimit?: number;
  /** How often the process renews its leases. Default 1000. */
  tickMs?: number;
  /** How long a lease lives without renewal; a crashed process's share returns after it. Default 5000. */
  ttlMs?: number;
  /**
   * How long before its lease expires a process that cannot renew stops granting: at least your
   * longest transaction (bound it on the server with `statement_timeout` and
   * `idle_in_transaction_session_timeout`). Default 2000.
   */
  safetyMarginMs?: number;
  /** How often the odd units of an uneven split move to the next holder. Default 10000. */
  rotateMs?: number;
  /** Time source (injected in tests). Default: `performance.now()` and the global timers. */
  clock?: Clock;
}

/** {@linkcode BudgetOptions} with defaults applied and checked. */
export interface ResolvedBudgetOptions {
  readonly name: string;
  readonly store: BudgetStore;
  readonly holder: string;
  readonly limits: ReadonlyMap<string, number>;
  readonly defaultLimit: number | undefined;
  readonly tickMs: number;
  readonly ttlMs: number;
  readonly safetyMarginMs: number;
  readonly rotateMs: number;
  readonly clock: Clock;
}

const KNOWN = new Set([
  "name",
  "store",
  "holder",
  "limits",
  "defaultLimit",
  "tickMs",
  "ttlMs",
  "safetyMarginMs",
  "rotateMs",
  "clock",
]);

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return String(value);
  return Object.prototype.toString.call(value);
}

function fail(kind: "type" | "range", what: string, requirement: string, value: unknown): never {
  const message = `Cannot create budget as ${what} must be ${requirement}: current value is ${show(value)}`;
  throw kind === "type" ? new TypeError(message) : new RangeError(message);
}

function limitValue(what: string, value: unknown): number {
  if (typeof value !== "number") fail("type", what, "a non-negative integer", value);
  if (!Number.isInteger(value) || value < 0 || value > 1_000_000) {
    fail("range", what, "a non-negative integer (at most 1000000)", value);
  }
  return value;
}

function duration(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") fail("type", `'${name}'`, "a positive integer of milliseconds", value);
  if (!Number.isInteger(value) || value <= 0) fail("range", `'${name}'`, "a positive integer of milliseconds", value);
  return value;
}

function text(name: string, value: unknown, max: number): string {
  if (typeof value !== "string" || value === "") fail("type", `'${name}'`, "a non-empty string", value);
  if (value.length > max) fail("range", `'${name}'`, `at most ${max} characters long`, `${value.slice(0, 20)}…`);
  return value;
}

/**
 * Applies defaults and validates. Throws `TypeError` for a wrong type or an unknown option and
 * `RangeError` for an out-of-range value, naming the option and the value.
 *
 * @example
 * ```ts
 * import { type BudgetStore, resolveBudgetOptions } from "agentpool";
 * declare const store: BudgetStore;
 * resolveBudgetOptions({ name: "prod", store, limits: { researcher: -1 } });
 * // RangeError: Cannot create budget as 'limits.researcher' must be a non-negative integer ...: current value is -1
 * ```
 */
export function resolveBudgetOptions(options: BudgetOptions): ResolvedBudgetOptions {
  if (options === null || typeof options !== "object") fail("type", "its options", "an object", options);
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`Cannot create budget as '${key}' is not an option of a budget`);
  }
  const name = text("name", options.name, 200);
  const store = options.store;
  if (store === null || typeof store !== "object" || typeof store.renew !== "function" || typeof store.release !== "function") {
    fail("type", "'store'", "a BudgetStore (renew and release)", store);
  }
  const holder = options.holder === undefined
    ? `holder-${crypto.randomUUID().slice(0, 8)}`
    : text("holder", options.holder, 200);
  const limits = new Map<string, number>();
  if (options.limits !== undefined) {
    if (options.limits === null || typeof options.limits !== "object" || Array.isArray(options.limits)) {
      fail("type", "'limits'", "an object of agent ids to limits", options.limits);
    }
    for (const [agentId, limit] of Object.entries(options.limits)) {
      if (agentId === "") fail("type", "each agent id in 'limits'", "a non-empty string", agentId);
      limits.set(agentId, limitValue(`'limits.${agentId}'`, limit));
    }
  }
  const defaultLimit = options.defaultLimit === undefined ? undefined : limitValue("'defaultLimit'", options.defaultLimit);
  const tickMs = duration("tickMs", options.tickMs, 1000);
  const ttlMs = duration("ttlMs", options.ttlMs, 5000);
  const safetyMarginMs = duration("safetyMarginMs", options.safetyMarginMs, Math.min(2000, Math.floor(ttlMs * 0.4)));
  const rotateMs = duration("rotateMs", options.rotateMs, 10_000);
  // A lease must survive at least one failed renewal before the process stops granting.
  if (ttlMs - safetyMarginMs < 2 * tickMs) {
    fail("range", "'ttlMs' − 'safetyMarginMs'", `at least 2 × 'tickMs' (${2 * tickMs})`, ttlMs - safetyMarginMs);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== "function" || typeof clock.setTimeout !== "function") {
    fail("type", "'clock'", "a Clock (now, setTimeout, clearTimeout)", clock);
  }
  return { name, store, holder, limits, defaultLimit, tickMs, ttlMs, safetyMarginMs, rotateMs, clock };
}
