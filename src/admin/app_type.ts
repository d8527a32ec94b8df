/**
 * The admin router's type for Hono's typed client (`hc<AdminApp>`): every route's path, method,
 * parameters and JSON body. Written out (JSR publishes no inferred types); the router is checked
 * against it, so a route that drifts from it fails the type check.
 *
 * @module
 */

import type { Hono, ToSchema, TypedResponse } from "hono";
import type { BlankEnv, BlankInput } from "hono/types";
import type { JSONParsed } from "hono/utils/types";
import type { AgentInfo, ConnectionInfo, PoolStats } from "../core/mod.ts";
import type { HealthReport } from "./health.ts";
import type { PoolSnapshot } from "./snapshot.ts";

type Json<T, Status extends 200 | 401 | 501 | 503 = 200> = TypedResponse<JSONParsed<T>, Status, "json">;
type Body<Status extends 200 = 200> = TypedResponse<string, Status, "body">;
type Get<Path extends string, R> = ToSchema<"get", Path, BlankInput, R>;
type AgentAction<Action extends string, Revoked extends boolean> = ToSchema<
  "post",
  `/agents/:agentId/${Action}`,
  { param: { agentId: string } },
  Json<{ agentId: string; revoked: Revoked }> | Json<AdminError, 501>
>;

/** The body of an admin route's error response (`401`, `500`, `501`). */
export interface AdminError {
  readonly error: string;
  readonly message: string;
}

/**
 * The routes of {@linkcode adminRouter}, as Hono's typed client sees them.
 *
 * @example Typed client
 * ```ts
 * import { hc } from "hono/client";
 * import type { AdminApp } from "agentpool/hono";
 * const client = hc<AdminApp>("http://localhost:8787/pool", { headers: { authorization: "Bearer change-me" } });
 * const stats = await (await client.stats.$get()).json();
 * console.log(stats.used, stats.pending);
 * ```
 */
export type AdminApp = Hono<
  BlankEnv,
  & Get<"/", Body>
  & Get<"/assets/dashboard.js", Body>
  & Get<"/assets/dashboard.css", Body>
  & Get<"/stats", Json<PoolStats & { name: string }>>
  & Get<"/agents", Json<{ agents: AgentInfo[] }>>
  & Get<"/connections", Json<{ connections: ConnectionInfo[] }>>
  & Get<"/health", Json<HealthReport> | Json<HealthReport, 503>>
  & Get<"/metrics", Body>
  & Get<"/snapshot", Json<PoolSnapshot>>
  & AgentAction<"revoke", true>
  & AgentAction<"readmit", false>,
  "/"
>;
