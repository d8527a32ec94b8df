/**
 * What the pool hands out: the postgres.js `Sql` behind a thin Proxy that records, for the
 * session bookkeeping (src/session/tracker.ts), the text of every statement the lease runs —
 * tagged templates with their fragments, `unsafe()` (multi-statement too), `.simple()`, `file()`
 * (its text once read), and the statements inside `sql.begin()` / `savepoint()` / `reserve()` —
 * and keeps the running queries for `factory.cancel`. A statement is read when it runs, never
 * when it is only built (fragments cost nothing).
 *
 * What it cannot reset, it retires: `sql.listen()` / `sql.subscribe()` open a second connection
 * that would outlive the lease, and a reservation never released would block the next lease.
 * Reading `sql.options` (Drizzle rewrites its parsers) makes `reset` compare them.
 *
 * Once the session is gone (`state.broken`: the driver saw it close), every statement is refused
 * before postgres.js sees it, which would run it on a new session: it rejects with
 * `SessionLostError`. One boolean test per statement.
 *
 * The adapter works on the raw instance (`rawSql`) and records its statements itself.
 *
 * @module
 */

import type postgres from "postgres";
import { analyzeSql, type SqlAnalysis } from "../session/classify.ts";
import type { ConnectionState, Sql } from "./connection_state.ts";
import { gateExecute, onFileText } from "./driver_internals.ts";
import { SessionLostError } from "./errors.ts";

// deno-lint-ignore no-explicit-any
type AnyQuery = postgres.PendingQuery<any>;

const raw = new WeakMap<object, Sql>();
const templates = new WeakMap<TemplateStringsArray, SqlAnalysis>();
/** How many queries a lease list keeps before dropping its oldest (long since finished) half. */
const LEASE_LIST_LIMIT = 64;

interface QueryParts {
  strings: readonly string[] & { raw?: readonly string[] };
  args: readonly unknown[];
}

function isFragment(value: unknown): value is QueryParts {
  return typeof value === "object" && value !== null && Array.isArray((value as QueryParts).strings) &&
    Array.isArray((value as QueryParts).args);
}

/** The reading of a query's text: its own strings plus any interpolated fragments. */
function noteText(state: ConnectionState, parts: QueryParts, depth = 0): void {
  const strings = parts.strings;
  if (strings.length === 0) return; // sql.file(): read once postgres.js has the text
  if (Array.isArray(strings.raw)) {
    let analysis = templates.get(strings as unknown as TemplateStringsArray);
    if (analysis === undefined) {
      analysis = analyzeSql(strings.join(" $0 "));
      templates.set(strings as unknown as TemplateStringsArray, analysis);
    }
    state.session.apply(analysis);
    if (depth < 8) for (const arg of parts.args) if (isFragment(arg)) noteText(state, arg, depth + 1);
  } else {
    state.session.note(String(strings[0]));
  }
}

/**
 * What the bookkeeping does when postgres.js runs a query of the lease (see `onExecute`): keeps
 * it for `factory.cancel` and reads its text. For a caller that installs its own execute hook.
 *
 * @example
 * ```ts
 * import { newConnectionState } from "./connection_state.ts";
 * import { noteExecuted } from "./tracked_sql.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * noteExecuted(sql`set role app`, newConnectionState()); // the release after it resets the role
 * ```
 */
export function noteExecuted(query: AnyQuery, state: ConnectionState): void {
  const lease = state.lease;
  if (lease.length >= LEASE_LIST_LIMIT) lease.splice(0, LEASE_LIST_LIMIT / 2);
  lease.push(query);
  noteText(state, query as unknown as QueryParts);
}

/**
 * The error a statement issued on a connection whose session ended rejects with (it is never
 * handed to postgres.js, which would run it on a new session).
 *
 * @example
 * ```ts
 * import { newConnectionState } from "./connection_state.ts";
 * import { sessionLost } from "./tracked_sql.ts";
 * console.log(sessionLost(newConnectionState()).code); // "SESSION_LOST"
 * ```
 */
export function sessionLost(state: ConnectionState): SessionLostError {
  return new SessionLostError({ backendPid: state.pid });
}

/** The gate of every statement of a lease: refused once the session is gone, else recorded. */
function admit(query: AnyQuery, state: ConnectionState): SessionLostError | undefined {
  if (state.broken) return sessionLost(state);
  noteExecuted(query, state);
}

/**
 * Makes `query` known to the session bookkeeping of `state` when it runs, and refuses it (it
 * rejects with `SessionLostError`, postgres.js never sees it) once the session is gone. Proxy.
 *
 * @example
 * ```ts
 * import { newConnectionState } from "./connection_state.ts";
 * import { watchQuery } from "./tracked_sql.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const state = newConnectionState();
 * await watchQuery(sql`set role app`, state); // the release after it resets the role
 * ```
 */
export function watchQuery<Q extends AnyQuery>(query: Q, state: ConnectionState): Q {
  gateExecute(query, admit, state);
  return query;
}

/**
 * Like {@linkcode watchQuery} for a `sql.file()` query: its text is read when postgres.js has it.
 *
 * @example
 * ```ts
 * import { newConnectionState } from "./connection_state.ts";
 * import { watchFile } from "./tracked_sql.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * await watchFile(sql.file("seed.sql"), newConnectionState());
 * ```
 */
