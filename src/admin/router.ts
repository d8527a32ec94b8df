/**
 * `adminRouter(pool, options)`: a Hono app with the pool's JSON views, Prometheus metrics, a
 * health probe, agent revocation and a live HTML dashboard. Mount it anywhere with
 * `app.route("/pool", adminRouter(pool, { token }))`. Runtime-neutral: the same app runs on
 * Deno.serve, Bun.serve and @hono/node-server.
 *
 * @module
 */

import { type Context, Hono, type MiddlewareHandler } from "hono";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "../core/prometheus.ts";
import { type Access, type AuthPolicy, denyReason } from "./auth.ts";
import { DASHBOARD_CSS } from "./dashboard_css.ts";
import { DASHBOARD_JS } from "./dashboard_js.ts";
import { dashboardHtml } from "./dashboard_page.ts";
import { HealthWatcher } from "./health.ts";
import { GaugeHistory } from "./history.ts";
import type { AdminPool } from "./pool_view.ts";
import { redactedJson, redactSecrets } from "./redact.ts";
import { buildSnapshot } from "./snapshot.ts";

/**
 * Options of {@linkcode adminRouter}.
 *
 * @example Token for everything; reads open too
 * ```ts
 * import type { AdminRouterOptions } from "agentpool/hono";
 * const options: AdminRouterOptions = { token: process.env.ADMIN_TOKEN, publicReads: true, refreshMs: 2000 };
 * ```
 */
export interface AdminRouterOptions {
  /**
   * Bearer token (`Authorization: Bearer <token>`) for every route except the dashboard shell and
   * its assets. Without it, mutating routes answer 401 and reads need `publicReads: true`.
   */
  token?: string;
  /** Serve the read routes (stats, agents, connections, snapshot, metrics, health) without a token. Default false. */
  publicReads?: boolean;
  /** Dashboard title. Default: the pool's `name`. */
  title?: string;
  /** How often the dashboard polls, in ms. Default 1000. */
  refreshMs?: number;
  /** Samples of used/idle/pending kept for the dashboard chart (one per `refreshMs` at most). Default 300 (5 min at 1 s). */
  historySize?: number;
  /** Agents listed in `GET /snapshot` (busiest first). Default 100. */
  maxAgentRows?: number;
}

interface Resolved {
  policy: AuthPolicy;
  title: string;
  refreshMs: number;
  historySize: number;
  maxAgentRows: number;
}

function invalid(kind: "type" | "range", option: string, rule: string, value: unknown): never {
  const shown = typeof value === "string" ? JSON.stringify(option === "token" ? "***" : value) : String(value);
  const message = `Cannot create admin router as '${option}' must be ${rule}: current value is ${shown}`;
  throw kind === "type" ? new TypeError(message) : new RangeError(message);
}

function positiveInteger(option: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") invalid("type", option, `an integer of at least ${min}`, value);
  if (!Number.isInteger(value) || value < min) invalid("range", option, `an integer of at least ${min}`, value);
  return value;
}

function resolveOptions(pool: AdminPool, options: AdminRouterOptions): Resolved {
  if (typeof options !== "object" || options === null) invalid("type", "options", "an object", options);
  const { token, publicReads = false, title = pool.options.name } = options;
  if (token !== undefined && (typeof token !== "string" || token.trim() === "" || /\s/.test(token))) {
    invalid("type", "token", "a non-empty string without whitespace", token);
  }
  if (typeof publicReads !== "boolean") invalid("type", "publicReads", "a boolean", publicReads);
  if (token === undefined && !publicReads) {
    throw new TypeError(
      "Cannot create admin router as neither 'token' nor 'publicReads: true' is set: every route would refuse; pass a token, or publicReads: true for an open read-only view",
    );
  }
  if (typeof title !== "string") invalid("type", "title", "a string", title);
  return {
    policy: { token, publicReads },
    title: redactSecrets(title),
    refreshMs: positiveInteger("refreshMs", options.refreshMs, 1000, 100),
    historySize: positiveInteger("historySize", options.historySize, 300, 2),
    maxAgentRows: positiveInteger("maxAgentRows", options.maxAgentRows, 100),
  };
}

const DATA_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};
const PAGE_HEADERS = {
  ...DATA_HEADERS,
  "content-type": "text/html; charset=utf-8",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
};

