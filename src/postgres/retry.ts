/**
 * Which transaction failures are worth running again, and how long to wait before doing so.
 *
 * @module
 */

/**
 * SQLSTATEs retried by default: `40001` serialization_failure, `40P01` deadlock_detected.
 *
 * @example
 * ```ts
 * RETRYABLE_SQLSTATES.includes("40001"); // true
 * ```
 */
export const RETRYABLE_SQLSTATES: readonly string[] = Object.freeze(["40001", "40P01"]);

/**
 * True when `error` is a PostgreSQL error whose SQLSTATE means "run the whole transaction again".
 *
 * @example
 * ```ts
 * import { isRetryableError } from "agentpool";
 * isRetryableError({ code: "40001" }); // true
 * isRetryableError(new Error("boom")); // false
 * ```
 */
export function isRetryableError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40001" || code === "40P01";
}

/**
 * Waits before retry number `attempt` (0-based): full jitter over an exponential ceiling,
 * `random(0, min(maxMs, baseMs * 2^attempt))`, so colliding transactions spread out instead of
 * colliding again. Rejects with `signal.reason` when the signal aborts.
 *
 * @example
 * ```ts
 * await retryDelay(2, 5, 200); // between 0 and 20 ms
 * ```
 */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, signal?: AbortSignal): Promise<void> {
  const ms = Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
