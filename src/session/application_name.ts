/**
 * The agent on the server: each transaction names its agent in `application_name`
 * (`<base>:<agentId>`, shown by `pg_stat_activity` and PgBouncer's `SHOW CLIENTS`) with
 * `SET LOCAL application_name` (what `set_config('application_name', …, true)` does, without a
 * function call and a result row), which ends with the transaction. The statement is appended to
 * BEGIN with the name as a literal, so it travels in the same simple-protocol message (one round
 * trip, no prepared statement). Driver-neutral.
 *
 * @module
 */

import { sqlLiteral } from "./sql_literal.ts";

/** PostgreSQL keeps at most NAMEDATALEN - 1 bytes of an `application_name`. */
const MAX_LENGTH = 63;

/**
 * `<base>:<agentId>`, reduced to what PostgreSQL keeps (printable ASCII, 63 bytes), so the name
 * shown is the name sent.
 *
 * @example
 * ```ts
 * import { agentApplicationName } from "./application_name.ts";
 * agentApplicationName("agentpool", "planner-1"); // "agentpool:planner-1"
 * ```
 */
export function agentApplicationName(base: string, agentId: string): string {
  return `${base}:${agentId}`.replace(/[^\x20-\x7e]/g, "?").slice(0, MAX_LENGTH);
}

/**
 * `BEGIN …` followed by the transaction-local `application_name` for `name`, as one string.
 * The name is an E'' literal (quotes and backslashes escaped), safe whatever the agent id holds.
 *
 * @example
 * ```ts
 * import { beginWithApplicationName } from "./application_name.ts";
 * beginWithApplicationName("begin isolation level serializable", "agentpool:planner-1");
 * // "begin isolation level serializable; set local application_name = E'agentpool:planner-1'"
 * ```
 */
export function beginWithApplicationName(begin: string, name: string): string {
  return `${begin}; set local application_name = ${sqlLiteral(name)}`;
}
