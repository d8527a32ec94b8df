/**
 * The few postgres.js query fields that are not public API, in one place. Tested against
 * postgres.js 3.4.x (tests/session_driver_internals.test.ts fails naming the installed version
 * when they change). Everything else in src/postgres uses the documented API.
 *
 * - `query.executed` / `query.active`: postgres.js sets `executed` once a query was handed to the
 *   connection and `active` while it is the one the server runs (src/query.js, src/connection.js).
 *   `factory.cancel` cancels only a query that is running, never a finished one: postgres.js's
 *   `query.cancel()` on a finished query would wait forever for it to start.
 * - `query.strings` of `sql.file()`: postgres.js assigns the file's text there after reading it and
 *   before sending it, so the session bookkeeping reads what the file really contained.
 * - `query.state`: `null` until postgres.js writes the query to a connection (then the session's
 *   backend key), so a query with `null` there was never sent (`failUnsent`).
 * - How a `max: 1` instance reconnects and how it uses a custom `socket` (`stayClosed`): it opens
 *   a new session on the next query after a close, and for the queued ones right away; it reads
 *   `options.socket` at each connect, and a socket that closes fails what waited for it.
 *
 * @module
 */

import type postgres from "postgres";

/** The postgres.js versions these internals were checked against (`major.minor`). */
export const SUPPORTED_DRIVER_RANGE = "3.4";

// deno-lint-ignore no-explicit-any
type AnyQuery = postgres.PendingQuery<any>;

interface QueryInternals {
  executed?: unknown;
  state?: unknown;
  active?: unknown;
  strings?: unknown;
  reject?: unknown;
  handler?: unknown;
}

/**
 * Throws naming the driver version when a postgres.js query lacks the fields this module reads.
 * Called once per connection, on the query that opened it.
 *
 * @example
 * ```ts
 * import { assertDriverInternals } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const query = sql`select 1`;
 * await query;
 * assertDriverInternals(query, "3.4.9"); // fine on postgres.js 3.4
 * ```
 */
export function assertDriverInternals(query: unknown, version = "unknown"): void {
  const q = query as QueryInternals;
  if (
    typeof q?.executed !== "boolean" || typeof q.active !== "boolean" || !Array.isArray(q.strings) || typeof q.state !== "object" ||
    typeof q.reject !== "function" || typeof q.handler !== "function" || typeof Object.getPrototypeOf(q).then !== "function"
  ) {
    throw new Error(
      `agentpool needs postgres.js ${SUPPORTED_DRIVER_RANGE}.x (query.executed, .active, .strings, .state, .reject, .handler, ` +
        `Query.prototype.then); ` +
        `the installed postgres.js (${version}) has changed them: pin postgres@~${SUPPORTED_DRIVER_RANGE}`,
    );
  }
}

/**
 * True while `query` was sent and has not finished (the server may be running it, or it waits
 * in the connection's pipeline behind another).
 *
 * @example
 * ```ts
 * import { isRunning } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const query = sql`select pg_sleep(1)`;
 * query.execute();
 * if (isRunning(query)) await query.cancel();
 * ```
 */
export function isRunning(query: AnyQuery): boolean {
  const q = query as unknown as QueryInternals;
  return q.executed === true && q.active === true;
}

/**
 * Calls `onText` with the SQL of a `sql.file()` query once postgres.js has read the file (before
 * the text is sent).
 *
 * @example
 * ```ts
 * import { onFileText } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * onFileText(sql.file("migrate.sql"), (text) => console.log(text.length));
 * ```
 */
export function onFileText(query: AnyQuery, onText: (text: string) => void): void {
  let strings: unknown = (query as unknown as QueryInternals).strings;
  Object.defineProperty(query, "strings", {
    configurable: true,
    enumerable: true,
    get: () => strings,
    set(value: unknown) {
      strings = value;
      if (Array.isArray(value) && typeof value[0] === "string") onText(value[0]);
    },
  });
}

/**
 * A way to run a hook before one method of a postgres.js query: `install(query, hook, context)`
 * makes `query[method](argument)` call `hook(argument, context)` first. The originals, hook and
 * context live on the query under symbols, with one shared function per method: no closure per
 * query, since this is on every statement's path. `name` keeps the symbols of two installers on
 * one method apart; with `refusable`, an error the hook returns fails the query instead of the call.
 */
