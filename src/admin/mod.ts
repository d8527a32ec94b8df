/**
 * agentpool's Hono admin router (the `agentpool/hono` export): JSON views of the pool, Prometheus
 * metrics, a health probe, agent revocation and a live dashboard, served by one Hono app that runs
 * unchanged on Deno.serve, Bun.serve and @hono/node-server. The only part of agentpool that
 * imports `hono` (an optional peer dependency).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { AsyncConnectionPool, createMetrics } from "agentpool";
 * import { adminRouter } from "agentpool/hono";
 * const factory = { create: () => Promise.resolve({}), destroy: () => {} };
 * const pool = new AsyncConnectionPool({ factory, metrics: createMetrics() });
 * const app = new Hono().route("/pool", adminRouter(pool, { token: "change-me", publicReads: false }));
 * // GET /pool → dashboard · /pool/stats · /pool/agents · /pool/connections · /pool/metrics · /pool/health
 * ```
 *
 * @module
 */

export { adminRouter, type AdminRouterOptions } from "./router.ts";
export type { AdminApp, AdminError } from "./app_type.ts";
export type { AdminPool } from "./pool_view.ts";
export { type HealthReport, type HealthStatus, HealthWatcher } from "./health.ts";
export { busiestFirst, type PoolSnapshot, type WaitDistribution } from "./snapshot.ts";
export type { HistorySample } from "./history.ts";
export { redactSecrets } from "./redact.ts";
