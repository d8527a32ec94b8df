/**
 * What the pg factory knows about each pooled `pg.Client`: whether its socket died, whether a
 * holder left session state behind (a plain SET, LISTEN, a temp table, ...), its use count.
 * Transactions need no tracking: pg reports the server's transaction status on every
 * ReadyForQuery (`client.getTransactionStatus()`).
 *
 * @module
 */

import type pg from "pg";

/**
 * Per-connection facts, kept beside the client (never on it).
 *
 * @example
 * ```ts
 * import type { PgSessionState } from "./session.ts";
 * const clean: PgSessionState = { broken: false, dirty: false, discard: false, closeRequested: false, inFlight: 0, uses: 0 };
 * ```
 */
export interface PgSessionState {
  /** The socket closed or errored: never hand it out again. */
  broken: boolean;
  /** The session may carry state past a transaction: the next reset runs `DISCARD ALL`. */
  dirty: boolean;
  /** A reset statement failed: the session is in an unknown state. */
  discard: boolean;
  /** The holder released it with an error (pg's `release(err)`): close it. */
  closeRequested: boolean;
  /** Queries sent through a lease and not yet answered. */
  inFlight: number;
  /** Leases served, for `maxUses`. */
  uses: number;
}

const states = new WeakMap<pg.Client, PgSessionState>();

/**
 * The state of `client`, or undefined for a client this factory did not open.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { pgSessionState } from "./session.ts";
 * const state = pgSessionState(new pg.Client());
 * if (state?.broken) console.log("dead");
 * ```
 */
export function pgSessionState(client: pg.Client): PgSessionState | undefined {
  return states.get(client);
}

/**
 * Starts tracking `client`.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { trackPgSession } from "./session.ts";
 * const state = trackPgSession(new pg.Client());
 * ```
 */
export function trackPgSession(client: pg.Client): PgSessionState {
  const state: PgSessionState = { broken: false, dirty: false, discard: false, closeRequested: false, inFlight: 0, uses: 0 };
  states.set(client, state);
  return state;
}

// Statements whose effect outlives the transaction: a plain SET / RESET (not SET LOCAL,
// TRANSACTION or CONSTRAINTS), SET SESSION ..., LISTEN, PREPARE, DECLARE (a WITH HOLD cursor),
// CREATE TEMP ..., LOAD, DISCARD, DEALLOCATE, and session-level advisory locks or set_config()
// anywhere in the text. Checked at every statement boundary of a multi-statement text.
const SESSION_STATEMENT =
  /(?:^|;)(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*(?:set\s+(?!local\b|transaction\b|constraints\b)|reset\b|listen\b|prepare\b|declare\b|load\b|discard\b|deallocate\b|create\s+(?:(?:global|local)\s+)?temp(?:orary)?\b|create\s+(?:or\s+replace\s+)?(?:temp|temporary)\s)/i;
const SESSION_FUNCTION = /pg_(?:try_)?advisory_lock|set_config\s*\(/i;

/**
 * Whether `text` may leave session state that outlives its transaction (and so the lease).
 * Conservative: a false "session" costs a `DISCARD ALL` on release, a missed one would leak.
 *
 * @example
 * ```ts
 * import { isSessionStatement } from "./session.ts";
 * isSessionStatement("set search_path = app"); // true
 * isSessionStatement("set local statement_timeout = 100"); // false
 * isSessionStatement("select 1"); // false
 * ```
 */
export function isSessionStatement(text: string): boolean {
  return SESSION_STATEMENT.test(text) || SESSION_FUNCTION.test(text);
}
