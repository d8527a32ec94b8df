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

/** Tagged texts the cache holds before it starts over. */
const TAGGED_BEGIN_LIMIT = 4096;

/**
 * {@linkcode beginWithApplicationName} for an agent, built once per BEGIN text, base name and agent
 * (a transaction's hot path then hashes the strings it was given and builds none). Both drivers'
 * tagged BEGINs come from here.
 *
 * @example
 * ```ts
 * import { TaggedBegins } from "./application_name.ts";
 * const begins = new TaggedBegins();
 * begins.text("begin", "agentpool", "planner-1"); // "begin; set local application_name = E'agentpool:planner-1'"
 * ```
 */
export class TaggedBegins {
  /** By BEGIN text, then base name, then agent: nested, so a lookup builds no key string. */
  readonly #texts = new Map<string, Map<string, Map<string, string>>>();
  #size = 0;

  /** Tagged texts held now: at most TAGGED_BEGIN_LIMIT, however the BEGIN texts and agents vary. */
  get size(): number {
    return this.#size;
  }

  /** The BEGIN text `begin` tagged for `agentId` under the session's `base` application_name. */
  text(begin: string, base: string, agentId: string): string {
    const known = this.#texts.get(begin)?.get(base)?.get(agentId);
    if (known !== undefined) return known;
    // Bounded in all: the pg facade's BEGIN texts are the caller's, comments and all.
    if (this.#size >= TAGGED_BEGIN_LIMIT) {
      this.#texts.clear();
      this.#size = 0;
    }
    let byBase = this.#texts.get(begin);
    if (byBase === undefined) this.#texts.set(begin, byBase = new Map());
    let byAgent = byBase.get(base);
    if (byAgent === undefined) byBase.set(base, byAgent = new Map());
    const text = beginWithApplicationName(begin, agentApplicationName(base, agentId));
    byAgent.set(agentId, text);
    this.#size++;
    return text;
  }
}
