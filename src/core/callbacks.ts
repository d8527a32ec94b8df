/**
 * User callbacks cannot hurt the pool. Metrics sinks and event listeners run inside a guard: an
 * exception costs that call only, is reported once per callback (on the pool's `error` event, or
 * the console when nobody listens), and never escapes into the pool's work — so no hang, no
 * synchronous throw from `acquire()`/`release()`, no uncaught exception from `dispatchEvent`.
 *
 * @module
 */

import { noopMetrics, type PoolMetrics } from "./metrics.ts";

/** Reports a callback's failure: `during` names it (`metrics.acquired`, `listener:leak`, …). */
export type ReportFailure = (error: unknown, during: string) => void;

/**
 * `metrics` with every method guarded; the no-op tracker is returned as is (nothing to guard).
 *
 * @example
 * ```ts
 * import { createMetrics } from "./metrics_tracker.ts";
 * const safe = guardMetrics(createMetrics(), (error, during) => console.error(during, error));
 * safe.acquired("a", 0); // never throws
 * ```
 */
export function guardMetrics(metrics: PoolMetrics, report: ReportFailure): PoolMetrics {
  if (metrics === noopMetrics) return metrics;
  const guarded: Record<string, unknown> = {};
  const names = new Set<string>(["acquired", "released", "rejected", "created", "createFailed", "destroyed"]);
  for (const name of ["leaked", "errored", "summary"]) {
    if (typeof (metrics as unknown as Record<string, unknown>)[name] === "function") names.add(name);
  }
  for (const name of names) {
    guarded[name] = (...args: unknown[]): unknown => {
      try {
        const method = (metrics as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
        return method?.apply(metrics, args);
      } catch (error) {
        report(error, `metrics.${name}`);
        return undefined;
      }
    };
  }
  return guarded as unknown as PoolMetrics;
}

/** An event listener: a function, or an object with `handleEvent`. */
export type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };

/** The options of `addEventListener`. */
export interface ListenerOptions {
  capture?: boolean;
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

type Wrapped = (event: Event) => void;

/**
 * Wraps event listeners so a throwing one is reported instead of becoming an uncaught exception
 * (Node, Deno and Bun report a throwing `EventTarget` listener as one).
 *
 * @example
 * ```ts
 * const listeners = new GuardedListeners((error, during) => console.error(during, error));
 * const target = new EventTarget();
 * target.addEventListener("leak", listeners.wrap("leak", () => { throw new Error("oops"); }, false));
 * target.dispatchEvent(new Event("leak")); // reported, not thrown
 * ```
 */
export class GuardedListeners {
  #wrapped = new WeakMap<object, Map<string, Wrapped>>();
  #report: ReportFailure;
  /** Listeners of `error`: when there are none, failures go to the console. */
  errorListeners = 0;

  constructor(report: ReportFailure) {
    this.#report = report;
  }

  /** The guarded stand-in for `listener` (the same one for the same type and capture flag). */
  wrap(type: string, listener: Listener, capture: boolean): Wrapped {
    const key = `${capture ? "c" : "b"}:${type}`;
    let byKey = this.#wrapped.get(listener);
    if (byKey === undefined) this.#wrapped.set(listener, byKey = new Map());
    let wrapped = byKey.get(key);
    if (wrapped === undefined) {
      const during = `listener:${type}`;
      wrapped = (event: Event): void => {
        try {
          if (typeof listener === "function") listener.call(event.currentTarget, event);
          else listener.handleEvent(event);
        } catch (error) {
          // A failing `error` listener cannot report on `error`: straight to the console.
          if (type === "error") console.error("agentpool: an 'error' event listener threw", error);
          else this.#report(error, during);
        }
      };
      byKey.set(key, wrapped);
    }
    return wrapped;
  }

  /** The stand-in registered for `listener`, if any. */
  find(type: string, listener: Listener, capture: boolean): Wrapped | undefined {
    return this.#wrapped.get(listener)?.get(`${capture ? "c" : "b"}:${type}`);
  }
}
