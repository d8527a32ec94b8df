/**
 * One health check of one connection, bounded in time: a black-holed socket must not hang the
 * check (or the caller behind it) past `timeoutMs`.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ConnectionFactory } from "./factory.ts";
import { PoolError } from "./errors.ts";

/**
 * Runs `factory.validate` with a deadline. Resolves true when the connection answered in time;
 * false when it said no, threw, or did not answer (its signal is aborted then).
 *
 * @example
 * ```ts
 * import { type ConnectionFactory, systemClock } from "agentpool";
 * type Conn = { query(text: string): Promise<unknown[]> };
 * const factory: ConnectionFactory<Conn> = {
 *   create: () => Promise.resolve({ query: () => Promise.resolve([]) }),
 *   destroy: () => {},
 *   validate: async (conn) => (await conn.query("select 1")).length >= 0,
 * };
 * const connection = await factory.create(new AbortController().signal);
 * const alive = await validateWithin(factory, connection, systemClock, 2000); // true
 * ```
 */
export function validateWithin<T>(
  factory: ConnectionFactory<T>,
  connection: T,
  clock: Clock,
  timeoutMs: number,
): Promise<boolean> {
  if (factory.validate === undefined) return Promise.resolve(true);
  const controller = new AbortController();
  return new Promise<boolean>((resolve) => {
    const timer = clock.setTimeout(() => {
      controller.abort(new PoolError("VALIDATION_TIMEOUT", `Validation took longer than ${timeoutMs} ms`));
      resolve(false);
    }, timeoutMs);
    const settle = (alive: boolean): void => {
      clock.clearTimeout(timer);
      resolve(alive);
    };
    try {
      Promise.resolve(factory.validate!(connection, controller.signal)).then((ok) => settle(ok === true), () => settle(false));
    } catch {
      settle(false);
    }
  });
}
