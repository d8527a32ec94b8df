/**
 * The facade's constructor options: pg's `PoolConfig` (each key meaning what it means in pg) plus
 * agentpool's own pool options, checked together and split into the client config, the core
 * pool's options and the facade's own settings.
 *
 * @module
 */

import type pg from "pg";
import type { PoolOptions } from "../core/options.ts";
import type { PgClientClass } from "./factory.ts";
import { checkInteger, invalidOption } from "../core/checks.ts";

/**
 * agentpool's own options the facade passes to the core pool (everything but `factory`).
 *
 * @example
 * ```ts
 * import type { AgentpoolOptions } from "agentpool/pg";
 * const own: AgentpoolOptions = { maxPerAgent: 4, holdPolicy: { maxHoldMs: 30_000, action: "cancel" } };
 * ```
 */
export type AgentpoolOptions = Omit<PoolOptions<pg.Client>, "factory">;

/**
 * Options of the pg-compatible {@linkcode Pool}: pg's `PoolConfig` and agentpool's pool options.
 *
 * @example
 * ```ts
 * import type { PgPoolConfig } from "agentpool/pg";
 * const config: PgPoolConfig = { connectionString: "postgres://app@127.0.0.1/app", max: 20, maxPerAgent: 4, defaultAgent: "web" };
 * ```
 */
export interface PgPoolConfig extends Omit<pg.PoolConfig, "Client" | "onConnect" | "verify">, AgentpoolOptions {
  /** The client class (pg-pool's `Client`). Default `pg.Client`. */
  Client?: PgClientClass;
  /** Awaited on every new client before its first lease; a throw fails that connect (pg-pool). */
  onConnect?: (client: pg.Client) => void | Promise<void>;
  /** pg-pool's `verify(client, done)`: run on every new client before its first lease. */
  verify?: (client: pg.Client, done: (error?: Error) => void) => void;
  /** The agent that work outside any `withAgent()` is attributed to. Default `"default"`. */
  defaultAgent?: string;
  /** How long closing one client may take before its socket is dropped. Default 5000. */
  endTimeoutMs?: number;
  /** How long a protocol-level cancel may take to be delivered. Default 2000. */
  cancelTimeoutMs?: number;
}

/** pg's `PoolConfig` keys handled by the facade itself. */
const PG_POOL_KEYS = new Set([
  "max",
  "min",
  "idleTimeoutMillis",
  "connectionTimeoutMillis",
  "maxLifetimeSeconds",
  "maxUses",
  "allowExitOnIdle",
  "Client",
  "onConnect",
  "verify",
  "log",
  "Promise",
]);
/** pg's `ClientConfig` keys, handed to every client as they are. */
const PG_CLIENT_KEYS = new Set([
  "user",
  "database",
  "password",
  "port",
  "host",
  "connectionString",
  "keepAlive",
  "keepAliveInitialDelayMillis",
  "stream",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "query_timeout",
  "ssl",
  "sslnegotiation",
  "enableChannelBinding",
  "scramMaxIterations",
  "application_name",
  "fallback_application_name",
  "types",
  "options",
  "client_encoding",
  "binary",
  "parseInputDatesAsUTC",
  "pipeline",
  "replication",
]);
/** agentpool's own keys (core pool options and the facade's). */
const OWN_KEYS = new Set([
  "minConnections",
  "maxConnections",
  "overflow",
  "overflowIdleMs",
  "acquireTimeoutMs",
  "maxWaiting",
  "maxPerAgent",
  "agentQuotas",
  "context",
  "createTimeoutMs",
  "validateAfterIdleMs",
  "validationTimeoutMs",
  "keepaliveMs",
  "maxLifetimeMs",
  "idleTimeoutMs",
  "leakDetectionMs",
  "captureStacks",
  "preciseTiming",
  "holdPolicy",
  "agentPolicies",
  "clock",
  "metrics",
  "name",
  "defaultAgent",
  "endTimeoutMs",
  "cancelTimeoutMs",
]);
/** pg keys and the agentpool option they set: giving both is contradictory. */
const SAME_MEANING: ReadonlyArray<readonly [string, string]> = [
  ["max", "maxConnections"],
  ["min", "minConnections"],
  ["idleTimeoutMillis", "idleTimeoutMs"],
  ["connectionTimeoutMillis", "acquireTimeoutMs"],
  ["maxLifetimeSeconds", "maxLifetimeMs"],
];

/**
 * The config, split and checked.
 *
 * @example
 * ```ts
 * import { resolvePgPoolConfig, type ResolvedPgPoolConfig } from "./config.ts";
 * const resolved: ResolvedPgPoolConfig = resolvePgPoolConfig({ max: 4 });
 * resolved.core.maxConnections; // 4
 * ```
 */
export interface ResolvedPgPoolConfig {
  /** What every `pg.Client` is constructed with. */
  readonly client: pg.ClientConfig;
  /** The core pool's options (minus the factory). */
  readonly core: AgentpoolOptions;
  /** `pool.options`: the config with pg-pool's defaults applied, the password not enumerable. */
  readonly options: Record<string, unknown> & { readonly name: string };
  readonly Client: PgClientClass | undefined;
  readonly onConnect: PgPoolConfig["onConnect"];
  readonly verify: PgPoolConfig["verify"];
  readonly defaultAgent: string;
  readonly maxUses: number;
  readonly allowExitOnIdle: boolean;
  readonly endTimeoutMs: number | undefined;
  readonly cancelTimeoutMs: number | undefined;
}

function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : typeof value === "function" ? "a function" : String(value);
}

/** A function is shown as "a function", never as its source. */
const AS_FUNCTION = { toString: (): string => "a function" };

