/**
 * The admin router's health verdict: the pool's own `stats().health` (or `closed`), plus the last
 * connection failure (redacted) while it is not healthy. Nothing is derived here: the pool owns
 * the health rule.
 *
 * @module
 */

import type { AdminPool } from "./pool_view.ts";
import { redactSecrets } from "./redact.ts";

/** `closed` after `pool.close()`; the rest as the pool's `health`. */
export type HealthStatus = "healthy" | "degraded" | "down" | "closed";

/** The body of `GET /health`. */
export interface HealthReport {
  readonly status: HealthStatus;
  /** false for `down` and `closed` (served as 503). */
  readonly ok: boolean;
  readonly total: number;
  readonly used: number;
  readonly idle: number;
  readonly pending: number;
  /** Consecutive failed creates, when creates are failing. */
  readonly failures?: number;
  /** The last connection failure while not healthy, secrets removed. */
  readonly lastError?: string;
}

/** The last `createerror` of each watched pool: one listener per pool, however many routers. */
const lastFailures = new WeakMap<AdminPool, { error?: unknown; failures: number }>();

function watch(pool: AdminPool): void {
  if (lastFailures.has(pool)) return;
  const last: { error?: unknown; failures: number } = { failures: 0 };
  lastFailures.set(pool, last);
  pool.addEventListener("createerror", (event) => {
    const detail = (event as CustomEvent<{ error?: unknown; failures?: number }>).detail;
    last.error = detail?.error;
    last.failures = detail?.failures ?? last.failures + 1;
  });
}

/**
 * A pool's health report. Every watcher of one pool shares one `createerror` listener.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * import { HealthWatcher } from "agentpool/hono";
 * declare const pool: AsyncConnectionPool<unknown>;
 * const watcher = new HealthWatcher(pool);
 * watcher.report().status; // "healthy"
 * ```
 */
export class HealthWatcher {
  #pool: AdminPool;

  constructor(pool: AdminPool) {
    this.#pool = pool;
    watch(pool);
  }

  /** The current verdict. */
  report(): HealthReport {
    const s = this.#pool.stats();
    const status: HealthStatus = s.closed || this.#pool.closed ? "closed" : s.health;
    const base = { status, ok: status === "healthy" || status === "degraded", total: s.total, used: s.used, idle: s.idle, pending: s.pending };
    const last = lastFailures.get(this.#pool);
    if (status === "healthy" || last?.error === undefined) return base;
    return { ...base, failures: last.failures, lastError: describe(last.error) };
  }
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return redactSecrets(text.length > 300 ? `${text.slice(0, 300)}…` : text);
}
