/**
 * The small interface the pool needs from an async context, so that the core stays web-standard:
 * it defines `run` / `get` and takes an implementation (src/context/ supplies one built on
 * `AsyncLocalStorage`). Without one, explicit agentIds work and no acquire is ever seen as nested.
 *
 * @module
 */

/**
 * One link of the chain of leases a call tree holds, innermost first. `lease` is opaque: only the
 * pool that issued it reads it; a pool skips links of other pools.
 */
export interface LeaseLink {
  readonly lease: object;
  readonly parent: LeaseLink | undefined;
}

/**
 * What the context carries for one call tree: the agent its acquires are attributed to, and the
 * leases it holds (set by `pool.use()`), so that an acquire made inside knows its parent lease.
 *
 * @example
 * ```ts
 * import type { AgentFrame } from "agentpool";
 * const frame: AgentFrame = { agentId: "planner-1" };
 * ```
 */
export interface AgentFrame {
  readonly agentId?: string;
  /** The innermost lease held by this call tree (and, through `parent`, the outer ones). */
  readonly lease?: LeaseLink;
}

/**
 * An async context: `run(frame, fn)` makes `frame` what `get()` returns inside `fn`, at any depth,
 * across awaits and `Promise.all`.
 *
 * @example A synchronous context, for illustration
 * ```ts
 * import type { AgentContext, AgentFrame } from "agentpool";
 * let current: AgentFrame | undefined;
 * const context: AgentContext = {
 *   run(frame, fn) {
 *     const outer = current;
 *     current = frame;
 *     try {
 *       return fn();
 *     } finally {
 *       current = outer;
 *     }
 *   },
 *   get: () => current,
 * };
 * ```
 */
export interface AgentContext {
  run<R>(frame: AgentFrame, fn: () => R): R;
  get(): AgentFrame | undefined;
}

let installed: AgentContext | undefined;

/**
 * Sets the context every pool created afterwards uses unless its `context` option says otherwise.
 * The root module ("agentpool") installs its `AsyncLocalStorage` context on import.
 *
 * @example
 * ```ts
 * import { setDefaultAgentContext } from "./context.ts";
 * setDefaultAgentContext(undefined); // pools created from now on have no context
 * ```
 */
export function setDefaultAgentContext(context: AgentContext | undefined): void {
  installed = context;
}

/**
 * The context installed by {@linkcode setDefaultAgentContext}, if any.
 *
 * @example
 * ```ts
 * import { defaultAgentContext } from "./context.ts";
 * console.log(defaultAgentContext() !== undefined);
 * ```
 */
export function defaultAgentContext(): AgentContext | undefined {
  return installed;
}
