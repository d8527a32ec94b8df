/**
 * The admin router's health verdict: the pool's own `health` state when it has one, else derived
 * from `closed` and the `createerror` events, plus the last connection failure (redacted).
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

/**
 * Watches a pool's `createerror` events so the health report can say why it is unhealthy.
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
  #lastError: unknown = undefined;
  #failures = 0;
  /** `stats().created` when the last failure came: a create since then means it recovered. */
  #createdAtFailure = 0;

  constructor(pool: AdminPool) {
    this.#pool = pool;
    pool.addEventListener("createerror", (event) => {
      const detail = (event as CustomEvent<{ error?: unknown; failures?: number }>).detail;
      this.#lastError = detail?.error;
      this.#failures = detail?.failures ?? this.#failures + 1;
      this.#createdAtFailure = pool.stats().created;
    });
  }

  /** The current verdict. */
  report(): HealthReport {
    const s = this.#pool.stats();
    const failing = this.#lastError !== undefined && s.created === this.#createdAtFailure;
    let status: HealthStatus;
    if (s.closed) status = "closed";
    else if (typeof this.#pool.health === "string") status = this.#pool.health as HealthStatus;
    else status = failing ? (s.total === 0 ? "down" : "degraded") : "healthy";
    const base = { status, ok: status === "healthy" || status === "degraded", total: s.total, used: s.used, idle: s.idle, pending: s.pending };
    if (!failing || status === "healthy") return base;
    return { ...base, failures: this.#failures, lastError: describe(this.#lastError) };
  }
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return redactSecrets(text.length > 300 ? `${text.slice(0, 300)}…` : text);
}
