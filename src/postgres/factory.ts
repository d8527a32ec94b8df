/**
 * The postgres.js driver for the pool: each pooled connection is one `postgres({ max: 1 })`
 * instance, because postgres.js is itself a pool and pools must not be stacked.
 *
 * Session isolation (docs/postgres.md): every lease starts on a clean session. The pooled `Sql`
 * records what each lease runs (tracked_sql.ts) and the server's ParameterStatus reports; a clean
 * lease is released at no cost (no statement, no round trip, no server-log line). A dirty one gets
 * one reset string (src/session/reset_plan.ts), queued without awaiting it: postgres.js runs a
 * connection's queries in order, so the next holder's first statement is written behind it in the
 * same round trip. What no statement can undo retires the connection.
 *
 * @module
 */

import postgres from "postgres";
import type { ConnectionFactory } from "../core/factory.ts";
import { PoolError } from "../core/errors.ts";
import { checkDuration, invalidOption } from "../core/checks.ts";
import { type ConnectionState, connectionState, newConnectionState, type Sql, trackConnection } from "./connection_state.ts";
import { rawSql, sessionLost, trackedSql } from "./tracked_sql.ts";
import { assertDriverInternals, failUnsent, isRunning, stayClosed } from "./driver_internals.ts";
import { fastenDriverClasses } from "./fast_classes.ts";
import { ArrayTypes } from "./array_types.ts";
import { isSessionLostCode, someCause } from "../session/fatal.ts";
import { type DriverSnapshot, restoreDriverOptions, snapshotDriverOptions } from "./driver_options.ts";
import { DatabaseConnectionError, PoolerCapacityError } from "./errors.ts";
import { isCapacityRefusal, poolerLimitOf, retryRefusals } from "./pooler_refusal.ts";

/** postgres.js options the factory owns: the pool manages size and lifetimes itself. */
type OwnedDriverOptions = "max" | "idle_timeout" | "max_lifetime" | "connect_timeout" | "onclose";

/**
 * Options of {@linkcode postgresFactory}: every postgres.js option (`prepare`, `ssl`, `types`,
 * `transform`, ...) except the ones the pool owns, plus a few of its own.
 *
 * @example PgBouncer in transaction mode
 * ```ts
 * import { postgresFactory } from "agentpool";
 * const factory = postgresFactory("postgres://app@127.0.0.1:6432/app", { prepare: false });
 * ```
 */
export interface PostgresFactoryOptions
  extends Omit<postgres.Options<Record<string, postgres.PostgresType>>, OwnedDriverOptions> {
  /** `application_name` of every session, shown in `pg_stat_activity`. Default `"agentpool"`. */
  applicationName?: string;
  /** How long opening one connection may take. Default 10000. */
  connectTimeoutMs?: number;
  /** How long `destroy` lets running queries finish before it closes the socket. Default 5000. */
  endTimeoutMs?: number;
  /** How long `cancel` (delivering the CancelRequest) may take before it gives up. Default 2000. */
  cancelTimeoutMs?: number;
}

/**
 * postgres.js's codes of a dead connection, and ours for a statement refused after the session
 * ended (socket codes and SQLSTATEs: src/session/fatal.ts).
 */
const FATAL_DRIVER_CODES: ReadonlySet<string> = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "SESSION_LOST",
]);

/**
 * Whether `error` means the PostgreSQL session (or the server) is gone: SQLSTATE class 08,
 * 57P01/57P02/57P03/57P04/57P05, 25P03, postgres.js `CONNECTION_CLOSED` / `CONNECTION_ENDED` /
 * `CONNECTION_DESTROYED` / `CONNECT_TIMEOUT`, agentpool's `SESSION_LOST` (`SessionLostError`),
 * or a socket error (`ECONNRESET`, `EPIPE`, ...).
 * Follows `cause` (a few levels), so wrapped errors count too. Query errors (syntax, constraint,
 * `57014` query_canceled, serialization failures) are not fatal.
 *
 * @example
 * ```ts
 * import { isFatalPostgresError } from "agentpool";
 * isFatalPostgresError(Object.assign(new Error("terminating connection"), { code: "57P01" })); // true
 * isFatalPostgresError(Object.assign(new Error("duplicate key"), { code: "23505" })); // false
 * ```
 */
export function isFatalPostgresError(error: unknown): boolean {
  const fatal = (code: unknown): boolean =>
    typeof code === "string" && (FATAL_DRIVER_CODES.has(code) || isSessionLostCode(code));
  return someCause(error, ({ code, driverCode }) => fatal(code) || fatal(driverCode));
}

const NO_TRANSACTION_WARNING = "25P01";
/** How long an aborted create waits for a silent server before terminating the session. */
const ABORT_GRACE_MS = 250;

