/**
 * SQL identifiers. Table, column and schema names only ever come from a definition the program
 * wrote (never from a caller's string at query time), and are checked and quoted here once.
 *
 * @module
 */

import { invalidOption } from "../core/checks.ts";

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Checks `name` is a plain SQL identifier (letters, digits, `_`, at most 63 characters, not
 * starting with a digit) and returns it double-quoted. Throws a RangeError naming `option`.
 *
 * @example
 * ```ts
 * import { quoteIdentifier } from "agentpool";
 * quoteIdentifier("schema", "agent_tasks"); // "\"agent_tasks\""
 * quoteIdentifier("schema", "x; drop table y"); // throws RangeError
 * ```
 */
export function quoteIdentifier(option: string, name: unknown): string {
  if (typeof name !== "string") {
    invalidOption("type", "use identifier", option, "a string identifier", name);
  }
  if (!PLAIN_IDENTIFIER.test(name)) {
    invalidOption("range", "use identifier", option, "a plain SQL identifier (letters, digits, _; at most 63)", name);
  }
  return `"${name}"`;
}
