/**
 * `adminRouter(pool, options)`: a Hono app with the pool's JSON views, Prometheus metrics, a
 * health probe, agent revocation and a live HTML dashboard. Mount it anywhere with
 * `app.route("/pool", adminRouter(pool, { token }))`. Runtime-neutral: the same app runs on
 * Deno.serve, Bun.serve and @hono/node-server.
 *
 * @module
 */

import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { trimTrailingSlash } from "hono/trailing-slash";
import type { BudgetSnapshot } from "../budget/snapshot.ts";
import type { PoolStats } from "../core/mod.ts";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "../core/prometheus.ts";
import { type CheckKind, checkInteger, invalidOption } from "../core/checks.ts";
import type { AdminApp, AdminError } from "./app_type.ts";
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
  /** A `GlobalBudget` (anything with `snapshot()`): `GET /snapshot` then carries its `budget` view. */
  budget?: { snapshot(): BudgetSnapshot };
}

interface Resolved {
  token: string | undefined;
  publicReads: boolean;
  title: string;
  refreshMs: number;
  historySize: number;
  maxAgentRows: number;
  budget: { snapshot(): BudgetSnapshot } | undefined;
}

const SUBJECT = "create admin router";

/** The token is a secret: a bad one is named, never shown. */
function invalid(kind: CheckKind, option: string, rule: string, value: unknown): never {
  invalidOption(kind, SUBJECT, option, rule, option === "token" && typeof value === "string" ? "***" : value);
}

function positiveInteger(option: string, value: unknown, fallback: number, min = 1): number {
  return value === undefined ? fallback : checkInteger(SUBJECT, option, value, { min });
}

function resolveOptions(pool: AdminPool, options: AdminRouterOptions): Resolved {
  if (typeof options !== "object" || options === null) invalid("type", "options", "an object", options);
  const { token, publicReads = false, title = pool.options.name } = options;
  // What a client can send after "Bearer " (RFC 6750 token68), so the configured token can match.
  if (token !== undefined && (typeof token !== "string" || !/^[A-Za-z0-9._~+/-]+=*$/.test(token))) {
    invalid("type", "token", "a non-empty token of letters, digits and -._~+/ (then optional =)", token);
  }
  if (typeof publicReads !== "boolean") invalid("type", "publicReads", "a boolean", publicReads);
  if (token === undefined && !publicReads) {
    throw new TypeError(
      "Cannot create admin router as neither 'token' nor 'publicReads: true' is set: every route would refuse; pass a token, or publicReads: true for an open read-only view",
    );
  }
  if (typeof title !== "string") invalid("type", "title", "a string", title);
  const { budget } = options;
  if (budget !== undefined && typeof budget?.snapshot !== "function") invalid("type", "budget", "a GlobalBudget (an object with snapshot())", budget);
  return {
    budget,
    token,
    publicReads,
    title: redactSecrets(title),
    refreshMs: positiveInteger("refreshMs", options.refreshMs, 1000, 100),
    historySize: positiveInteger("historySize", options.historySize, 300, 2),
    maxAgentRows: positiveInteger("maxAgentRows", options.maxAgentRows, 100),
  };
}

/** The dashboard may load only its own script and stylesheet, and connect only back to the router. */
const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

const ASSET_HEADERS = { "cache-control": "no-cache" };

/** Every string of `value` passed through {@linkcode redactSecrets}, the shape kept for typed clients. */
function redacted<T>(value: T): T {
  return JSON.parse(redactedJson(value)) as T;
}

function unauthorized(c: Context, message: string): Response {
  return c.json({ error: "unauthorized", message }, 401, { "www-authenticate": 'Bearer realm="agentpool"' });
}

/** Hono's bearer-auth (constant-time compare), answering in the router's JSON error shape. */
function tokenAuth(token: string): MiddlewareHandler {
  const missing = (c: Context): Response => unauthorized(c, "Missing bearer token: send 'Authorization: Bearer <token>'");
  return bearerAuth({
    token,
    realm: "agentpool",
    noAuthenticationHeader: { message: missing },
    // Hono answers 400 for a header that is not "Bearer <token68>"; to the dashboard that is a missing token.
    invalidAuthenticationHeader: { message: missing },
    invalidToken: { message: (c: Context) => unauthorized(c, "Invalid bearer token") },
  });
}

