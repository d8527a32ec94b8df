/**
 * A pooler in front of PostgreSQL (PgBouncer) refusing a client because it is at a capacity
 * limit is not the database being down. PgBouncer says so in its own words (SQLSTATE 08P01, the
 * class every connection failure shares): `no more connections allowed (max_client_conn)` when
 * it has as many clients as allowed, `query_wait_timeout` when a client waited that long for a
 * server connection (`pool_size`, `max_db_connections`, `max_user_connections` all full).
 *
 * Not capacity: `server login has been failing, try again later (server_login_retry)` and
 * `client_login_timeout (server down)` mean PgBouncer cannot log in to the server, so they stay
 * ordinary connection failures (the database, or the credentials, are the problem).
 *
 * @module
 */

import { PoolerCapacityError } from "./errors.ts";

/** Which PgBouncer limit refused the client. */
export type PoolerLimit = "max_client_conn" | "query_wait_timeout";

const REFUSALS: readonly (readonly [PoolerLimit, RegExp])[] = [
  ["max_client_conn", /no more connections allowed \(max_client_conn\)/],
  ["query_wait_timeout", /^query_wait_timeout$/],
];

/**
 * The PgBouncer limit that refused the client, if `error` is such a refusal, else `undefined`.
 *
 * @example
 * ```ts
 * import { poolerLimitOf } from "agentpool";
 * poolerLimitOf(Object.assign(new Error("no more connections allowed (max_client_conn)"), { code: "08P01" })); // "max_client_conn"
 * poolerLimitOf(Object.assign(new Error("server login has been failing, try again later (server_login_retry)"), { code: "08P01" })); // undefined
 * ```
 */
export function poolerLimitOf(error: unknown): PoolerLimit | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== "08P01" || typeof message !== "string") return undefined;
  return REFUSALS.find(([, pattern]) => pattern.test(message))?.[0];
}

/** The factories' connect failed because PgBouncer refused the client at a capacity limit. */
function isPoolerRefusal(error: unknown): boolean {
  return error instanceof PoolerCapacityError;
}

/**
 * Is `error`, a failed connect, the server or a pooler at its connection limit rather than gone:
 * a {@linkcode PoolerCapacityError}, or PostgreSQL's own 53300 (`too_many_connections`: "sorry, too
 * many clients already", `max_connections` or a role's `CONNECTION LIMIT`). The factories' `atCapacity`.
 *
 * @example
 * ```ts
 * import { isCapacityRefusal } from "./pooler_refusal.ts";
 * isCapacityRefusal(Object.assign(new Error("sorry, too many clients already"), { driverCode: "53300" })); // true
 * ```
 */
export function isCapacityRefusal(error: unknown): boolean {
  if (isPoolerRefusal(error)) return true;
  const { driverCode, code } = (error ?? {}) as { driverCode?: unknown; code?: unknown };
  return driverCode === "53300" || code === "53300";
}

/** How long a refused connect is retried before the create fails with the refusal. */
export const REFUSAL_RETRY_MS = 1000;

/**
 * Runs `attempt` until it succeeds, fails with an error `isRefusal` (default: a PgBouncer capacity refusal) does not accept, `signal`
 * aborts, or refusals went on for `windowMs`; between refusals it waits 25 ms doubling to 250 ms
 * (±50 % jitter). Then it throws the last refusal, so the pool learns why it could not connect. A
 * refusal shorter than the window (another process's burst at PgBouncer's limit) is no create
 * failure at all: the pool neither suspects its connections nor changes its health for it.
 *
 * @example
 * ```ts
 * import { poolerLimitOf, retryRefusals } from "./pooler_refusal.ts";
 * declare function connectOnce(signal: AbortSignal): Promise<unknown>;
 * const connection = await retryRefusals(AbortSignal.timeout(10_000), connectOnce, (e) => poolerLimitOf(e) !== undefined);
 * ```
 */
export async function retryRefusals<T>(
  signal: AbortSignal,
  attempt: (signal: AbortSignal) => Promise<T>,
  isRefusal: (error: unknown) => boolean = isPoolerRefusal,
  windowMs: number = REFUSAL_RETRY_MS,
): Promise<T> {
  const giveUpAt = performance.now() + windowMs;
  for (let delay = 25; ; delay = Math.min(250, delay * 2)) {
    try {
      return await attempt(signal);
    } catch (error) {
      const wait = Math.min(delay * (0.5 + Math.random()), giveUpAt - performance.now());
      if (signal.aborted || !isRefusal(error) || wait <= 0) throw error;
      const waited = await new Promise<boolean>((resolve) => {
        const onAbort = (): void => {
          clearTimeout(timer);
          resolve(false);
        };
        const timer = setTimeout(() => {
          signal.removeEventListener("abort", onAbort);
          resolve(true);
        }, wait);
        signal.addEventListener("abort", onAbort, { once: true });
      });
      if (!waited) throw error;
    }
  }
}
