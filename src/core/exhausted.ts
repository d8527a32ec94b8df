/**
 * The message of a failed acquire: what was refused, the pool's counts, the top holders, and,
 * when the database is the problem, the last connection failure.
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";
import { ConnectionPoolExhaustedError, type ExhaustedReason } from "./errors.ts";
import { describeState, formatMs, type Holder, type StateCounts } from "./snapshots.ts";

/** The pool state an exhaustion error describes. */
export interface ExhaustionContext {
  readonly stats: StateCounts;
  readonly holders: Holder[];
  readonly maxPerAgent: number;
  readonly maxWaiting: number;
  /** Set while creates are failing: the last failure. */
  readonly failure: { readonly error: unknown } | undefined;
}

/**
 * Builds the {@linkcode ConnectionPoolExhaustedError} for `reason`.
 *
 * @example
 * ```ts
 * const error = exhaustedError("timeout", agent, 5000, context);
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
  const waited = formatMs(waitedMs);
  const what: Record<ExhaustedReason, string> = {
    timeout: `Timed out after ${waited} waiting for a connection for agent ${id}`,
    agent_quota: `Timed out after ${waited}: agent ${id} holds its quota of ${context.maxPerAgent} (maxPerAgent)`,
    queue_full: `Refused agent ${id}: ${context.maxWaiting} acquires are already waiting (maxWaiting)`,
    nested_acquire: `Refused agent ${id}: it already holds ${agent.held} connection(s) and asked for another ` +
      `while the pool is at its cap, which could deadlock; reuse the held connection, release it first, ` +
      `or set maxPerAgent to grant a quota`,
    revoked: `Refused agent ${id}: it is revoked until re-admitted`,
    unavailable: `Timed out after ${waited} waiting for a connection for agent ${id}: the database is unavailable`,
  };
  const failure = context.failure;
  const unreachable = failure === undefined
    ? ""
    : `; the database is unreachable (last connection failure: ${describeError(failure.error)})`;
  const message = `${what[reason]} (${describeState(context.stats, context.holders)})${unreachable}`;
  return new ConnectionPoolExhaustedError(reason, agent.agentId, message, failure && { cause: failure.error });
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