function beforeMethod<A>(
  method: "handler" | "reject",
  name: string = method,
  refusable = false,
): (query: AnyQuery, hook: (argument: A, context: unknown) => unknown, context: unknown) => void {
  const original = Symbol(`agentpool.${name}`);
  const hookKey = Symbol(`agentpool.${name}.hook`);
  const contextKey = Symbol(`agentpool.${name}.context`);
  type Hooked = Record<symbol, unknown> & Record<typeof method, (argument: A) => unknown>;
  function installed(this: Hooked, argument: A): unknown {
    const refusal = (this[hookKey] as (argument: A, context: unknown) => unknown)(argument, this[contextKey]);
    // A refusable hook's error fails the query, which postgres.js then never sees.
    if (refusable && refusal !== undefined) return (this as unknown as { reject: (error: unknown) => void }).reject(refusal);
    return (this[original] as (argument: A) => unknown).call(this, argument);
  }
  return (query, hook, context) => {
    const q = query as unknown as Hooked;
    q[original] = q[method];
    q[hookKey] = hook;
    q[contextKey] = context;
    q[method] = installed;
  };
}

// postgres.js runs a query with `this.handler(this)` (Query.handle) and fails it with `query.reject(error)`.
const beforeHandler = beforeMethod<AnyQuery>("handler");
const beforeReject = beforeMethod<unknown>("reject");
const gateHandler = beforeMethod<AnyQuery>("handler", "gate", true);

/**
 * Calls `hook(query, context)` when postgres.js runs `query` (awaited, `.execute()`,
 * `.forEach()`, a cursor), before it is written; never for a fragment that is only interpolated
 * into another query. postgres.js runs a query through its `handler` field exactly once
 * (`Query.handle`). Fields on the query, no closure: this is on every statement's path.
 *
 * @example
 * ```ts
 * import { onExecute } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * onExecute(sql`select 1`, (query, label) => console.log(label, query), "sent");
 * ```
 */
export function onExecute<C>(query: AnyQuery, hook: (query: AnyQuery, context: C) => void, context: C): void {
  beforeHandler(query, hook as (query: AnyQuery, context: unknown) => void, context);
}

const GATED = Symbol("agentpool.gated");

/**
 * Like {@linkcode onExecute}, but `gate(query, context)` may refuse the query: when it returns an
 * error (anything but `undefined`), the query rejects with it and postgres.js never sees it, so
 * no connection is used, or opened, for it. One call and one comparison per statement.
 *
 * @example
 * ```ts
 * import { gateExecute } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * let closed = false;
 * const query = sql`select 1`;
 * gateExecute(query, () => (closed ? new Error("closed") : undefined), undefined);
 * ```
 */
export function gateExecute<C>(query: AnyQuery, gate: (query: AnyQuery, context: C) => unknown, context: C): void {
  gateHandler(query, gate as (query: AnyQuery, context: unknown) => unknown, context);
  (query as unknown as Record<symbol, unknown>)[GATED] = true;
}

/**
 * Rejects, with a fresh `error()` each, those of `queries` that went through
 * {@linkcode gateExecute}, were handed to postgres.js and never written to a connection: the
 * ones queued inside the instance behind a busy connection (`query.state` stays `null` until a
 * query is written). Finished queries are left alone (a settled promise ignores `reject`).
 *
 * @example
 * ```ts
 * import { failUnsent } from "./driver_internals.ts";
 * import type postgres from "postgres";
 * declare const lease: postgres.PendingQuery<postgres.Row[]>[];
 * failUnsent(lease, () => new Error("the session ended"));
 * ```
 */
export function failUnsent(queries: readonly AnyQuery[], error: () => unknown): void {
  for (const query of queries) {
    const q = query as unknown as QueryInternals & Record<symbol, unknown>;
    if (q[GATED] === true && q.executed === true && q.state === null) (q.reject as (error: unknown) => void)(error());
  }
}

/** The minimal socket-like object postgres.js talks to (src/connection.js): events and writes. */
class RefusedSocket {
  /** Never open: postgres.js's `terminate` and `end` write nothing to it. */
  readonly readyState = "closed";
  #listeners: { event: string; listener: (...args: unknown[]) => void }[] = [];
  #closing = false;

