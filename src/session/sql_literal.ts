/**
 * SQL string literals for statements that must travel without parameters. Driver-neutral.
 *
 * A statement with parameters costs postgres.js (with `prepare: false`) two exchanges, and between
 * them the server waits for the client *inside* the statement, where no PostgreSQL timeout applies
 * (docs/deployment.md, "The pause window"). Text that has to reach the server in one exchange
 * carries its values as literals built here.
 *
 * @module
 */

/**
 * `text` as an `E''` literal: backslashes and quotes escaped, so it reads back as `text` whatever
 * it holds and whatever `standard_conforming_strings` is. PostgreSQL's text cannot hold NUL, so a
 * NUL is refused here, as the server would refuse it as a parameter.
 *
 * @example
 * ```ts
 * import { sqlLiteral } from "./sql_literal.ts";
 * sqlLiteral("it's a \\ test"); // "E'it''s a \\\\ test'"
 * ```
 */
export function sqlLiteral(text: string): string {
  if (text.includes("\0")) throw new RangeError("Cannot quote a SQL literal as it holds a NUL character");
  return `E'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}
