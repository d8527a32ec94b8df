/**
 * The one place the pg facade learns which agent the current call tree runs as.
 *
 * INTEGRATION POINT (issue 10): until the core's `withAgent()` / `currentAgentId()` (src/context/)
 * is on main, this module carries a stand-in on `AsyncLocalStorage` with the same contract; once
 * it is, this file becomes `export { currentAgentId, withAgent } from "../context/mod.ts";`.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

const storage = new AsyncLocalStorage<string>();

/**
 * Runs `fn` as `agentId`: every `connect()` / `query()` inside it, at any depth and across awaits
 * and `Promise.all`, is `agentId`'s (unless made through a `forAgent()` view of another agent).
 *
 * @example
 * ```ts
 * import { Pool, withAgent } from "agentpool/pg";
 * const pool = new Pool({ max: 4 });
 * await withAgent("planner-1", () => pool.query("select 1"));
 * await pool.end();
 * ```
 */
export function withAgent<R>(agentId: string, fn: () => R): R {
  if (typeof agentId !== "string" || agentId === "") {
    throw new TypeError(`Cannot run withAgent as 'agentId' must be a non-empty string: current value is ${String(agentId)}`);
  }
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot run withAgent as 'fn' must be a function: current value is ${String(fn)}`);
  }
  return storage.run(agentId, fn);
}

/**
 * The agent the current call tree runs as, if any.
 *
 * @example
 * ```ts
 * import { currentAgentId, withAgent } from "agentpool/pg";
 * withAgent("critic-2", () => currentAgentId()); // "critic-2"
 * ```
 */
export function currentAgentId(): string | undefined {
  return storage.getStore();
}