function fail(key: string, rule: string, value: unknown, range = false): never {
  return invalidOption(range ? "range" : "type", "create pool", key, rule, typeof value === "function" ? AS_FUNCTION : value);
}

function integer(key: string, value: unknown, min: number, allowInfinity = false): number {
  return checkInteger("create pool", key, value, { min, allowInfinity });
}

function millis(key: string, value: unknown): number {
  if (typeof value !== "number") fail(key, "a non-negative number (0 = off)", value);
  if (!(value >= 0)) fail(key, "a non-negative number (0 = off)", value, true);
  return value;
}

/**
 * Checks `config` and splits it. Throws `TypeError` / `RangeError` naming the key and its value
 * (never a password) for an unknown key, a bad value, or a contradiction such as `min > max`.
 *
 * @example
 * ```ts
 * import { resolvePgPoolConfig } from "./config.ts";
 * resolvePgPoolConfig({ max: 2, min: 5 }); // RangeError: ... 'min' must be at most 'max' (2): current value is 5
 * ```
 */
export function resolvePgPoolConfig(config: PgPoolConfig | string | undefined): ResolvedPgPoolConfig {
  if (typeof config === "string") config = { connectionString: config };
  if (config === undefined) config = {};
  if (typeof config !== "object" || config === null) fail("config", "an object", config);
  const given = config as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!PG_POOL_KEYS.has(key) && !PG_CLIENT_KEYS.has(key) && !OWN_KEYS.has(key)) {
      // Never echo a value: an unknown key may be a misspelt password.
      throw new TypeError(`Cannot create pool as '${key}' is not a pg PoolConfig key or an agentpool option`);
    }
  }
  for (const [pgKey, ownKey] of SAME_MEANING) {
    if (given[pgKey] !== undefined && given[ownKey] !== undefined) {
      throw new TypeError(`Cannot create pool as '${pgKey}' and '${ownKey}' both set the same thing: current values are ${shown(given[pgKey])} and ${shown(given[ownKey])}`);
    }
  }
  const max = integer("max", given.max ?? given.maxConnections ?? 10, 1);
  const min = integer("min", given.min ?? given.minConnections ?? 0, 0);
  if (min > max) fail(given.min !== undefined ? "min" : "minConnections", `at most '${given.max !== undefined ? "max" : "maxConnections"}' (${max})`, min, true);
  const maxUses = integer("maxUses", given.maxUses ?? Infinity, 1, true);
  const allowExitOnIdle = given.allowExitOnIdle ?? false;
  if (typeof allowExitOnIdle !== "boolean") fail("allowExitOnIdle", "a boolean", allowExitOnIdle);
  for (const hook of ["onConnect", "verify", "log", "Client"]) {
    if (given[hook] !== undefined && typeof given[hook] !== "function") fail(hook, "a function", given[hook]);
  }
  if (given.Promise !== undefined && given.Promise !== Promise) fail("Promise", "the global Promise (custom Promise libraries are not supported)", given.Promise, true);
  const defaultAgent = given.defaultAgent ?? "default";
  if (typeof defaultAgent !== "string" || defaultAgent === "") fail("defaultAgent", "a non-empty string", defaultAgent);

  const client: Record<string, unknown> = {};
  for (const key of PG_CLIENT_KEYS) if (key in given) client[key] = given[key];
  if (given.connectionTimeoutMillis !== undefined) client.connectionTimeoutMillis = given.connectionTimeoutMillis;
  if (client.application_name === undefined && client.fallback_application_name === undefined) {
    client.fallback_application_name = "agentpool";
  }

  const core: Record<string, unknown> = { overflow: 0 }; // pg's max is a hard cap
  for (const key of OWN_KEYS) if (given[key] !== undefined) core[key] = given[key];
  for (const key of ["defaultAgent", "endTimeoutMs", "cancelTimeoutMs"]) delete core[key];
  core.maxConnections = max;
  core.minConnections = min;
  if (given.idleTimeoutMillis !== undefined) core.idleTimeoutMs = millis("idleTimeoutMillis", given.idleTimeoutMillis);
  else if (given.idleTimeoutMs === undefined) core.idleTimeoutMs = 10_000; // pg-pool's default
  if (given.connectionTimeoutMillis !== undefined) {
    const ms = millis("connectionTimeoutMillis", given.connectionTimeoutMillis);
    core.acquireTimeoutMs = ms === 0 ? Infinity : ms; // 0: pg waits forever
  }
  if (given.maxLifetimeSeconds !== undefined) core.maxLifetimeMs = millis("maxLifetimeSeconds", given.maxLifetimeSeconds) * 1000;

  // pool.options as pg-pool shows it, plus what the admin router reads (name, metrics).
  const options: Record<string, unknown> = { ...given, max, min, maxUses, allowExitOnIdle };
  options.idleTimeoutMillis = given.idleTimeoutMillis ?? (given.idleTimeoutMs === undefined ? 10_000 : given.idleTimeoutMs);
  options.maxLifetimeSeconds = given.maxLifetimeSeconds ?? 0;
  options.name = given.name ?? "agentpool";
  if ("password" in given) {
    Object.defineProperty(options, "password", { value: given.password, enumerable: false, writable: true, configurable: true });
  }
  return {
    client: client as pg.ClientConfig,
    core: core as AgentpoolOptions,
    options: options as ResolvedPgPoolConfig["options"],
    Client: given.Client as PgClientClass | undefined,
    onConnect: given.onConnect as PgPoolConfig["onConnect"],
    verify: given.verify as PgPoolConfig["verify"],
    defaultAgent,
    maxUses,
    allowExitOnIdle,
    endTimeoutMs: given.endTimeoutMs as number | undefined,
    cancelTimeoutMs: given.cancelTimeoutMs as number | undefined,
  };
}