  on(event: string, listener: (...args: unknown[]) => void): this {
    this.#listeners.push({ event, listener });
    return this;
  }

  once(event: string, listener: (...args: unknown[]) => void): this {
    const once = (...args: unknown[]): void => {
      this.removeListener(event, once);
      listener(...args);
    };
    return this.on(event, once);
  }

  removeListener(event: string, listener: (...args: unknown[]) => void): this {
    this.#listeners = this.#listeners.filter((l) => l.event !== event || l.listener !== listener);
    return this;
  }

  removeAllListeners(): this {
    this.#listeners = [];
    return this;
  }

  /** postgres.js's first write (the start-up or SSL request) closes it, as a server that hung up would. */
  write(): boolean {
    this.#close();
    return true;
  }

  end(): void {
    this.#close();
  }

  destroy(): void {
    this.#close();
  }

  setKeepAlive(): void {}
  pause(): void {}
  resume(): void {}

  #close(): void {
    if (this.#closing) return;
    this.#closing = true;
    queueMicrotask(() => {
      for (const { event, listener } of this.#listeners.slice()) if (event === "close") listener(false);
    });
  }
}

function refusedSocket(): RefusedSocket {
  return new RefusedSocket();
}

/**
 * Makes the postgres.js instance `sql`, whose (only) session has just closed, stay closed: a
 * `max: 1` instance would open a new session for the next statement, and at once for the
 * statements queued behind the one the close failed (postgres.js `onclose` in src/index.js).
 * Call it from the instance's `onclose` option, which postgres.js runs before that reconnect.
 *
 * - Every socket postgres.js asks for from now on (its documented `socket` option, read at each
 *   connect) is a stand-in that reaches no server and closes on postgres.js's first write.
 * - The instance is ended (`end({ timeout: 0 })`): postgres.js fails what is still queued on it
 *   (`CONNECTION_DESTROYED`) and every later query at once (`CONNECTION_ENDED`); the connection
 *   a reconnect already scheduled gets only the stand-in, so it closes again and stays closed.
 *
 * Later calls (each close runs the hook) change nothing.
 *
 * @example
 * ```ts
 * import { stayClosed } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql: postgres.Sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", {
 *   max: 1,
 *   onclose: () => stayClosed(sql),
 * });
 * ```
 */
export function stayClosed(sql: postgres.Sql): void {
  const options = sql.options as unknown as { socket?: unknown };
  if (options.socket === refusedSocket) return;
  options.socket = refusedSocket;
  sql.end({ timeout: 0 }).catch(ignoreError);
}

type Thenable = (onFulfilled?: unknown, onRejected?: unknown) => Promise<unknown>;
const FIRST = Symbol("agentpool.first");

interface Ordered {
  [FIRST]: AnyQuery | null;
}

function second(pair: readonly unknown[]): unknown {
  return pair[1];
}

/** Installed as a query's `then`: settles once `first` and the query itself both did. */
function thenAfterFirst(this: AnyQuery & Ordered, onFulfilled?: unknown, onRejected?: unknown): Promise<unknown> {
  const then = Object.getPrototypeOf(this).then as Thenable; // postgres.js Query.prototype.then: sends it
  const first = this[FIRST];
  if (first === null) return then.call(this, onFulfilled, onRejected);
  return Promise.all([first, then.call(this)]).then(second).then(
    onFulfilled as (v: unknown) => unknown,
    onRejected as (e: unknown) => unknown,
  );
}

/**
 * Makes `query` settle (with its own value) only once `first` settled too, so a failure of
 * `first` surfaces on `query`. Installed on the query object: no closure per call.
 *
 * @example
 * ```ts
 * import type postgres from "postgres";
 * declare const sql: postgres.Sql;
 * const begin = sql`begin`;
 * const first = sql`select 1`;
 * settleAfter(first, begin); // awaiting `first` also waits for (and rethrows) BEGIN
 * ```
 */
export function settleAfter(query: AnyQuery, first: AnyQuery): void {
  (query as unknown as Ordered)[FIRST] = first;
  (query as unknown as { then: unknown }).then = thenAfterFirst;
}

/**
 * Undoes {@linkcode settleAfter}'s wait (the caller checks `first` itself); a no-op on other queries.
 *
 * @example
 * ```ts
 * import type postgres from "postgres";
 * declare const query: postgres.PendingQuery<postgres.Row[]>;
 * stopWaiting(query);
 * ```
 */
export function stopWaiting(query: unknown): void {
  const q = query as Partial<Ordered>;
  if (q[FIRST] !== undefined) q[FIRST] = null;
}

/**
 * Calls `hook(error, context)` the moment postgres.js fails `query` (before its promise
 * rejects, and before the connection's close event). Installed on the query object: no closure.
 *
 * @example
 * ```ts
 * import type postgres from "postgres";
 * declare const query: postgres.PendingQuery<postgres.Row[]>;
 * onReject(query, (error, label: string) => console.warn(label, error), "tx-1");
 * ```
 */
export function onReject<C>(query: AnyQuery, hook: (error: unknown, context: C) => void, context: C): void {
  beforeReject(query, hook as (error: unknown, context: unknown) => void, context);
}

/**
 * Hands `query` to its connection now, as postgres.js's `Query.handle` does a microtask later
 * (`executed = true; handler(query)`), so the queries written after it are written after it.
 * Only for a query the caller owns and has finished configuring. Costs no promise: postgres.js's
 * `handle()` is an async function that allocates three on its first call and one on each later
 * `then` / `catch`.
 *
 * @example
 * ```ts
 * import { sendNow } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const commit = sql.unsafe("commit");
 * sendNow(commit); // written before any query handed over after it
 * ```
 */
export function sendNow(query: AnyQuery): void {
  const q = query as unknown as { executed: boolean; handler: (query: unknown) => unknown };
  if (q.executed) return;
  q.executed = true;
  q.handler(q);
}

/**
 * A failed query's error, as the value of the promise {@linkcode outcome} returns.
 *
 * @example
 * ```ts
 * import { QueryFailure } from "./driver_internals.ts";
 * const failed = new QueryFailure(new Error("boom"));
 * console.log(failed.error);
 * ```
 */
export class QueryFailure {
  /** The query's rejection. */
  readonly error: unknown;
  /** Wraps `error`. */
  constructor(error: unknown) {
    this.error = error;
  }
}

function toFailure(error: unknown): QueryFailure {
  return new QueryFailure(error);
}

const nativeThen = Promise.prototype.then as <T>(this: unknown, onFulfilled?: null, onRejected?: (e: unknown) => T) => Promise<unknown>;

/**
 * A plain promise of `query`'s result, or of a {@linkcode QueryFailure}: it never rejects, so it
 * can wait unobserved. One promise, through the native `then` (a postgres.js query is a Promise
 * subclass whose species is Promise): no `handle()` call, and `await` takes it without the
 * thenable job it adds for a subclass. Does not send the query (see {@linkcode sendNow}).
 *
 * @example
 * ```ts
 * import { outcome, QueryFailure, sendNow } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const query = sql`select 1`;
 * sendNow(query);
 * const done = await outcome(query);
 * if (done instanceof QueryFailure) throw done.error;
 * ```
 */
export function outcome<T>(query: AnyQuery): Promise<T | QueryFailure> {
  return nativeThen.call(query, null, toFailure) as Promise<T | QueryFailure>;
}

/**
 * A plain promise that follows `query` (resolves or rejects with it), through the native `then`
 * (see {@linkcode outcome}); for a query that is awaited at once.
 *
 * @example
 * ```ts
 * import { followQuery, sendNow } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const query = sql`select 1`;
 * sendNow(query);
 * const rows = await followQuery(query);
 * ```
 */
export function followQuery<T>(query: AnyQuery): Promise<T> {
  return nativeThen.call(query) as Promise<T>;
}

/**
 * Swallows `query`'s rejection without sending it (its outcome is read some other way); one
 * promise, through the native `then`.
 *
 * @example
 * ```ts
 * import { ignoreRejection } from "./driver_internals.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * ignoreRejection(sql.unsafe("begin"));
 * ```
 */
export function ignoreRejection(query: AnyQuery): void {
  nativeThen.call(query, null, ignoreError);
}

function ignoreError(): undefined {
  return undefined;
}
