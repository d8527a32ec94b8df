/**
 * The node-postgres driver for the pool: each pooled connection is one real `pg.Client`.
 *
 * Reset (on every release) costs nothing for a clean lease. pg reports the server's transaction
 * status on every ReadyForQuery, so a lease that left a transaction open (or failed) is known
 * exactly and gets a `ROLLBACK`; what else a lease left (settings, role, cursors, advisory locks,
 * LISTEN, temp objects, sequences, SQL-level prepared statements) is read by the shared session
 * tracker (src/session/) from the statements sent and the parameters the server reported, and
 * undone by its per-kind reset statements, all in one string; a session nothing can reset (LOAD,
 * DISCARD ALL, ...) is closed instead. pg's own named statements survive. The client goes to the
 * next holder once the reset is done: queued behind the next holder's statements instead, it
 * would make pg warn about concurrent queries on one client.
 *
 * @module
 */

import pg from "pg";
import type { ConnectionFactory } from "../core/factory.ts";
import { PoolError } from "../core/errors.ts";
import { DatabaseConnectionError, PoolerCapacityError } from "../postgres/errors.ts";
import { isCapacityRefusal, poolerLimitOf, retryRefusals } from "../postgres/pooler_refusal.ts";
import { sendCancelRequest } from "./cancel.ts";
import { isFatalPgError } from "./errors.ts";
import { pgSessionState, trackPgSession } from "./session.ts";
import { checkDuration } from "../core/checks.ts";

/**
 * A node-postgres `Client` class (pg's own, or a subclass).
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import type { PgClientClass } from "agentpool/pg";
 * const Client: PgClientClass = pg.Client;
 * ```
 */
export type PgClientClass = new (config: pg.ClientConfig) => pg.Client;

/**
 * Options of {@linkcode pgFactory}: every `pg.ClientConfig` key (`connectionString`, `host`,
 * `ssl`, `application_name`, `statement_timeout`, `types`, ...), meaning what it means in pg, plus
 * a few of the factory's own.
 *
 * @example
 * ```ts
 * import type { PgFactoryOptions } from "agentpool/pg";
 * const options: PgFactoryOptions = { host: "127.0.0.1", database: "app", application_name: "planner" };
 * ```
 */
export interface PgFactoryOptions extends pg.ClientConfig {
  /** The client class to open (pg-pool's `Client` option). Default `pg.Client`. */
  Client?: PgClientClass;
  /** Runs on every new client before its first lease (pg-pool's `onConnect`); a throw fails the create. */
  onConnect?: (client: pg.Client) => void | Promise<void>;
  /** A connected client's socket failed (it is closed and never handed out again). */
  onError?: (error: Error, client: pg.Client) => void;
  /** A client was closed. */
  onRemove?: (client: pg.Client) => void;
  /**
   * What a release does with a session that carries state past its transaction: `"reset"`
   * (default) undoes it (`RESET ALL`, `UNLISTEN *`, ... for what was changed); `"close"` closes
   * it, so that whatever `onConnect` set up is set up again on a fresh one. A function is asked on
   * every such release.
   */
  dirtySessions?: "reset" | "close" | (() => "reset" | "close");
  /** How long `destroy` waits for pg's graceful end before it drops the socket. Default 5000. */
  endTimeoutMs?: number;
  /** How long `cancel` waits for the CancelRequest to be delivered. Default 2000. */
  cancelTimeoutMs?: number;
}

/**
 * The code of the error a reset throws for a session that must be closed rather than reused
 * (released with an error, past `maxUses`, or dirty while connect-time set-up exists).
 *
 * @example
 * ```ts
 * import { CLOSE_REQUESTED } from "./factory.ts";
 * pool.addEventListener("error", (e) => (e as CustomEvent).detail.error.code === CLOSE_REQUESTED || console.error(e));
 * declare const pool: EventTarget;
 * ```
 */
export const CLOSE_REQUESTED = "CLOSE_REQUESTED";

function checkMs(option: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : checkDuration("create pg factory", option, value);
}

