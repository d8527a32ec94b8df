/**
 * Lease views: an acquire that resolves to `view(handle)` instead of the handle, for wrappers
 * such as the pg facade's `PoolClient`. The view runs when the connection is granted (for a
 * waiter: inside the `release()` that freed it), so the wrapper's caller resumes one promise hop
 * after the grant instead of two; on Deno, under load, every hop past the first waits behind
 * all the work the same event-loop turn started meanwhile (milliseconds at p99).
 *
 * @module
 */

import type { PooledConnection } from "./handle.ts";

/**
 * Turns a fresh handle into what the acquire resolves to. Should not throw: one that does
 * rejects the acquire, and the handle goes back to the pool.
 *
 * @example
 * ```ts
 * import type { LeaseView } from "./lease_view.ts";
 * const view: LeaseView<{ query(text: string): Promise<unknown> }, { id: number }> = (handle) => ({ id: handle.id });
 * ```
 */
export type LeaseView<T, R> = (handle: PooledConnection<T>) => R;

/**
 * Settles an acquire with `view(handle)`. A view that throws rejects it instead; the handle is
 * released a microtask later, never inside the release that granted it.
 */
function settleViewed<T, R>(
  handle: PooledConnection<T>,
  view: LeaseView<T, R>,
  resolve: (value: R) => void,
  reject: (reason: unknown) => void,
): void {
  let value: R;
  try {
    value = view(handle);
  } catch (error) {
    queueMicrotask(() => void handle.release().catch(() => {}));
    reject(error);
    return;
  }
  resolve(value);
}

/**
 * A waiter's grant that settles its acquire with `view(handle)` (built only for an acquire with a view).
 *
 * @example
 * ```ts
 * import { viewGrant } from "./lease_view.ts";
 * const grant = viewGrant((h) => ({ id: h.id }), (client) => console.log(client), console.error);
 * ```
 */
export function viewGrant<T, R>(
  view: LeaseView<T, R>,
  resolve: (value: R) => void,
  reject: (reason: unknown) => void,
): (handle: PooledConnection<T>) => void {
  return (handle) => settleViewed(handle, view, resolve, reject);
}

/**
 * The acquire of an idle connection (the fast paths): a promise already settled by the view.
 *
 * @example
 * ```ts
 * import type { PooledConnection } from "./handle.ts";
 * import { viewed } from "./lease_view.ts";
 * declare const handle: PooledConnection<unknown>;
 * const { id } = await viewed(handle, (h) => ({ id: h.id }));
 * ```
 */
export function viewed<T, R>(handle: PooledConnection<T>, view: LeaseView<T, R>): Promise<R> {
  return new Promise<R>((resolve, reject) => settleViewed(handle, view, resolve, reject));
}
