/**
 * The pool's only source of time. Injected in tests so timeouts run without real waiting (Bun's
 * node:test has no fake timers, and Deno's sanitizers dislike them).
 *
 * @module
 */

/**
 * Monotonic time in milliseconds plus a timer. `setTimeout` returns an opaque handle.
 *
 * @example A clock a test drives by hand
 * ```ts
 * import type { Clock } from "agentpool";
 * let now = 0;
 * const clock: Clock = {
 *   now: () => now,
 *   setTimeout: (fn, ms) => setTimeout(fn, ms),
 *   clearTimeout: (handle) => clearTimeout(handle as number),
 * };
 * ```
 */
export interface Clock {
  /** Milliseconds from an arbitrary origin; never goes backwards. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer from `setTimeout`. */
  clearTimeout(handle: unknown): void;
  /** Lets the process exit while only this timer is pending (background housekeeping). Optional. */
  unref?(handle: unknown): void;
}

/**
 * The real clock: `performance.now()` and the global timers.
 *
 * @example
 * ```ts
 * import { systemClock } from "agentpool";
 * const started = systemClock.now();
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: (): number => performance.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
  // Node and Bun timers have unref(); elsewhere (Deno, browsers, workerd) the timer stays ref'd.
  unref: (handle: unknown): void => (handle as { unref?: () => void } | null)?.unref?.(),
});