function json(c: Context, value: unknown, status: 200 | 401 | 404 | 500 | 501 | 503 = 200): Response {
  return c.body(redactedJson(value), status, { ...DATA_HEADERS, "content-type": "application/json; charset=utf-8" });
}

/**
 * Builds the admin router for `pool`. Throws `TypeError` / `RangeError` naming a bad option, and a
 * `TypeError` when neither `token` nor `publicReads: true` is given (every route would refuse).
 *
 * Routes: `GET /` dashboard, `GET /stats`, `/agents`, `/connections`, `/snapshot` (all of it, for
 * the dashboard and `agentpool monitor`), `/metrics` (Prometheus), `/health` (200, or 503 when
 * down or closed), `POST /agents/:agentId/revoke` and `/readmit` (token required).
 *
 * @example Mount it on a Hono app
 * ```ts
 * import { Hono } from "hono";
 * import { AsyncConnectionPool, createMetrics } from "agentpool";
 * import { adminRouter } from "agentpool/hono";
 * const pool = new AsyncConnectionPool({ factory, metrics: createMetrics(), name: "main" });
 * const app = new Hono();
 * app.route("/pool", adminRouter(pool, { token: Deno.env.get("ADMIN_TOKEN") }));
 * Deno.serve(app.fetch);
 * ```
 */
export function adminRouter(pool: AdminPool, options: AdminRouterOptions = {}): Hono {
  const o = resolveOptions(pool, options);
  const health = new HealthWatcher(pool);
  const history = new GaugeHistory(o.historySize, o.refreshMs);
  const app = new Hono();

  const guard = (access: Access): MiddlewareHandler => async (c, next) => {
    const reason = denyReason(o.policy, access, c.req.header("authorization"));
    if (reason === undefined) return await next();
    c.header("www-authenticate", 'Bearer realm="agentpool"');
    return json(c, { error: "unauthorized", message: reason }, 401);
  };
  const read = guard("read");
  const write = guard("write");

  app.onError((error, c) => json(c, { error: "internal", message: redactSecrets(String(error)) }, 500));

  app.get("/", (c) => c.body(dashboardHtml(c.req.path, o.title), 200, PAGE_HEADERS));
  app.get("/assets/dashboard.js", (c) =>
    c.body(DASHBOARD_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache", "x-content-type-options": "nosniff" }));
  app.get("/assets/dashboard.css", (c) =>
    c.body(DASHBOARD_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache", "x-content-type-options": "nosniff" }));

  app.get("/stats", read, (c) => json(c, { name: pool.options.name, ...pool.stats() }));
  app.get("/agents", read, (c) => json(c, { agents: pool.agents() }));
  app.get("/connections", read, (c) => json(c, { connections: pool.connections() }));
  app.get("/health", read, (c) => {
    const report = health.report();
    return json(c, report, report.ok ? 200 : 503);
  });
  app.get("/metrics", read, (c) =>
    c.body(redactSecrets(prometheusText(pool)), 200, { ...DATA_HEADERS, "content-type": PROMETHEUS_CONTENT_TYPE }));
  app.get("/snapshot", read, (c) => {
    const stats = pool.stats();
    history.sample(stats, Date.now());
    return json(c, buildSnapshot(pool, { health: health.report(), history: history.samples(), refreshMs: o.refreshMs, maxAgentRows: o.maxAgentRows, stats }));
  });

  app.post("/agents/:agentId/revoke", write, async (c) => {
    const agentId = c.req.param("agentId");
    if (typeof pool.revoke !== "function") {
      return json(c, { error: "not_implemented", message: "This pool has no revoke(agentId) method" }, 501);
    }
    await pool.revoke(agentId);
    return json(c, { agentId, revoked: true });
  });
  app.post("/agents/:agentId/readmit", write, (c) => {
    const agentId = c.req.param("agentId");
    if (typeof pool.readmit !== "function") {
      return json(c, { error: "not_implemented", message: "This pool has no readmit(agentId) method" }, 501);
    }
    pool.readmit(agentId);
    return json(c, { agentId, revoked: false });
  });
  // Mounted at /pool, "/" answers /pool only; serve the dashboard at /pool/ too, let the rest fall through.
  app.get("*", async (c, next) => {
    if (c.req.path.endsWith("/")) return c.body(dashboardHtml(c.req.path, o.title), 200, PAGE_HEADERS);
    await next();
  });
  return app;
}