/** A connect failure, naming host, port and database only (never a password or the URL). */
function connectError(error: unknown, client: pg.Client, options: PgFactoryOptions): DatabaseConnectionError {
  const raw = error as { code?: unknown; message?: unknown };
  let detail = typeof raw?.message === "string" ? raw.message : String(error);
  const password = typeof options.password === "string" ? options.password : undefined;
  for (const secret of [options.connectionString, password, password && encodeURIComponent(password)]) {
    if (secret) detail = detail.split(secret).join("***");
  }
  const code = typeof raw?.code === "string" ? raw.code : undefined;
  const limit = poolerLimitOf(error);
  if (limit !== undefined) return new PoolerCapacityError(String(client.host), String(client.port), String(client.database), limit, detail);
  return new DatabaseConnectionError(String(client.host), String(client.port), String(client.database), code, detail);
}

/** Drops the socket at once (pg's `end()` waits for a server that may never answer). */
function dropSocket(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}

/**
 * Whether pg still has queries of the last holder queued or running (one released without
 * awaiting them). Read from pg's internals; a client class without them counts as idle.
 */
function busy(client: pg.Client): boolean {
  const internals = client as unknown as { _activeQuery?: unknown; _queryQueue?: unknown[] };
  return (internals._activeQuery !== null && internals._activeQuery !== undefined) || (internals._queryQueue?.length ?? 0) > 0;
}

/**
 * Sends the reset (one simple-protocol string, one round trip), awaited: the pool hands the client
 * on afterwards. Queued behind the next holder's statements instead, it would make pg warn about
 * concurrent queries on one client.
 */
async function cleanSession(client: pg.Client, statements: string): Promise<void> {
  try {
    await client.query(statements);
  } catch (error) {
    pgSessionState(client)!.discard = true;
    throw error;
  }
}

/**
 * A {@linkcode ConnectionFactory} of node-postgres clients, to the same standard as
 * `postgresFactory`:
 *
 * - `create(signal)` connects one `pg.Client` (dropping the socket on abort) and runs `onConnect`;
 * - `validate` runs `select 1` (the socket is dropped when the signal aborts first);
 * - `reset` rolls back an open or failed transaction and undoes session state (module notes);
 *   it throws for a session that is dead or that its holder released with an error, so the pool
 *   closes it;
 * - `destroy` ends the session gracefully, dropping the socket after `endTimeoutMs`;
 * - `isFatal` is {@linkcode isFatalPgError}; `isBroken` says the socket closed or errored;
 * - `cancel` sends a protocol-level CancelRequest with the client's process id and secret key
 *   over a fresh socket: no extra session.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool } from "agentpool";
 * import { pgFactory } from "agentpool/pg";
 * const pool = new AsyncConnectionPool({ factory: pgFactory({ host: "127.0.0.1", database: "postgres", user: "postgres" }) });
 * const result = await pool.use((client) => client.query("select 1 as one"), { agentId: "planner-1" });
 * console.log(result.rows);
 * await pool.close();
 * ```
 */
