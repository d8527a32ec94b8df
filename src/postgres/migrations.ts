/**
 * Versioned, idempotent schema migrations. Every run holds a transaction-scoped advisory lock on
 * the target schema, so concurrent `migrate` calls (many agents booting at once) apply each
 * migration exactly once: the others wait, then find it recorded in `schema_migrations`.
 *
 * @module
 */

import type { PooledDatabaseAdapter } from "./adapter.ts";
import { invalidOption } from "../core/checks.ts";
import { quoteIdentifier } from "./identifiers.ts";
import type { TransactionSql } from "./scope.ts";

/**
 * One migration. `up` runs with `search_path` set to the target schema, so it uses unqualified
 * names; a string may hold several statements.
 *
 * @example
 * ```ts
 * const addNotes: Migration = { version: 1, name: "notes", up: "create table notes (id bigint primary key, body text)" };
 * ```
 */
export interface Migration {
  /** Positive integer; migrations apply in ascending order, each once. */
  version: number;
  /** A human-readable label stored with the version. */
  name: string;
  /** SQL text, or a function running statements on the migration's transaction. */
  up: string | ((tx: TransactionSql) => Promise<unknown>);
}

/**
 * Options of {@linkcode migrate}.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * declare const addNotes: Migration;
 * await migrate(adapter, { schema: "agents", migrations: [addNotes], agentId: "boot" });
 * ```
 */
export interface MigrateOptions {
  /** Target schema, created if missing. Default `"public"`. */
  schema?: string;
  /** The migrations, any order. */
  migrations: readonly Migration[];
  /** The agent the work is attributed to. Default `"migrator"`. */
  agentId?: string;
  /** Aborts the run (rolled back). */
  signal?: AbortSignal;
}

/**
 * The outcome of {@linkcode migrate}.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * declare const migrations: Migration[];
 * const { applied } = await migrate(adapter, { migrations });
 * console.log(applied.length ? `applied ${applied.join(", ")}` : "up to date");
 * ```
 */
export interface MigrateResult {
  /** Versions this call applied (empty when already up to date). */
  applied: number[];
  /** The highest version now recorded. */
  version: number;
}

function checkMigrations(migrations: unknown): Migration[] {
  if (!Array.isArray(migrations)) {
    invalidOption("type", "migrate", "migrations", "an array", migrations);
  }
  const seen = new Set<number>();
  for (const m of migrations as Migration[]) {
    if (!Number.isInteger(m?.version) || m.version < 1 || seen.has(m.version)) {
      invalidOption("range", "migrate", "version", "a unique positive integer", m?.version);
    }
    if (typeof m.up !== "string" && typeof m.up !== "function") {
      throw new TypeError(`Cannot migrate as 'up' of version ${m.version} must be SQL text or a function`);
    }
    seen.add(m.version);
  }
  return [...(migrations as Migration[])].sort((a, b) => a.version - b.version);
}

/**
 * Applies the migrations not yet recorded in `<schema>.schema_migrations`, in one transaction
 * (all or nothing), under an advisory lock so concurrent callers are safe.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * import { migrate } from "agentpool";
 * await migrate(adapter, {
 *   schema: "crew",
 *   migrations: [{ version: 1, name: "notes", up: "create table notes (id bigint primary key, body text)" }],
 * });
 * ```
 */
export async function migrate(adapter: PooledDatabaseAdapter, options: MigrateOptions): Promise<MigrateResult> {
  const schemaName = options.schema ?? "public";
  const schema = quoteIdentifier("schema", schemaName);
  const migrations = checkMigrations(options.migrations);
  return await adapter.transaction(async (tx) => {
    // Serializes migrators of this schema until COMMIT; CREATE SCHEMA IF NOT EXISTS alone races.
    await tx`select pg_advisory_xact_lock(hashtext('agentpool.migrate'), hashtext(${schemaName}))`;
    await tx.unsafe(`create schema if not exists ${schema}`);
    await tx.unsafe(
      `create table if not exists ${schema}.schema_migrations (
         version integer primary key,
         name text not null,
         applied_at timestamptz not null default now())`,
    );
    const rows = await tx.unsafe<{ version: number }[]>(`select version from ${schema}.schema_migrations`);
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    await tx.unsafe(`set local search_path to ${schema}`);
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      if (typeof m.up === "string") await tx.unsafe(m.up);
      else await m.up(tx);
      await tx.unsafe(`insert into ${schema}.schema_migrations (version, name) values ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    const version = Math.max(0, ...done, ...applied);
    return { applied, version };
  }, { agentId: options.agentId ?? "migrator", signal: options.signal });
}
