/**
 * The per-connection postgres.js options a lease can rewrite in place. Drizzle's postgres-js
 * driver sets `client.options.parsers` / `serializers` for dates and intervals to identity
 * functions, so the next lease on that instance would get strings instead of `Date`s. A lease
 * that read `sql.options` gets them compared on release and restored; with `prepare` on, the
 * connection is retired as well, because postgres.js keeps each prepared statement's column
 * parsers, and statements described during that lease would keep the rewritten ones.
 *
 * @module
 */

import type { Sql } from "./connection_state.ts";

type Table = Record<string | number, unknown>;

/**
 * Copies of the instance's parser and serializer tables, taken when it connected.
 *
 * @example
 * ```ts
 * import { type DriverSnapshot, snapshotDriverOptions } from "./driver_options.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const snapshot: DriverSnapshot = snapshotDriverOptions(sql);
 * ```
 */
export interface DriverSnapshot {
  readonly parsers: Table;
  readonly serializers: Table;
}

/**
 * Takes the snapshot (after postgres.js fetched its array types).
 *
 * @example
 * ```ts
 * import { snapshotDriverOptions } from "./driver_options.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const snapshot = snapshotDriverOptions(sql);
 * ```
 */
export function snapshotDriverOptions(sql: Sql): DriverSnapshot {
  const options = sql.options as unknown as { parsers: Table; serializers: Table };
  return { parsers: { ...options.parsers }, serializers: { ...options.serializers } };
}

/** Puts `live` back to `saved`; true when anything differed. */
function restoreTable(live: Table, saved: Table): boolean {
  let changed = false;
  for (const key of Object.keys(live)) {
    if (!(key in saved)) {
      delete live[key];
      changed = true;
    }
  }
  for (const key of Object.keys(saved)) {
    if (live[key] !== saved[key]) {
      live[key] = saved[key];
      changed = true;
    }
  }
  return changed;
}

/**
 * Restores the tables; returns why the connection must be retired too, or `null`.
 *
 * @example
 * ```ts
 * import { restoreDriverOptions, snapshotDriverOptions } from "./driver_options.ts";
 * import postgres from "postgres";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
 * const snapshot = snapshotDriverOptions(sql);
 * const reason = restoreDriverOptions(sql, snapshot); // after drizzle(sql) with prepare on: a reason
 * ```
 */
export function restoreDriverOptions(sql: Sql, snapshot: DriverSnapshot | undefined): string | null {
  if (snapshot === undefined) return null;
  const options = sql.options as unknown as { parsers: Table; serializers: Table; prepare?: boolean };
  const parsers = restoreTable(options.parsers, snapshot.parsers);
  const serializers = restoreTable(options.serializers, snapshot.serializers);
  if (!parsers && !serializers) return null;
  return options.prepare === false ? null : "the lease changed the driver's type parsers (e.g. drizzle(sql)) and its prepared statements keep them";
}
