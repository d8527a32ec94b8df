/**
 * Which node-postgres errors mean the session is gone.
 *
 * @module
 */

import { isSessionLostCode, someCause } from "../session/fatal.ts";

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
  return someCause(error, ({ code, message }) =>
    (typeof code === "string" && isSessionLostCode(code)) ||
    (typeof message === "string" && FATAL_MESSAGES.test(message)));
}
