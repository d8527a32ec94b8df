/**
 * Which node-postgres errors mean the session is gone.
 *
 * @module
 */

/** SQLSTATEs (besides class 08, connection exception) after which the session is gone. */
const FATAL_SQLSTATES = new Set(["57P01", "57P02", "57P03", "57P04", "57P05", "25P03"]);
/** Socket codes of a dead connection. */
const FATAL_SOCKET_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
]);
/** node-postgres raises these without a code when the socket is gone. */
const FATAL_MESSAGES = /^(?:Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|Query read timeout)/;

/**
 * Whether `error` (from node-postgres) means the session or the server is gone: SQLSTATE class
 * 08, 57P01–57P05, 25P03, a socket error, or pg's own "Connection terminated ..." family. Follows
 * `cause` a few levels. Query errors (syntax, constraint, `57014` query_canceled) are not fatal.
 *
 * @example
 * ```ts
 * import { isFatalPgError } from "agentpool/pg";
 * isFatalPgError(new Error("Connection terminated unexpectedly")); // true
 * isFatalPgError(Object.assign(new Error("duplicate key"), { code: "23505" })); // false
 * ```
 */
export function isFatalPgError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === "string" && (FATAL_SQLSTATES.has(code) || FATAL_SOCKET_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) {
      return true;
    }
    if (typeof message === "string" && FATAL_MESSAGES.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