export function watchFile<Q extends AnyQuery>(query: Q, state: ConnectionState): Q {
  return watchQuery(noteFileText(query, state), state);
}

/**
 * The part of {@linkcode watchFile} that reads the file's text once postgres.js has it, for a
 * caller that installs its own execute hook.
 *
 * @example
 * ```ts
 * import { newConnectionState } from "./connection_state.ts";
 * import { noteFileText } from "./tracked_sql.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * noteFileText(sql.file("seed.sql"), newConnectionState());
 * ```
 */
export function noteFileText<Q extends AnyQuery>(query: Q, state: ConnectionState): Q {
  onFileText(query, (text) => state.session.note(text));
  return query;
}

/**
 * The postgres.js instance behind a pooled connection (itself when it is not wrapped).
 *
 * @example
 * ```ts
 * import { rawSql } from "./tracked_sql.ts";
 * import type { Sql } from "./connection_state.ts";
 * const use = (pooled: Sql) => rawSql(pooled); // statements there are not recorded: record them yourself
 * ```
 */
export function rawSql(sql: Sql): Sql {
  return raw.get(sql) ?? sql;
}

/** The last argument, if a function, wrapped so it receives a watched `sql`. */
function wrapCallback(args: unknown[], state: ConnectionState): unknown[] {
  const last = args.length - 1;
  const fn = args[last];
  if (typeof fn !== "function") return args;
  const copy = args.slice();
  copy[last] = (inner: Sql) => fn(watchSql(inner, state));
  return copy;
}

/**
 * `sql` (an instance, the `sql` of a `begin` callback, or a reserved connection) behind the
 * recording Proxy described in the module notes.
 *
 * @example
 * ```ts
 * import { newConnectionState } from "./connection_state.ts";
 * import { watchSql } from "./tracked_sql.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const watched = watchSql(sql, newConnectionState());
 * ```
 */
export function watchSql(sql: Sql, state: ConnectionState): Sql {
  const call = sql as unknown as (...args: unknown[]) => unknown;
  // Made once per wrapped object, so a property read costs no allocation.
  const unsafe = (...args: unknown[]): unknown => watchQuery((sql.unsafe as (...a: unknown[]) => AnyQuery)(...args), state);
  const file = (...args: unknown[]): unknown => watchFile((sql.file as (...a: unknown[]) => AnyQuery)(...args), state);
  // These send statements postgres.js makes itself (BEGIN, SAVEPOINT) or take the connection:
  // refused as a statement is once the session is gone (a rejection, never a throw).
  const unlessLost = (run: () => unknown): unknown => (state.broken ? Promise.reject(sessionLost(state)) : run());
  const begin = (...args: unknown[]): unknown =>
    unlessLost(() => (sql.begin as (...a: unknown[]) => unknown)(...wrapCallback(args, state)));
  const savepoint = (...args: unknown[]): unknown =>
    unlessLost(() => (sql as unknown as { savepoint: (...a: unknown[]) => unknown }).savepoint(...wrapCallback(args, state)));
  const reserve = async (): Promise<unknown> => {
    if (state.broken) throw sessionLost(state); // async: the throw is the rejection
    state.retire = "the lease reserved the connection (sql.reserve()) and did not release it";
    const reserved = await sql.reserve();
    const release = reserved.release.bind(reserved);
    const watched = watchSql(reserved as unknown as Sql, state) as unknown as { release: () => void };
    Object.defineProperty(watched, "release", {
      value: () => {
        state.retire = null;
        release();
      },
    });
    return watched;
  };
  const outlives = (name: string) => (...args: unknown[]): unknown =>
    unlessLost(() => { // it would open a session of its own
      state.retire = `the lease called sql.${name}(), whose connection outlives it`;
      return (sql as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args);
    });
  const listen = outlives("listen");
  const subscribe = outlives("subscribe");
  const proxy = new Proxy(sql, {
    apply(_target, _this, args: unknown[]) {
      const result = Reflect.apply(call, undefined, args);
      const first = args[0] as { raw?: unknown } | undefined;
      if (first !== null && typeof first === "object" && Array.isArray(first.raw)) watchQuery(result as AnyQuery, state);
      return result;
    },
    get(target, property) {
      switch (property) {
        case "unsafe":
          return unsafe;
        case "file":
          return file;
        case "begin":
          return typeof target.begin === "function" ? begin : undefined;
        case "savepoint":
          return "savepoint" in target ? savepoint : undefined;
        case "reserve":
          return typeof target.reserve === "function" ? reserve : undefined;
        case "listen":
          return listen;
        case "subscribe":
          return subscribe;
        case "options":
          state.optionsTouched = true;
      }
      return Reflect.get(target, property);
    },
  });
  return proxy;
}

/**
 * Wraps a pooled instance for the pool (see the module notes). Factory only.
 *
 * @example
 * ```ts
 * import { newConnectionState } from "./connection_state.ts";
 * import { trackedSql } from "./tracked_sql.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const pooled = trackedSql(sql, newConnectionState());
 * ```
 */
export function trackedSql(sql: Sql, state: ConnectionState): Sql {
  const proxy = watchSql(sql, state);
  raw.set(proxy, sql);
  return proxy;
}
