/**
 * Which errors mean a PostgreSQL session is gone, whatever the driver: the SQLSTATEs and socket
 * codes both drivers' `isFatal` share. Each driver adds only its own codes and messages.
 *
 * @module
 */

/** SQLSTATEs (besides class 08, connection exception) after which the session is gone. */
const FATAL_SQLSTATES: ReadonlySet<string> = new Set([
  "57P01", // admin_shutdown: terminated by pg_terminate_backend or a fast shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up or shutting down
  "57P04", // database_dropped
  "57P05", // idle_session_timeout
  "25P03", // idle_in_transaction_session_timeout
]);

/** Socket error codes of a dead connection. */
const DEAD_SOCKET_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
]);

/**
 * Whether an error `code` means the session is gone: SQLSTATE class 08, 57P01–57P05, 25P03, or a
 * socket error code.
 *
 * @example
 * ```ts
 * import { isSessionLostCode } from "./fatal.ts";
 * isSessionLostCode("57P01"); // true
 * isSessionLostCode("23505"); // false
 * ```
 */
export function isSessionLostCode(code: string): boolean {
  return FATAL_SQLSTATES.has(code) || DEAD_SOCKET_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code);
}

/**
 * Whether `error` or one of its first few `cause`s passes `test`: drivers and the adapter wrap
 * errors, and a wrapped fatal error is still fatal.
 *
 * @example
 * ```ts
 * import { someCause } from "./fatal.ts";
 * const wrapped = new Error("query failed", { cause: Object.assign(new Error("gone"), { code: "57P01" }) });
 * someCause(wrapped, (e) => e.code === "57P01"); // true
 * ```
 */
export function someCause(error: unknown, test: (error: { code?: unknown; message?: unknown; driverCode?: unknown }) => boolean): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    if (test(current as { code?: unknown })) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