const SUBJECT = "create postgres factory";

/** Builds the postgres.js options once; `urlOrOptions` is re-used for every connection. */
function driverOptions(
  options: PostgresFactoryOptions,
): {
  driver: postgres.Options<Record<string, postgres.PostgresType>>;
  endTimeoutMs: number;
  cancelTimeoutMs: number;
  applicationName: string;
} {
  const { applicationName = "agentpool", connectTimeoutMs, endTimeoutMs, cancelTimeoutMs, ...rest } = options;
  if (typeof applicationName !== "string") invalidOption("type", SUBJECT, "applicationName", "a string", applicationName);
  const driver: postgres.Options<Record<string, postgres.PostgresType>> = {
    ...rest,
    max: 1,
    idle_timeout: 0, // the pool owns idle timeouts and lifetimes
    max_lifetime: null,
    connect_timeout: checkDuration(SUBJECT, "connectTimeoutMs", connectTimeoutMs ?? 10_000) / 1000,
    connection: { application_name: applicationName, ...rest.connection },
  };
  return {
    driver,
    endTimeoutMs: checkDuration(SUBJECT, "endTimeoutMs", endTimeoutMs ?? 5000),
    cancelTimeoutMs: checkDuration(SUBJECT, "cancelTimeoutMs", cancelTimeoutMs ?? 2000),
    applicationName,
  };
}

/** Secrets that must never appear in an error message. */
function secretsOf(url: string | undefined, sql: Sql): string[] {
  const secrets: string[] = [];
  const pass = sql.options.pass;
  if (typeof pass === "string" && pass !== "") secrets.push(pass, encodeURIComponent(pass));
  if (url !== undefined) secrets.push(url);
  return secrets;
}

/** Wraps a connect failure so the message names host, port and database at most. */
function connectError(error: unknown, url: string | undefined, sql: Sql): DatabaseConnectionError {
  const o = sql.options;
  const host = o.path ? String(o.path) : o.host.join(",");
  const port = o.path ? "" : o.port.join(",");
  const raw = error as { code?: unknown; message?: unknown };
  let detail = typeof raw?.message === "string" ? raw.message : String(error);
  for (const secret of secretsOf(url, sql)) detail = detail.split(secret).join("***");
  const limit = poolerLimitOf(error);
  if (limit !== undefined) return new PoolerCapacityError(host, port, o.database, limit, detail);
  return new DatabaseConnectionError(host, port, o.database, typeof raw?.code === "string" ? raw.code : undefined, detail);
}

/**
 * A {@linkcode ConnectionFactory} of postgres.js connections: one `postgres({ max: 1 })` instance
 * per pooled connection, connected eagerly (its `pg_backend_pid()` is read at once, see
 * `backendPid`), postgres.js's own idle timeout and lifetime turned off (the pool owns them).
 *
 * - `create(signal)` gives up on abort (the half-open connection is ended at once). A PgBouncer
 *   refusing the client at a capacity limit ({@linkcode PoolerCapacityError}) is retried with
 *   backoff for up to a second, then the create rejects with that refusal.
 * - `validate` runs `select 1` (cancelled when the signal aborts).
 * - `reset` gives the next lease a clean session: nothing when the lease was clean, one pipelined
 *   reset string when it was not, retirement when nothing can undo it (docs/postgres.md).
 * - `destroy` ends the session, letting running queries finish for `endTimeoutMs` (at once when
 *   the session is already known dead).
 * - `isFatal` says whether an error means the session or the server is gone
 *   ({@linkcode isFatalPostgresError}); `isBroken` whether the socket closed (postgres.js
 *   `onclose`), so the pool never hands such a connection out or returns it to idle.
 * - A session that ended stays ended: postgres.js's instance would open a new one for the next
 *   statement, so every statement issued on that `sql` afterwards (and those still queued when
 *   it closed) rejects with `SessionLostError` (`SESSION_LOST`) instead, and no second session
 *   or socket is ever opened for one pooled connection.
 * - `cancel` cancels the query the lease is running with postgres.js's own CancelRequest (the
 *   backend key, no extra session), resolving once it was delivered (bounded by
 *   `cancelTimeoutMs`), for hold policies and revoke.
 * - Connection errors are {@linkcode DatabaseConnectionError}s that never contain the password.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool, postgresFactory } from "agentpool";
 * const pool = new AsyncConnectionPool({
 *   factory: postgresFactory("postgres://postgres@127.0.0.1:5432/postgres", { applicationName: "planner" }),
 *   maxConnections: 20,
 * });
 * const rows = await pool.use((sql) => sql`select 1 as one`, { agentId: "planner-1" });
 * await pool.close();
 * ```
 */
