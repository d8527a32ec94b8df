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
 * const clean: PgSessionState = { broken: false, dirty: false, discard: false, closeRequested: false, uses: 0 };
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
  const state: PgSessionState = { broken: false, dirty: false, discard: false, closeRequested: false, uses: 0 };
  states.set(client, state);
  return state;
}

// Statements whose effect outlives the transaction: a plain SET / RESET (not SET LOCAL,
// TRANSACTION or CONSTRAINTS), SET SESSION ..., LISTEN, PREPARE, DECLARE (a WITH HOLD cursor),
// CREATE TEMP ..., LOAD, DISCARD, DEALLOCATE; and session-level advisory locks or set_config()
// anywhere in the text. Every statement of a multi-statement text is looked at. This runs on
// every query, so first words are compared in place, without allocating.
const SESSION_WORDS = ["reset", "listen", "prepare", "declare", "load", "discard", "deallocate"];
const SESSION_FUNCTION = /advisory_lock|set_config/i;

/** Index of the first character at or after `i` that is neither white space nor inside a comment. */
function skipBlank(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13) || c === 40) i++; // blanks and "(" (a parenthesised select)
    else if (c === 45 && text.charCodeAt(i + 1) === 45) {
      const end = text.indexOf("\n", i);
      if (end === -1) return text.length;
      i = end + 1;
    } else if (c === 47 && text.charCodeAt(i + 1) === 42) {
      const end = text.indexOf("*/", i + 2);
      if (end === -1) return text.length;
      i = end + 2;
    } else return i;
  }
}

function isWordChar(c: number): boolean {
  const lower = c | 32;
  return (lower >= 97 && lower <= 122) || c === 95 || (c >= 48 && c <= 57);
}

/** Whether the word at `i` is `word` (lower-case ASCII), case-insensitively; its end, or -1. */
function wordEnd(text: string, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) {
    if ((text.charCodeAt(i + k) | 32) !== word.charCodeAt(k)) return -1;
  }
  return isWordChar(text.charCodeAt(i + word.length)) ? -1 : i + word.length;
}

function startsSessionStatement(text: string, from: number): boolean {
  const i = skipBlank(text, from);
  const first = text.charCodeAt(i) | 32;
  if (first === 115 /* s */) {
    const end = wordEnd(text, i, "set");
    if (end === -1) return false;
    const next = skipBlank(text, end);
    return wordEnd(text, next, "local") === -1 && wordEnd(text, next, "transaction") === -1 && wordEnd(text, next, "constraints") === -1;
  }
  if (first === 99 /* c */) {
    const end = wordEnd(text, i, "create");
    if (end === -1) return false;
    let next = skipBlank(text, end);
    for (const optional of ["or", "replace", "global", "local"]) {
      const after = wordEnd(text, next, optional);
      if (after !== -1) next = skipBlank(text, after);
    }
    return wordEnd(text, next, "temp") !== -1 || wordEnd(text, next, "temporary") !== -1;
  }
  if (first !== 114 && first !== 108 && first !== 112 && first !== 100) return false; // r l p d
  for (const word of SESSION_WORDS) if (wordEnd(text, i, word) !== -1) return true;
  return false;
}

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
  // Applications send the same few texts over and over: remember the answer (bounded).
  const known = answers.get(text);
  if (known !== undefined) return known;
  const answer = readSessionStatement(text);
  if (answers.size >= MAX_REMEMBERED) answers.clear();
  answers.set(text, answer);
  return answer;
}

const MAX_REMEMBERED = 2048;
const answers = new Map<string, boolean>();

function readSessionStatement(text: string): boolean {
  let from = 0;
  for (;;) {
    if (startsSessionStatement(text, from)) return true;
    const semicolon = text.indexOf(";", from);
    if (semicolon === -1) break;
    from = semicolon + 1;
  }
  return SESSION_FUNCTION.test(text);
}
