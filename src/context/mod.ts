/**
 * The agent context on `AsyncLocalStorage` (`node:async_hooks`; Node 20+, Deno 2, Bun 1, workerd
 * with `nodejs_compat`). Only `run` and `getStore` are used, the subset every one of them has.
 * Importing this module installs it as the default context of new pools.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { type AgentContext, type AgentFrame, setDefaultAgentContext } from "../core/context.ts";

const storage = new AsyncLocalStorage<AgentFrame>();

/**
 * The `AsyncLocalStorage`-backed {@linkcode AgentContext}, the default of every pool created after
 * "agentpool" was imported.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool, asyncAgentContext, type ConnectionFactory } from "agentpool";
 * declare const factory: ConnectionFactory<unknown>;
 * const pool = new AsyncConnectionPool({ factory, context: asyncAgentContext });
 * ```
 */
export const asyncAgentContext: AgentContext = Object.freeze({
  run: <R>(frame: AgentFrame, fn: () => R): R => storage.run(frame, fn),
  get: (): AgentFrame | undefined => storage.getStore(),
});

setDefaultAgentContext(asyncAgentContext);

/**
 * Runs `fn` as `agentId`: every acquire inside it, at any depth and across awaits and
 * `Promise.all`, is `agentId`'s unless it names its own. Leases held around the call stay the
 * parents of acquires made inside it.
 *
 * @example
 * ```ts
 * import { type AsyncConnectionPool, withAgent } from "agentpool";
 * declare const pool: AsyncConnectionPool<{ query(text: string): Promise<unknown[]> }>;
 * await withAgent("planner-1", () => pool.use((conn) => conn.query("select 1"))); // planner-1's lease
 * ```
 */
export function withAgent<R>(agentId: string, fn: () => R): R {
  if (typeof agentId !== "string" || agentId === "") {
    throw new TypeError(`Cannot run withAgent as 'agentId' must be a non-empty string: current value is ${String(agentId)}`);
  }
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot run withAgent as 'fn' must be a function: current value is ${String(fn)}`);
  }
  return storage.run({ agentId, lease: storage.getStore()?.lease }, fn);
}

/**
 * The agent the current call tree runs as (set by {@linkcode withAgent} or `pool.use()`), if any.
 *
 * @example
 * ```ts
 * import { currentAgentId, withAgent } from "agentpool";
 * withAgent("critic-2", () => currentAgentId()); // "critic-2"
 * ```
 */
export function currentAgentId(): string | undefined {
  return storage.getStore()?.agentId;
}