function routes(pool: AdminPool, o: Resolved) {
  const health = new HealthWatcher(pool);
  const history = new GaugeHistory(o.historySize, o.refreshMs);
  const open: MiddlewareHandler = async (_c, next) => await next();
  const closed: MiddlewareHandler = (c) =>
    Promise.resolve(unauthorized(c, "This admin router has no 'token' option, so its mutating routes are disabled"));
  const write = o.token === undefined ? closed : tokenAuth(o.token);
  const read = o.publicReads ? open : write;
  const notImplemented = (c: Context, method: string) =>
    c.json<AdminError, 501>({ error: "not_implemented", message: `This pool has no ${method}(agentId) method` }, 501);

  return new Hono()
    .onError((error, c) => {
      if (error instanceof HTTPException) return error.getResponse();
      return c.json({ error: "internal", message: redactSecrets(String(error)) }, 500);
    })
    // Mounted at /pool, "/" answers /pool; /pool/ (and any other trailing slash) redirects there.
    .use(trimTrailingSlash())
    .use(secureHeaders({ contentSecurityPolicy: CONTENT_SECURITY_POLICY, xFrameOptions: "DENY", strictTransportSecurity: false }))
    .use(async (c, next) => {
      c.header("cache-control", "no-store");
      await next();
    })
    .get("/", (c) => c.body(dashboardHtml(c.req.path, o.title), 200, { "content-type": "text/html; charset=utf-8" }))
    .get("/assets/dashboard.js", (c) => c.body(DASHBOARD_JS, 200, { ...ASSET_HEADERS, "content-type": "text/javascript; charset=utf-8" }))
    .get("/assets/dashboard.css", (c) => c.body(DASHBOARD_CSS, 200, { ...ASSET_HEADERS, "content-type": "text/css; charset=utf-8" }))
    .get("/stats", read, (c) => c.json(redacted<PoolStats & { name: string }>({ name: pool.options.name, ...pool.stats() }), 200))
    .get("/agents", read, (c) => c.json(redacted({ agents: pool.agents() }), 200))
    .get("/connections", read, (c) => c.json(redacted({ connections: pool.connections() }), 200))
    .get("/health", read, (c) => {
      const report = redacted(health.report());
      return report.ok ? c.json(report, 200) : c.json(report, 503);
    })
    .get("/metrics", read, (c) => c.body(redactSecrets(prometheusText(pool)), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }))
    .get("/snapshot", read, (c) => {
      const stats = pool.stats();
      history.sample(stats, Date.now());
      const budget = o.budget?.snapshot() ?? null;
      const parts = { health: health.report(), history: history.samples(), refreshMs: o.refreshMs, maxAgentRows: o.maxAgentRows, stats, budget };
      return c.json(redacted(buildSnapshot(pool, parts)), 200);
    })
    .post("/agents/:agentId/revoke", write, async (c) => {
      const agentId = c.req.param("agentId");
      if (typeof pool.revoke !== "function") return notImplemented(c, "revoke");
      await pool.revoke(agentId);
      return c.json(redacted({ agentId, revoked: true }), 200);
    })
    .post("/agents/:agentId/readmit", write, (c) => {
      const agentId = c.req.param("agentId");
      if (typeof pool.readmit !== "function") return notImplemented(c, "readmit");
      pool.readmit(agentId);
      return c.json(redacted({ agentId, revoked: false }), 200);
    });
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
 * const factory = { create: () => Promise.resolve({}), destroy: () => {} };
 * const pool = new AsyncConnectionPool({ factory, metrics: createMetrics(), name: "main" });
 * const app = new Hono();
 * app.route("/pool", adminRouter(pool, { token: Deno.env.get("ADMIN_TOKEN") }));
 * Deno.serve(app.fetch);
 * ```
 */
export function adminRouter(pool: AdminPool, options: AdminRouterOptions = {}): AdminApp {
  return routes(pool, resolveOptions(pool, options)) as AdminApp;
}

// Compile-time proof that the written-out AdminApp says what the routes do (path, method, input,
// status and body): tsc fails here when a route drifts from it.
type SchemaOf<App> = App extends Hono<infer _E, infer S, infer _B> ? S : never;
type Flat<S> = { [Path in keyof S]: { [Method in keyof S[Path]]: S[Path][Method] } };
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const routesMatchAdminApp: Same<Flat<SchemaOf<ReturnType<typeof routes>>>, Flat<SchemaOf<AdminApp>>> = true;
void routesMatchAdminApp;
