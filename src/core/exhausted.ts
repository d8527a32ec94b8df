/**
 * The message of a failed acquire: what was refused, the pool's counts, the top holders, and,
 * when the database is the problem, the last connection failure.
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";
import { ConnectionPoolExhaustedError, type ExhaustedReason } from "./errors.ts";
import { formatDuration } from "./format.ts";
import { describeState, type Holder, type StateCounts } from "./snapshots.ts";

/** The pool state an exhaustion error describes. */
export interface ExhaustionContext {
  readonly stats: StateCounts;
  readonly holders: Holder[];
  readonly maxWaiting: number;
  /** For `nested_acquire`: the parent lease and the cycle of waits (see deadlock.ts). */
  readonly nested?: { readonly parentId: number; readonly cycle: string };
  /** Set while creates are failing: the last failure, and whether it was the server at its connection limit. */
  readonly failure: { readonly error: unknown; readonly atCapacity?: boolean } | undefined;
}

/**
 * Builds the {@linkcode ConnectionPoolExhaustedError} for `reason`.
 *
 * @example
 * ```ts
 * import { AgentRecord } from "./agents.ts";
 * declare const context: ExhaustionContext; // the pool's counts and top holders right now
 * const error = exhaustedError("timeout", new AgentRecord("planner-1", Infinity), 5000, context);
 * error.message; // "Timed out after 5.0 s waiting ... (total 30/30 ...; top holders: ...)"
 * ```
 */
export function exhaustedError(
  reason: ExhaustedReason,
  agent: AgentRecord,
  waitedMs: number,
  context: ExhaustionContext,
): ConnectionPoolExhaustedError {
  const id = `'${agent.agentId}'`;
  const waited = formatDuration(waitedMs);
  const what: Record<ExhaustedReason, string> = {
    timeout: `Timed out after ${waited} waiting for a connection for agent ${id}`,
    agent_quota: `Timed out after ${waited}: agent ${id} holds its quota of ${agent.quota} (${
      agent.quotaDynamic ? "set by setAgentQuota" : "maxPerAgent / agentQuotas"
    })${agent.quotaWhy === undefined ? "" : `: ${safeWhy(agent.quotaWhy)}`}`,
    queue_full: `Refused agent ${id}: ${context.maxWaiting} acquires are already waiting (maxWaiting)`,
    nested_acquire: `Refused agent ${id}: this acquire runs inside its lease of connection ${
      context.nested?.parentId
    } and can never be served unless that lease ends first (${context.nested?.cycle}); ` +
      `reuse the held connection, or acquire outside the use() callback`,
    revoked: `Refused agent ${id}: it is revoked until re-admitted`,
    unavailable: `Timed out after ${waited} waiting for a connection for agent ${id}: the database is unavailable`,
    at_capacity: `Timed out after ${waited} waiting for a connection for agent ${id}: the database (or a pooler in front of it) ` +
      `refuses new connections at its connection limit; raise that limit or lower the pools' caps`,
  };
  const failure = context.failure;
  const unreachable = failure === undefined
    ? ""
    : failure.atCapacity
    ? `; last connection refusal: ${describeError(failure.error)}`
    : `; the database is unreachable (last connection failure: ${describeError(failure.error)})`;
  const message = `${what[reason]} (${describeState(context.stats, context.holders)})${unreachable}`;
  return new ConnectionPoolExhaustedError(reason, agent.agentId, message, failure && { cause: failure.error });
}

/** The quota's explanation; a `why()` that throws must not lose the timeout error. */
function safeWhy(why: () => string): string {
  try {
    return String(why());
  } catch (error) {
    return `(its explanation failed: ${describeError(error)})`;
  }
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
