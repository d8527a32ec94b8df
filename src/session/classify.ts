/**
 * What a SQL string does to the session, read conservatively: a statement that is not plainly a
 * read, plain DML or DDL marks the session dirty, whatever its comments, whitespace, case, schema
 * qualification or quoting. Driver-neutral (src/postgres and src/pg share it).
 *
 * @module
 */

import { lexStatements } from "./lexer.ts";

/**
 * Kinds of session state a statement can leave behind, as bits. Each has its own reset (see
 * reset_plan.ts); `RETIRE` has none: the connection is closed instead.
 *
 * @example
 * ```ts
 * import { analyzeSql, Effect } from "./classify.ts";
 * console.log((analyzeSql("set search_path = app").effects & Effect.SETTINGS) !== 0); // true
 * ```
 */
export const Effect = {
  /** SET, set_config(): settings differ from their defaults. */
  SETTINGS: 1,
  /** SET ROLE, SET SESSION AUTHORIZATION. */
  AUTHORIZATION: 2,
  /** A WITH HOLD cursor outlives its transaction. */
  CURSORS: 4,
  /** Session-level advisory locks. */
  ADVISORY_LOCKS: 8,
  /** LISTEN. */
  LISTEN: 16,
  /** Temporary tables, views, sequences, functions. */
  TEMP: 32,
  /** nextval()/setval(): currval() and lastval() would show them. */
  SEQUENCES: 64,
  /** SQL-level PREPARE (not the driver's protocol-level statements). */
  PREPARED: 128,
  /** Something with no reset (LOAD, dblink_connect): retire the connection. */
  RETIRE: 256,
} as const;

/** Every reset at once: what an unknown statement (DO, CALL, anything unrecognised) gets. */
export const ALL_RESETS: number = Effect.SETTINGS | Effect.AUTHORIZATION | Effect.CURSORS | Effect.ADVISORY_LOCKS |
  Effect.LISTEN | Effect.TEMP | Effect.SEQUENCES | Effect.PREPARED;

/** How a string leaves the transaction: `open` (BEGIN …), `closed` (COMMIT …), or `unchanged`. */
export type TransactionChange = "open" | "closed" | "unchanged";

/**
 * The reading of one SQL string (maybe several statements).
 *
 * @example
 * ```ts
 * import { analyzeSql } from "./classify.ts";
 * const { transaction } = analyzeSql("/* planner step 3 *\/ begin"); // "open"
 * ```
 */
export interface SqlAnalysis {
  /** Bits of {@linkcode Effect}. */
  readonly effects: number;
  /** What the last transaction-control statement in the string did. */
  readonly transaction: TransactionChange;
}

/** Function names (any schema, any case, quoted or not) with a session-level effect. */
const FUNCTION_EFFECTS: ReadonlyMap<string, number> = new Map([
  ["set_config", Effect.SETTINGS],
  ["set_limit", Effect.SETTINGS], // pg_trgm: sets pg_trgm.similarity_threshold
  ["pg_advisory_lock", Effect.ADVISORY_LOCKS],
  ["pg_advisory_lock_shared", Effect.ADVISORY_LOCKS],
  ["pg_try_advisory_lock", Effect.ADVISORY_LOCKS],
  ["pg_try_advisory_lock_shared", Effect.ADVISORY_LOCKS],
  ["nextval", Effect.SEQUENCES],
  ["setval", Effect.SEQUENCES],
  ["dblink_connect", Effect.RETIRE],
  ["dblink_connect_u", Effect.RETIRE],
]);

/** Words looked for anywhere in a statement. */
const INTERESTING: ReadonlySet<string> = new Set([...FUNCTION_EFFECTS.keys(), "temp", "temporary", "pg_temp", "hold", "chain", "no"]);

/** Statements that read, write rows or change the schema: no session state of their own. */
const PLAIN = new Set([
  "select", "with", "values", "table", "insert", "update", "delete", "merge", "copy", "show", "explain", "lock",
  "notify", "fetch", "move", "close", "execute", "savepoint", "release", "unlisten", "discard", "deallocate", "reset",
  "create", "alter", "drop", "truncate", "comment", "grant", "revoke", "analyze", "analyse", "vacuum", "refresh",
  "reindex", "cluster", "checkpoint", "security", "import", "reassign",
]);

interface Reading {
  effects: number;
  transaction: TransactionChange;
}