export function pgFactory(config: string | PgFactoryOptions = {}): ConnectionFactory<pg.Client> {
  if (typeof config !== "string" && (typeof config !== "object" || config === null)) {
    throw new TypeError(`Cannot create pg factory as 'config' must be a connection string or an options object: current value is ${String(config)}`);
  }
  const options: PgFactoryOptions = typeof config === "string" ? { connectionString: config } : config;
  const {
    Client = pg.Client as PgClientClass,
    onConnect,
    onError,
    onRemove,
    dirtySessions = "reset",
    endTimeoutMs: endMs,
    cancelTimeoutMs: cancelMs,
    ...clientConfig
  } = options;
  if (typeof Client !== "function") {
    throw new TypeError(`Cannot create pg factory as 'Client' must be a client class: current value is ${String(Client)}`);
  }
  for (const [key, hook] of Object.entries({ onConnect, onError, onRemove })) {
    if (hook !== undefined && typeof hook !== "function") {
      throw new TypeError(`Cannot create pg factory as '${key}' must be a function: current value is ${String(hook)}`);
    }
  }
  if (typeof dirtySessions !== "function" && dirtySessions !== "reset" && dirtySessions !== "close") {
    throw new RangeError(`Cannot create pg factory as 'dirtySessions' must be "reset" or "close": current value is ${JSON.stringify(dirtySessions)}`);
  }
  const endTimeoutMs = checkMs("endTimeoutMs", endMs, 5000);
  const cancelTimeoutMs = checkMs("cancelTimeoutMs", cancelMs, 2000);
  const closeDirty = (): boolean => (typeof dirtySessions === "function" ? dirtySessions() : dirtySessions) === "close";

  /** One connect; a PgBouncer capacity refusal is retried by `create` (postgres/pooler_refusal.ts). */
  const createOnce = async (signal: AbortSignal): Promise<pg.Client> => {
    signal.throwIfAborted();
    const client = new Client(clientConfig);
    const state = trackPgSession(client);
    let connected = false;
    // Always listened to: an error on a client nobody listens to must not crash the process.
    client.on("error", (error: Error) => {
      // pg follows a server's FATAL error with "Connection terminated unexpectedly": report the first.
      const first = !state.broken;
      state.broken = true;
      if (connected && first) onError?.(error, client);
    });
    client.on("end", () => void (state.broken = true));
    const abort = (): void => dropSocket(client);
    signal.addEventListener("abort", abort, { once: true });
    try {
      await client.connect();
      connected = true;
      signal.throwIfAborted();
      await onConnect?.(client);
      signal.throwIfAborted();
      state.session.started(); // what the server reported so far is the baseline
      return client;
    } catch (error) {
      dropSocket(client);
      if (signal.aborted) throw signal.reason;
      throw connected ? error : connectError(error, client, options);
    } finally {
      signal.removeEventListener("abort", abort);
    }
  };

  return {
    create: (signal: AbortSignal): Promise<pg.Client> => retryRefusals(signal, createOnce),
    atCapacity: isCapacityRefusal,

    async destroy(client: pg.Client): Promise<void> {
      const state = pgSessionState(client);
      const dead = state?.broken === true;
      if (state !== undefined) state.broken = true;
      try {
        if (dead) return dropSocket(client);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, endTimeoutMs)));
        await Promise.race([client.end().catch(() => {}), late]);
        clearTimeout(timer);
        dropSocket(client);
      } finally {
        onRemove?.(client);
      }
    },

    isFatal: isFatalPgError,

    isBroken(client: pg.Client): boolean {
      const state = pgSessionState(client);
      return state?.broken === true || state?.discard === true;
    },

    async cancel(client: pg.Client): Promise<void> {
      const state = pgSessionState(client);
      const { processID, secretKey } = client as unknown as { processID: number | null; secretKey: number | null };
      if (state === undefined || state.broken || processID == null || secretKey == null) return;
      await sendCancelRequest({ host: client.host, port: client.port, processID, secretKey }, cancelTimeoutMs);
    },

    async validate(client: pg.Client, signal: AbortSignal): Promise<boolean> {
      const state = pgSessionState(client);
      if (state === undefined || state.broken || state.discard || signal.aborted) return false;
      const abort = (): void => {
        state.broken = true; // no answer in time: dead to us
        dropSocket(client);
      };
      signal.addEventListener("abort", abort, { once: true });
      try {
        await client.query("select 1");
        return true;
      } catch (error) {
        if (isFatalPgError(error)) state.broken = true;
        return false;
      } finally {
        signal.removeEventListener("abort", abort);
      }
    },

    reset(client: pg.Client): Promise<void> | void {
      const state = pgSessionState(client);
      if (state === undefined) return;
      if (state.broken || state.discard) {
        throw new PoolError("CONNECTION_UNUSABLE", "The session was closed or left in an unknown state");
      }
      if (state.closeRequested) throw new PoolError(CLOSE_REQUESTED, "The holder released the client with an error");
      // Still running at release: the transaction status is not final yet, so roll back to be sure.
      const open = busy(client) || client.getTransactionStatus() !== "I";
      const session = state.session;
      if (!open) session.transactionEnded(); // pg knows exactly; the statement reader may not
      if (session.clean) return; // a clean lease costs nothing
      const { statements, retire } = session.takeReset();
      if (retire !== null) throw new PoolError(CLOSE_REQUESTED, `The session must be closed: ${retire}`);
      const sessionState = statements !== null && statements !== "rollback";
      if (sessionState && closeDirty()) throw new PoolError(CLOSE_REQUESTED, "The session carries state that only a new connection clears");
      const plan = open && !statements?.startsWith("rollback") ? (statements === null ? "rollback" : `rollback; ${statements}`) : statements;
      if (plan !== null) return cleanSession(client, plan);
    },
  };
}
