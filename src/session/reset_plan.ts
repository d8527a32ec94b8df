/**
 * The reset a dirty session gets: one simple-protocol string, sent un-awaited so it travels with
 * the next lease's first statement (no round trip of its own). Each kind of session state has its
 * own statement; a session nobody can reset is retired instead. Driver-neutral.
 *
 * DISCARD ALL is not used: it also drops the driver's protocol-level prepared statements, which
 * the driver still believes exist (every cached statement then fails once, and inside a
 * transaction that failure aborts it), and it cannot run inside a multi-statement string.
 *
 * @module
 */

import { Effect } from "./classify.ts";

/** Drops the SQL-level prepared statements only (`from_sql`), never the driver's own. */
const DEALLOCATE_SQL_LEVEL = "do $agentpool$ declare s record; begin " +
  "for s in select name from pg_catalog.pg_prepared_statements where from_sql loop " +
  "execute pg_catalog.format('deallocate %I', s.name); end loop; end $agentpool$";

/** In the order they run: authorization first, so the rest runs as the session user. */
const RESETS: ReadonlyArray<readonly [number, string]> = [
  [Effect.AUTHORIZATION, "set session authorization default; reset role"],
  [Effect.SETTINGS, "reset all"],
  [Effect.CURSORS, "close all"],
  [Effect.ADVISORY_LOCKS, "select pg_catalog.pg_advisory_unlock_all()"],
  [Effect.LISTEN, "unlisten *"],
  [Effect.TEMP, "discard temp"],
  [Effect.SEQUENCES, "discard sequences"],
  [Effect.PREPARED, DEALLOCATE_SQL_LEVEL],
];

const plans = new Map<number, string>();

/**
 * The reset statements for `effects` (bits of {@linkcode Effect}) and a transaction that may be
 * open, as one string; `null` when there is nothing to reset. `Effect.RETIRE` is the caller's to
 * handle (no statement undoes it).
 *
 * @example
 * ```ts
 * import { Effect } from "./classify.ts";
 * import { resetStatements } from "./reset_plan.ts";
 * resetStatements(Effect.SETTINGS | Effect.LISTEN, true); // "rollback; reset all; unlisten *"
 * ```
 */
export function resetStatements(effects: number, transactionOpen: boolean): string | null {
  const key = (effects & ~Effect.RETIRE) * 2 + (transactionOpen ? 1 : 0);
  if (key === 0) return null;
  let plan = plans.get(key);
  if (plan === undefined) {
    const parts = transactionOpen ? ["rollback"] : [];
    for (const [bit, text] of RESETS) if ((effects & bit) !== 0) parts.push(text);
    plan = parts.join("; ");
    plans.set(key, plan);
  }
  return plan;
}
