/**
 * The task-coordination schema: tasks, their dependencies, an append-only event log and the
 * artifacts agents produce. Applied by `migrate` into a schema of the caller's choosing.
 *
 * @module
 */

import type { Migration } from "./migrations.ts";

/**
 * Migrations of the task schema, in order. Names are unqualified: `migrate` runs them with
 * `search_path` set to the target schema.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * import { migrate, TASK_MIGRATIONS } from "agentpool";
 * await migrate(adapter, { schema: "crew", migrations: TASK_MIGRATIONS });
 * ```
 */
export const TASK_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: "tasks, task_dependencies, task_events, artifacts",
    up: `
      create table tasks (
        id uuid primary key,
        parent_id uuid references tasks (id) on delete cascade,
        status text not null default 'pending'
          check (status in ('pending', 'running', 'completed', 'failed', 'cancelled')),
        specialist text,
        priority integer not null default 0,
        payload jsonb not null default '{}'::jsonb,
        result jsonb,
        error jsonb,
        assigned_agent text,
        lease_expires_at timestamptz,
        attempts integer not null default 0 check (attempts >= 0),
        -- dependencies not completed yet; claimable only at 0 (kept by createTasks and complete)
        blocked_by integer not null default 0 check (blocked_by >= 0),
        max_attempts integer not null default 3 check (max_attempts >= 1),
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        completed_at timestamptz,
        check (status <> 'running' or (assigned_agent is not null and lease_expires_at is not null))
      );
      create index tasks_claim_idx on tasks (priority desc, created_at, id) where status = 'pending' and blocked_by = 0;
      create index tasks_claim_specialist_idx on tasks (specialist, priority desc, created_at, id)
        where status = 'pending' and blocked_by = 0;
      create index tasks_lease_idx on tasks (lease_expires_at) where status = 'running';
      create index tasks_parent_idx on tasks (parent_id, status);

      create table task_dependencies (
        task_id uuid not null references tasks (id) on delete cascade,
        depends_on uuid not null references tasks (id) on delete cascade,
        primary key (task_id, depends_on),
        check (task_id <> depends_on)
      );
      create index task_dependencies_depends_on_idx on task_dependencies (depends_on);

      create table task_events (
        id bigint generated always as identity primary key,
        task_id uuid not null references tasks (id) on delete cascade,
        agent_id text not null,
        kind text not null,
        at timestamptz not null default clock_timestamp(),
        detail jsonb
      );
      create index task_events_task_idx on task_events (task_id, id);

      create table artifacts (
        id bigint generated always as identity primary key,
        task_id uuid not null references tasks (id) on delete cascade,
        agent_id text not null,
        name text not null,
        content jsonb not null,
        created_at timestamptz not null default now()
      );
      create index artifacts_task_idx on artifacts (task_id, id);

      -- Called by complete() after the task row is locked and updated. PL/pgSQL takes a fresh
      -- snapshot per statement, so it sees dependents created by transactions that committed while
      -- we waited for that lock (createTasks holds FOR SHARE on the rows it depends on); the
      -- completing statement's own snapshot is older and would miss them.
      create function unblock_dependents(done uuid) returns integer
      language plpgsql volatile
      set search_path from current
      as $fn$
      declare
        n integer;
      begin
        update tasks set blocked_by = blocked_by - 1
        where id in (select task_id from task_dependencies where depends_on = done);
        get diagnostics n = row_count;
        return n;
      end
      $fn$;
    `,
  },
]);
