/**
 * The statements of the task repository, built once per schema. Every state change is one
 * statement: the UPDATE, its task_events row (a data-modifying CTE, so both commit together) and,
 * when the update matched nothing, the row as it was (for a precise error) in the same round trip.
 *
 * @module
 */

/**
 * Prepared SQL text for one schema (`s` is the quoted schema name).
 *
 * @example
 * ```ts
 * const statements: TaskStatements = taskStatements('"crew"');
 * ```
 */
export interface TaskStatements {
  readonly create: string;
  readonly claim: string;
  readonly heartbeat: string;
  readonly complete: string;
  readonly fail: string;
  readonly cancel: string;
  readonly releaseExpired: string;
  readonly get: string;
  readonly progress: string;
  readonly history: string;
  readonly addArtifact: string;
  readonly artifacts: string;
}

/** `upd` changed the task: return it; otherwise return the task as it was, flagged unchanged. */
function changedOrBefore(s: string): string {
  return `select upd.*, true as changed from upd
    union all
    select t.*, false from ${s}.tasks t where t.id = $2 and not exists (select 1 from upd)`;
}

/**
 * Builds the statements for the schema `s` (already quoted).
 *
 * @example
 * ```ts
 * const { claim } = taskStatements('"crew"');
 * ```
 */
export function taskStatements(s: string): TaskStatements {
  return Object.freeze({
    // $1 agent, $2 jsonb array of new tasks
    create: `
      with input as (
        select * from jsonb_to_recordset($2::jsonb) as x(
          id uuid, parent_id uuid, specialist text, priority integer, payload jsonb, max_attempts integer, depends_on uuid[])
      ), locked as (
        -- FOR SHARE: a concurrent complete() of a dependency waits for us (then sees our rows),
        -- or we wait for it (then see it completed). Either way the count below stays right.
        select id, status from ${s}.tasks where id in (select unnest(depends_on) from input) for share
      ), ins as (
        insert into ${s}.tasks (id, parent_id, specialist, priority, payload, max_attempts, blocked_by)
        select i.id, i.parent_id, i.specialist, coalesce(i.priority, 0), coalesce(i.payload, '{}'::jsonb), coalesce(i.max_attempts, 3),
          -- tasks of this batch are not in "locked": they count as not completed
          (select count(*) from unnest(i.depends_on) as d left join locked x on x.id = d
           where x.status is distinct from 'completed')
        from input i
        returning *
      ), deps as (
        insert into ${s}.task_dependencies (task_id, depends_on)
        select i.id, d from input i cross join lateral unnest(i.depends_on) as d
      ), ev as (
        insert into ${s}.task_events (task_id, agent_id, kind, detail)
        select id, $1, 'created', null from ins
      )
      select * from ins`,

    // $1 agent, $2 specialists text[] or null, $3 parent uuid or null, $4 lease ms
    claim: `
      with candidate as (
        select t.id from ${s}.tasks t
        where t.status = 'pending' and t.blocked_by = 0
          and ($2::text[] is null or t.specialist = any($2::text[]))
          and ($3::uuid is null or t.parent_id = $3::uuid)
        order by t.priority desc, t.created_at, t.id
        limit 1
        for update of t skip locked
      ), upd as (
        update ${s}.tasks t
        set status = 'running', assigned_agent = $1, attempts = t.attempts + 1, updated_at = now(),
            lease_expires_at = now() + make_interval(secs => $4::integer / 1000.0)
        from candidate c where t.id = c.id
        returning t.*
      ), ev as (
        insert into ${s}.task_events (task_id, agent_id, kind, detail)
        select id, $1, 'claimed', jsonb_build_object('attempt', attempts, 'leaseMs', $4::integer) from upd
      )
      select * from upd`,

    // $1 agent, $2 task, $3 lease ms
    heartbeat: `
      with upd as (
        update ${s}.tasks set lease_expires_at = now() + make_interval(secs => $3::integer / 1000.0), updated_at = now()
        where id = $2 and status = 'running' and assigned_agent = $1
        returning *
      ), ev as (
        insert into ${s}.task_events (task_id, agent_id, kind, detail)
        select id, $1, 'heartbeat', jsonb_build_object('leaseMs', $3::integer) from upd
      )
      ${changedOrBefore(s)}`,

    // $1 agent, $2 task, $3 result jsonb
    complete: `
      with upd as (
        update ${s}.tasks
        set status = 'completed', result = $3::jsonb, lease_expires_at = null, completed_at = now(), updated_at = now()
        where id = $2 and status = 'running' and assigned_agent = $1
        returning *
      ), ev as (
        insert into ${s}.task_events (task_id, agent_id, kind, detail)
        select id, $1, 'completed', jsonb_build_object('unblocked', ${s}.unblock_dependents(id)) from upd
      )
      ${changedOrBefore(s)}`,

    // $1 agent, $2 task, $3 error jsonb, $4 retry allowed
    fail: `
      with upd as (
        update ${s}.tasks
        set status = case when $4::boolean and attempts < max_attempts then 'pending' else 'failed' end,
            assigned_agent = case when $4::boolean and attempts < max_attempts then null else assigned_agent end,
            completed_at = case when $4::boolean and attempts < max_attempts then null else now() end,
            error = $3::jsonb, lease_expires_at = null, updated_at = now()
        where id = $2 and status = 'running' and assigned_agent = $1
        returning *
      ), ev as (
        insert into ${s}.task_events (task_id, agent_id, kind, detail)
        select id, $1, case when status = 'pending' then 'retrying' else 'failed' end,
               jsonb_build_object('attempt', attempts, 'error', $3::jsonb)
        from upd
      )
      ${changedOrBefore(s)}`,

    // $1 agent, $2 task
    cancel: `
      with upd as (
        update ${s}.tasks set status = 'cancelled', lease_expires_at = null, completed_at = now(), updated_at = now()
        where id = $2 and status in ('pending', 'running')
        returning *
      ), ev as (
        insert into ${s}.task_events (task_id, agent_id, kind, detail)
        select id, $1, 'cancelled', null from upd
      )
      ${changedOrBefore(s)}`,

    // $1 agent (the sweeper)
    releaseExpired: `
      with expired as (
        select id, assigned_agent from ${s}.tasks
        where status = 'running' and lease_expires_at < now()
        for update skip locked
      ), upd as (
        update ${s}.tasks t
        set status = case when t.attempts < t.max_attempts then 'pending' else 'failed' end,
            assigned_agent = case when t.attempts < t.max_attempts then null else t.assigned_agent end,
            completed_at = case when t.attempts < t.max_attempts then null else now() end,
            error = jsonb_build_object('reason', 'lease expired', 'agent', e.assigned_agent),
            lease_expires_at = null, updated_at = now()
        from expired e where t.id = e.id
        returning t.*, e.assigned_agent as previous_agent
      ), ev as (
        insert into ${s}.task_events (task_id, agent_id, kind, detail)
        select id, $1, 'lease_expired', jsonb_build_object('previousAgent', previous_agent, 'status', status) from upd
      )
      select * from upd`,

    get: `select * from ${s}.tasks where id = $1`,

    progress: `
      select count(*)::integer as total,
        count(*) filter (where status = 'pending')::integer as pending,
        count(*) filter (where status = 'running')::integer as running,
        count(*) filter (where status = 'completed')::integer as completed,
        count(*) filter (where status = 'failed')::integer as failed,
        count(*) filter (where status = 'cancelled')::integer as cancelled
      from ${s}.tasks where parent_id = $1`,

    history: `select id, task_id, agent_id, kind, at, detail from ${s}.task_events where task_id = $1 order by id`,

    // $1 agent, $2 task, $3 name, $4 content jsonb
    addArtifact: `
      with ins as (
        insert into ${s}.artifacts (task_id, agent_id, name, content) values ($2, $1, $3, $4::jsonb)
        returning *
      ), ev as (
        insert into ${s}.task_events (task_id, agent_id, kind, detail)
        select task_id, $1, 'artifact_added', jsonb_build_object('artifactId', id, 'name', name) from ins
      )
      select * from ins`,

    artifacts: `select * from ${s}.artifacts where task_id = $1 order by id`,
  });
}
