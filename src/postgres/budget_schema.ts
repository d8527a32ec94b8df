/**
 * The lease table of global budgets, applied by `migrate` into its own schema (default
 * `agentpool_budget`, so its migration versions never mix with the caller's).
 *
 * UNLOGGED: leases are soft state renewed every tick; after a server crash the table is empty,
 * and so is every transaction it counted.
 *
 * @module
 */

import type { Migration } from "./migrations.ts";

/**
 * Migrations of the budget lease table, in order.
 *
 * @example
 * ```ts
 * import { BUDGET_MIGRATIONS, createPostgresPool, migrate, PooledDatabaseAdapter } from "agentpool";
 * const adapter = new PooledDatabaseAdapter(createPostgresPool("postgres://postgres@127.0.0.1:5432/postgres"));
 * await migrate(adapter, { schema: "agentpool_budget", migrations: BUDGET_MIGRATIONS });
 * ```
 */
export const BUDGET_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: "budget_leases",
    up: `
      create unlogged table budget_leases (
        budget text not null,
        holder text not null,
        agent_id text not null,
        wants integer not null check (wants >= 0),
        granted integer not null check (granted >= 0),
        held integer not null check (held >= 0),
        limit_value integer not null check (limit_value >= 0),
        ttl_ms integer not null check (ttl_ms > 0),
        renewed_at timestamptz not null,
        primary key (budget, holder, agent_id)
      )`,
  },
]);