export function postgresFactory(
  urlOrOptions: string | PostgresFactoryOptions,
  options?: PostgresFactoryOptions,
): ConnectionFactory<Sql> {
  if (typeof urlOrOptions !== "string" && (typeof urlOrOptions !== "object" || urlOrOptions === null)) {
    invalidOption("type", SUBJECT, "urlOrOptions", "a connection URL or an options object", typeof urlOrOptions);
  }
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    invalidOption("type", SUBJECT, "options", "an object", options);
  }
  const url = typeof urlOrOptions === "string" ? urlOrOptions : undefined;
  const { driver, endTimeoutMs, cancelTimeoutMs } = driverOptions(url === undefined ? { ...(urlOrOptions as object), ...options } : { ...options });
  const arrayTypes = new ArrayTypes(driver.fetch_types);
  const open = (state: ConnectionState, onClosed: () => void, onAnswered: () => void, fetchTypes: boolean): Sql => {
    const userOnParameter = driver.onparameter;
    const userNotice = driver.onnotice;
    // A session that closes under us (server restart, terminate) must never be handed out again,
    // and postgres.js must not open another behind the pool's back: the lease's statements still
    // queued are refused, later ones are refused by the pooled `sql` (tracked_sql.ts), and the
    // instance stays closed. postgres.js runs this hook before it would reconnect.
    const perConnection = {
      ...driver,
      fetch_types: fetchTypes,
      onclose: () => {
        state.broken = true;
        failUnsent(state.lease, () => sessionLost(state));
        stayClosed(sql);
        onClosed();
      },
      // ParameterStatus arrives after authentication: from then on the server answers. After
      // start-up, a changed reported setting (whoever changed it) makes the session dirty.
      onparameter: (key: string, value: unknown) => {
        onAnswered();
        state.session.parameter(key, String(value));
        userOnParameter?.(key, value);
      },
      onnotice: (notice: postgres.Notice) => {
        // Only our own reset's ROLLBACK is hidden (it runs when a BEGIN may have been left open).
        if (notice.code === NO_TRANSACTION_WARNING && state.resetting > 0) return;
        if (userNotice) userNotice(notice);
        else console.log(notice); // postgres.js's default
      },
    };
    const sql = (url === undefined ? postgres(perConnection) : postgres(url, perConnection)) as Sql;
    if (!fetchTypes) arrayTypes.applyTo(sql);
    return sql;
  };
  const snapshots = new WeakMap<ConnectionState, DriverSnapshot>();
  /** Sends the reset; awaited (so a failure retires the session) while a cancel is in flight. */
  const sendReset = (sql: Sql, state: ConnectionState, statements: string): Promise<void> | void => {
    state.resetting++;
    const sent = rawSql(sql).unsafe(statements).then(
      () => void state.resetting--,
      (error: unknown) => {
        state.resetting--;
        state.discard = true;
        throw error;
      },
    );
    if (state.cancelling > 0) return sent;
    sent.catch(() => {}); // marked for discard: the next release closes it
  };

  /** One connect; a PgBouncer capacity refusal is retried by `create` (pooler_refusal.ts). */
  const createOnce = async (signal: AbortSignal): Promise<Sql> => {
    signal.throwIfAborted();
    const state = newConnectionState();
    // postgres.js reconnects at once, in a loop, when the server (or a proxy in front of it)
    // accepts and then closes during start-up (porsager/postgres #1193): hundreds of connects a
    // second behind the pool's back. The first close during create fails the create instead.
    let closedDuringStartup!: (error: Error) => void;
    const closed = new Promise<never>((_, reject) => void (closedDuringStartup = reject));
    closed.catch(() => {});
    let sql: Sql;
    let answered = false;
    // Only until one connection has fetched the array types (array_types.ts says why).
    const fetchTypes = arrayTypes.shouldFetch();
    try {
      sql = open(state, () => {
        closedDuringStartup(Object.assign(new Error("the server closed the connection during start-up"), { code: "CONNECTION_CLOSED" }));
      }, () => void (answered = true), fetchTypes);
    } catch (error) {
      // Option parsing failed (e.g. a malformed URL): report it without echoing the URL.
      const message = error instanceof Error ? error.message : String(error);
      throw new TypeError(`Cannot create postgres connection: ${url ? message.split(url).join("***") : message}`);
    }
    trackConnection(sql, state);
    // Once the server answers, postgres.js runs its own type query before ours, and terminating
    // the session then rejects that internal query with nobody listening (an unhandled
    // rejection). postgres.js terminates a macrotask after end({ timeout: 0 }), time enough for
    // an answer to arrive, so an abort waits a short grace: a session that answers finishes its
    // start-up and is ended gracefully below; a silent one (black-holed, hung) is terminated.
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const abort = (): void => {
      graceTimer = setTimeout(() => {
        if (!answered) void sql.end({ timeout: 0 }).catch(() => {});
      }, ABORT_GRACE_MS);
    };
    signal.addEventListener("abort", abort, { once: true });
    try {
      const opening = sql.unsafe<{ pid: number }[]>("select pg_backend_pid() as pid");
      const result = await Promise.race([opening, closed]);
      state.pid = result[0].pid;
      state.keyPid = result.state.pid;
      assertDriverInternals(opening);
      // Once per process: lets V8 optimize `new Query` / `new Result` (fast_classes.ts says why).
      fastenDriverClasses(opening, result);
      if (fetchTypes) arrayTypes.learnFrom(sql);
      state.session.started();
      snapshots.set(state, snapshotDriverOptions(sql));
      if (!signal.aborted) {
        const pooled = trackedSql(sql, state);
        trackConnection(pooled, state);
        return pooled;
      }
    } catch (error) {
      await sql.end({ timeout: answered ? endTimeoutMs / 1000 : 0 }).catch(() => {});
      if (signal.aborted) throw signal.reason;
      throw connectError(error, url, sql);
    } finally {
      signal.removeEventListener("abort", abort);
      clearTimeout(graceTimer);
    }
    // Aborted while the session was starting: it is up now, so close it cleanly.
    await sql.end({ timeout: endTimeoutMs / 1000 }).catch(() => {});
    throw signal.reason;
  };

  return {
    create: (signal: AbortSignal): Promise<Sql> => retryRefusals(signal, createOnce),
    atCapacity: isCapacityRefusal,

    async destroy(sql: Sql): Promise<void> {
      const state = connectionState(sql);
      // A session already known dead has nothing to finish: do not wait endTimeoutMs for it.
      const dead = state?.broken === true;
      if (state !== undefined) state.broken = true;
      await sql.end({ timeout: dead ? 0 : endTimeoutMs / 1000 });
    },

    isFatal: isFatalPostgresError,

    isBroken(sql: Sql): boolean {
      return connectionState(sql)?.broken === true;
    },

    async cancel(sql: Sql): Promise<void> {
      const state = connectionState(sql);
      if (state === undefined || state.broken) return;
      // Only the query the lease is running right now, by postgres.js's own CancelRequest with
      // the backend key it was sent with: no extra session, and through PgBouncer the key routes
      // to whichever server runs that client's query.
      const running = state.lease.filter(isRunning);
      if (running.length === 0) return;
      state.cancelling++;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new PoolError("CANCEL_TIMEOUT", `Delivering the cancel request took longer than ${cancelTimeoutMs} ms`)),
          cancelTimeoutMs,
        );
      });
      try {
        await Promise.race([Promise.all(running.map((query) => query.cancel())), timeout]);
      } finally {
        clearTimeout(timer);
        state.cancelling--;
      }
    },

    async validate(sql: Sql, signal: AbortSignal): Promise<boolean> {
      const known = connectionState(sql);
      if (known === undefined || known.broken || known.discard || signal.aborted) return false;
      const query = sql.unsafe("select 1");
      const cancel = (): void => {
        // No answer in time (a black-holed network): the session is dead to us, so destroy
        // need not wait for the query behind it.
        const state = connectionState(sql);
        if (state !== undefined) state.broken = true;
        void query.cancel();
      };
      signal.addEventListener("abort", cancel, { once: true });
      try {
        await query;
        return true;
      } catch (error) {
        // A dead session: destroy must not wait endTimeoutMs for postgres.js to notice.
        if (isFatalPostgresError(error)) known.broken = true;
        return false;
      } finally {
        signal.removeEventListener("abort", cancel);
      }
    },

    reset(sql: Sql): Promise<void> | void {
      const state = connectionState(sql);
      if (state === undefined) return;
      if (state.broken || state.discard) {
        throw new PoolError("CONNECTION_UNUSABLE", "The session was closed or left in an unknown state");
      }
      if (state.lease.length > 0) state.lease.length = 0;
      if (state.optionsTouched) {
        state.optionsTouched = false;
        const changed = restoreDriverOptions(rawSql(sql), snapshots.get(state));
        if (changed !== null) state.session.retire(changed);
      }
      if (state.retire !== null) state.session.retire(state.retire);
      state.retire = null;
      const session = state.session;
      if (session.clean) return;
      const { statements, retire } = session.takeReset();
      if (retire !== null) throw new PoolError("SESSION_RETIRED", `The session was retired instead of reset: ${retire}`);
      if (statements !== null) return sendReset(sql, state, statements);
    },
  };
}
