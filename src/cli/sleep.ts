/**
 * A sleep that an AbortSignal cuts short, for the CLI's loops (demo status lines, stress ticks).
 *
 * @module
 */

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects).
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * while (!stop.signal.aborted) await sleep(1000, stop.signal);
 * ```
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