/** One statement's kind from its leading words. */
function readStatement(lead: readonly string[], found: ReadonlySet<string>, into: Reading): void {
  for (const name of found) into.effects |= FUNCTION_EFFECTS.get(name) ?? 0;
  const [first, second, third] = lead;
  switch (first) {
    case "begin":
    case "start":
      into.transaction = "open";
      return;
    case "commit":
    case "end":
    case "rollback":
    case "abort": {
      if (second === "prepared") return; // two-phase: runs outside a transaction
      if (lead.includes("to")) return; // ROLLBACK [WORK] TO [SAVEPOINT] x
      // AND CHAIN opens the next transaction at once; AND NO CHAIN does not.
      into.transaction = found.has("chain") && !found.has("no") ? "open" : "closed";
      return;
    }
    case "prepare":
      if (second === "transaction") into.transaction = "closed";
      else into.effects |= Effect.PREPARED;
      return;
    case "set":
      // SET LOCAL, SET TRANSACTION, SET CONSTRAINTS last until the transaction ends.
      if (second === "local" || second === "transaction" || second === "constraints") return;
      if (second === "role" || third === "role" || third === "authorization") into.effects |= Effect.AUTHORIZATION;
      else into.effects |= Effect.SETTINGS;
      return;
    case "listen":
      into.effects |= Effect.LISTEN;
      return;
    case "declare":
      if (found.has("hold")) into.effects |= Effect.CURSORS;
      return;
    case "load":
      into.effects |= Effect.RETIRE;
      return;
    case "discard":
    case "deallocate":
      // DISCARD ALL and DEALLOCATE ALL also drop the driver's own prepared statements.
      if (second === "all" || (second === "prepare" && third === "all")) into.effects |= Effect.RETIRE;
      return;
  }
  if (first === "create" && (found.has("temp") || found.has("temporary") || found.has("pg_temp"))) {
    into.effects |= Effect.TEMP;
  } else if (first !== undefined && !PLAIN.has(first)) {
    into.effects |= ALL_RESETS; // DO, CALL, or nothing we recognise: it may have done anything
  } else if (found.has("pg_temp")) {
    into.effects |= Effect.TEMP; // select into pg_temp.x, alter … set schema pg_temp
  }
}

const cache = new Map<string, SqlAnalysis>();
const CACHE_LIMIT = 512;
const NOTHING: SqlAnalysis = Object.freeze({ effects: 0, transaction: "unchanged" });

/**
 * Reads a SQL string (one or several statements) and says what it leaves in the session.
 * Results are cached per text.
 *
 * @example
 * ```ts
 * import { analyzeSql } from "./classify.ts";
 * analyzeSql("begin; set local statement_timeout = 5; commit"); // { effects: 0, transaction: "closed" }
 * analyzeSql("SELECT pg_catalog.pg_advisory_lock(42)"); // { effects: Effect.ADVISORY_LOCKS, … }
 * ```
 */
export function analyzeSql(text: string): SqlAnalysis {
  const known = cache.get(text);
  if (known !== undefined) return known;
  const reading: Reading = { effects: 0, transaction: "unchanged" };
  for (const { lead, found } of lexStatements(text, INTERESTING)) readStatement(lead, found, reading);
  const result = reading.effects === 0 && reading.transaction === "unchanged" ? NOTHING : Object.freeze(reading);
  if (text.length <= 4096) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, result);
  }
  return result;
}

/**
 * The contract's coarse reading of one SQL string: `"read"` (SELECT, SHOW, … with no
 * session-level function), `"dml"` (rows or schema change, nothing left in the session), or
 * `"session"` (transaction control or anything that leaves session state).
 *
 * @example
 * ```ts
 * import { classifyStatement } from "./classify.ts";
 * classifyStatement("select * from tasks"); // "read"
 * classifyStatement("insert into tasks default values"); // "dml"
 * classifyStatement("-- note\nSET ROLE admin"); // "session"
 * ```
 */
export function classifyStatement(text: string): "read" | "dml" | "session" {
  const { effects, transaction } = analyzeSql(text);
  if (effects !== 0 || transaction !== "unchanged") return "session";
  const [first] = lexStatements(text, new Set()).map((s) => s.lead[0]);
  return first === "select" || first === "show" || first === "values" || first === "table" || first === "fetch" ? "read" : "dml";
}
