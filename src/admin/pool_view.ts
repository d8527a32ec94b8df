/**
 * What the admin router needs from a pool, typed structurally so any `AsyncConnectionPool<T>` fits.
 *
 * @module
 */

import type { AgentInfo, ConnectionInfo, PoolStats } from "../core/mod.ts";

/**
 * The pool surface the admin router reads (and, for revoke/readmit, calls when present).
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool } from "agentpool";
 * import type { AdminPool } from "agentpool/hono";
 * const factory = { create: () => Promise.resolve({}), destroy: () => {} };
 * const view: AdminPool = new AsyncConnectionPool({ factory });
 * ```
 */
export interface AdminPool {
  readonly options: { readonly name: string; readonly metrics?: unknown };
  readonly closed: boolean;
  stats(): PoolStats;
  agents(): AgentInfo[];
  connections(): ConnectionInfo[];
  addEventListener(type: string, listener: (event: Event) => void): void;
  revoke?(agentId: string): Promise<void> | void;
  readmit?(agentId: string): void;
}
