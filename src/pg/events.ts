/**
 * Emitting pg's events so that a user's listener can never hurt the pool.
 *
 * @module
 */

import type { EventEmitter } from "node:events";

/**
 * Emits `event` on `emitter` when somebody listens: an `error` nobody listens to is dropped
 * instead of thrown (pg-pool would crash the process), and a listener that throws costs that
 * listener only.
 *
 * @example
 * ```ts
 * import { EventEmitter } from "node:events";
 * import { emitSafely } from "./events.ts";
 * emitSafely(new EventEmitter(), "error", new Error("nobody listens: dropped"));
 * ```
 */
export function emitSafely(emitter: EventEmitter, event: string, ...args: unknown[]): void {
  if (emitter.listenerCount(event) === 0) return;
  try {
    emitter.emit(event, ...args);
  } catch {
    // A user's listener that throws costs that listener only.
  }
}
