/**
 * Task coordination for agents on PostgreSQL: create tasks (with dependencies and parents), claim
 * the next one with `FOR UPDATE SKIP LOCKED` under a lease, heartbeat, complete or fail it,
 * recover expired leases, and read progress, history and artifacts. Every state change writes a
 * task_events row in the same statement; invalid transitions throw {@linkcode TaskStateError} and
 * change nothing.
 *
 * Leases: the holder may heartbeat, complete or fail its task as long as nobody else took it,
 * even shortly after the lease expired; `releaseExpiredLeases()` (run it periodically) hands
 * expired tasks back to `pending` (or `failed` once `maxAttempts` claims were used).
 *
 * @module
 */

import { checkInteger, invalidOption } from "../core/checks.ts";
import type { PooledDatabaseAdapter } from "./adapter.ts";
import { agentOf, type DbContext, runStatement } from "./context.ts";
import { TaskStateError } from "./errors.ts";
import { quoteIdentifier } from "./identifiers.ts";
import { migrate, type MigrateResult } from "./migrations.ts";
import { TASK_MIGRATIONS } from "./task_schema.ts";
import { type TaskStatements, taskStatements } from "./task_sql.ts";
import { type Artifact, type NewTask, type ParentProgress, type Task, type TaskEvent, toArtifact, toEvent, toTask } from "./task_types.ts";

export type { Artifact, NewTask, ParentProgress, Task, TaskEvent, TaskStatus } from "./task_types.ts";

/**
 * Options of {@linkcode TaskRepository}.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * const tasks = new TaskRepository(adapter, { schema: "crew", leaseMs: 60_000 });
 * ```
 */
export interface TaskRepositoryOptions {
  /** Schema holding the task tables. Default `"agentpool"`. */
  schema?: string;
  /** Default lease of a claim or heartbeat. Default 30000. */
  leaseMs?: number;
}

/**
 * Which tasks `claimNext` may take.
 *
 * @example
 * ```ts
 * import type { TaskRepository } from "agentpool";
 * declare const tasks: TaskRepository;
 * await tasks.claimNext("coder-1", { specialist: ["coder", "reviewer"], leaseMs: 10_000 });
 * ```
 */
export interface ClaimFilter {
  /** Only tasks for this specialist (or any of these). */
  specialist?: string | readonly string[];
  /** Only children of this task. */
  parentId?: string;
  /** Lease length for this claim. Default: the repository's `leaseMs`. */
  leaseMs?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkId(option: string, id: unknown): string {
  if (typeof id !== "string" || !UUID.test(id)) invalidOption("type", "use task", option, "a task id (a UUID)", id);
  return id;
}

function checkLease(subject: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : checkInteger(subject, "leaseMs", value, { min: 1, max: 2_147_483_647 });
}

/** JSON-safe form of a failure reason (an Error keeps its name and message, never its stack). */
function errorJson(error: unknown): unknown {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return error === undefined ? null : error;
}

/** Rejects a batch whose dependencies (within itself) form a cycle: those tasks could never run. */
function checkAcyclic(batch: readonly { id: string; depends_on: string[] | null }[], agentId: string): void {
  const deps = new Map(batch.map((t) => [t.id, t.depends_on ?? []]));
  const state = new Map<string, 1 | 2>(); // 1 visiting, 2 done
  const visit = (id: string): void => {
    if (state.get(id) === 2) return;
    if (state.get(id) === 1) throw new TaskStateError("TASK_INVALID_DEPENDENCY", id, agentId, `Task ${id} depends on itself through a cycle`);
    state.set(id, 1);
    for (const dep of deps.get(id) ?? []) if (deps.has(dep)) visit(dep);
    state.set(id, 2);
  };
  for (const id of deps.keys()) visit(id);
}

/**
 * Task coordination on the tables of `TASK_MIGRATIONS`.
 *
 * @example
 * ```ts
 * import type { PooledDatabaseAdapter } from "agentpool";
 * declare const adapter: PooledDatabaseAdapter;
 * import { TaskRepository } from "agentpool";
 * const tasks = new TaskRepository(adapter, { schema: "crew" });
 * await tasks.migrate();
 * const root = await tasks.createTask("planner", { specialist: "planner", payload: { goal: "ship" } });
 * await tasks.createTasks("planner", [{ parentId: root.id, specialist: "coder", payload: { file: "a.ts" } }]);
 * const task = await tasks.claimNext("coder-1", { specialist: "coder" });
 * if (task) await tasks.complete("coder-1", task.id, { ok: true });
 * console.log(await tasks.parentProgress("planner", root.id));
 * ```
 */
export class TaskRepository {
  readonly #adapter: PooledDatabaseAdapter;
  readonly #schema: string;
  readonly #sql: TaskStatements;
  readonly #leaseMs: number;

  /** Checks the options (TypeError / RangeError naming them). */
  constructor(adapter: PooledDatabaseAdapter, options: TaskRepositoryOptions = {}) {
    if (typeof adapter?.transaction !== "function") {
      invalidOption("type", "create task repository", "adapter", "a PooledDatabaseAdapter", adapter);
    }
    this.#adapter = adapter;
    this.#schema = options.schema ?? "agentpool";
    this.#sql = taskStatements(quoteIdentifier("schema", this.#schema));
    this.#leaseMs = checkLease("create task repository", options.leaseMs, 30_000);
  }

  /**
   * Creates the schema and tables if missing (safe to call from many agents at once).
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * await tasks.migrate();
   * ```
   */
  migrate(agentId = "migrator"): Promise<MigrateResult> {
    return migrate(this.#adapter, { schema: this.#schema, migrations: TASK_MIGRATIONS, agentId });
  }

  /**
   * Creates one task.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * const t = await tasks.createTask("planner", { specialist: "coder", priority: 5, payload: { file: "a.ts" } });
   * ```
   */
  async createTask(context: DbContext, task: NewTask): Promise<Task> {
    const [created] = await this.createTasks(context, [task]);
    return created;
  }

  /**
   * Creates many tasks in one statement (with their dependencies and `created` events); returns
   * them in input order. Tasks may depend on existing tasks or on tasks of the same batch.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * const a = crypto.randomUUID();
   * await tasks.createTasks("planner", [{ id: a, specialist: "coder" }, { specialist: "reviewer", dependsOn: [a] }]);
   * ```
   */
  async createTasks(context: DbContext, tasks: readonly NewTask[]): Promise<Task[]> {
    if (!Array.isArray(tasks)) invalidOption("type", "create tasks", "tasks", "an array", tasks);
    if (tasks.length === 0) return [];
    const batch = (tasks as readonly NewTask[]).map((t: NewTask, i: number) => {
      if (typeof t !== "object" || t === null) throw new TypeError(`Cannot create task ${i} as it must be an object`);
      const subject = `create task ${i}`;
      const maxAttempts = checkInteger(subject, "maxAttempts", t.maxAttempts ?? 3, { min: 1 });
      const priority = checkInteger(subject, "priority", t.priority ?? 0, { min: -2_147_483_647, max: 2_147_483_647 });
      if (t.specialist !== undefined && t.specialist !== null && typeof t.specialist !== "string") {
        invalidOption("type", subject, "specialist", "a string", t.specialist);
      }
      return {
        id: t.id === undefined ? crypto.randomUUID() : checkId("id", t.id),
        parent_id: t.parentId === undefined || t.parentId === null ? null : checkId("parentId", t.parentId),
        specialist: t.specialist ?? null,
        priority,
        payload: t.payload === undefined ? {} : t.payload,
        max_attempts: maxAttempts,
        depends_on: t.dependsOn === undefined ? null : t.dependsOn.map((d: string) => checkId("dependsOn", d)),
      };
    });
    const agentId = agentOf(context);
    checkAcyclic(batch, agentId);
    let rows: Record<string, unknown>[];
    try {
      rows = await runStatement(this.#adapter, context, this.#sql.create, [agentId, batch]);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "23503" || code === "23514") {
        throw new TaskStateError(
          "TASK_INVALID_DEPENDENCY",
          batch[0].id,
          agentId,
          `Cannot create tasks: a parent or dependency does not exist, or a task depends on itself (${(error as Error).message})`,
        );
      }
      throw error;
    }
    const byId = new Map(rows.map((r) => [r.id as string, toTask(r)]));
    return batch.map((t) => byId.get(t.id)!);
  }

  /**
   * Claims the most urgent claimable task (pending, all dependencies completed) for `agentId`
   * under a lease, skipping tasks other agents are claiming right now. `undefined` when none.
   * One statement, walking the claim index in order (dependencies are a counter kept on the row,
   * so a claim never scans the dependency table).
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * const task = await tasks.claimNext("coder-1", { specialist: "coder" });
   * ```
   */
  async claimNext(context: DbContext, filter: ClaimFilter = {}): Promise<Task | undefined> {
    const specialists = filter.specialist === undefined
      ? null
      : typeof filter.specialist === "string"
      ? [filter.specialist]
      : [...filter.specialist];
    const parent = filter.parentId === undefined ? null : checkId("parentId", filter.parentId);
    const lease = checkLease("claim task", filter.leaseMs, this.#leaseMs);
    const rows = await runStatement(this.#adapter, context, this.#sql.claim, [agentOf(context), specialists, parent, lease]);
    return rows.length === 0 ? undefined : toTask(rows[0]);
  }

  /**
   * Extends the lease of a task the agent holds. Throws `TASK_NOT_HELD` otherwise.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * import type { Task } from "agentpool";
   * declare const task: Task;
   * const timer = setInterval(() => tasks.heartbeat("coder-1", task.id), 10_000);
   * ```
   */
  heartbeat(context: DbContext, taskId: string, leaseMs?: number): Promise<Task> {
    return this.#transition(context, taskId, this.#sql.heartbeat, [checkLease("heartbeat task", leaseMs, this.#leaseMs)], "heartbeat");
  }

  /**
   * Completes a task the agent holds, storing `result` (JSON). Exactly once: a second completion,
   * or one by another agent, throws {@linkcode TaskStateError} and changes nothing.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * import type { Task } from "agentpool";
   * declare const task: Task;
   * await tasks.complete("coder-1", task.id, { diff: "..." });
   * ```
   */
  complete(context: DbContext, taskId: string, result: unknown = null): Promise<Task> {
    return this.#transition(context, taskId, this.#sql.complete, [result === undefined ? null : result], "complete");
  }

  /**
   * Records a failed attempt of a task the agent holds: back to `pending` while attempts remain
   * (and `retry` is not false), else `failed`.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * import type { Task } from "agentpool";
   * declare const task: Task;
   * await tasks.fail("coder-1", task.id, new Error("compiler crashed"));
   * ```
   */
  fail(context: DbContext, taskId: string, error: unknown, options: { retry?: boolean } = {}): Promise<Task> {
    return this.#transition(context, taskId, this.#sql.fail, [errorJson(error), options.retry !== false], "fail");
  }

  /**
   * Cancels a pending or running task (any agent may).
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * import type { Task } from "agentpool";
   * declare const task: Task;
   * await tasks.cancel("planner", task.id);
   * ```
   */
  cancel(context: DbContext, taskId: string): Promise<Task> {
    return this.#transition(context, taskId, this.#sql.cancel, [], "cancel");
  }

  /**
   * Hands every task whose lease expired back to `pending` (or `failed` when it used all its
   * attempts); returns them. Safe to run from several agents at once.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * const recovered = await tasks.releaseExpiredLeases("sweeper");
   * ```
   */
  async releaseExpiredLeases(context: DbContext): Promise<Task[]> {
    const rows = await runStatement(this.#adapter, context, this.#sql.releaseExpired, [agentOf(context)]);
    return rows.map(toTask);
  }

  /**
   * The task, or `undefined`.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * declare const id: string;
   * const t = await tasks.get("planner", id);
   * ```
   */
  async get(context: DbContext, taskId: string): Promise<Task | undefined> {
    const rows = await runStatement(this.#adapter, context, this.#sql.get, [checkId("taskId", taskId)]);
    return rows.length === 0 ? undefined : toTask(rows[0]);
  }

  /**
   * Counts of a parent's children by status; `done` once none is pending or running.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * declare const root: { id: string };
   * const { completed, total, done } = await tasks.parentProgress("planner", root.id);
   * ```
   */
  async parentProgress(context: DbContext, parentId: string): Promise<ParentProgress> {
    const [row] = await runStatement<Omit<ParentProgress, "done" | "fraction">>(
      this.#adapter,
      context,
      this.#sql.progress,
      [checkId("parentId", parentId)],
    );
    return { ...row, done: row.pending + row.running === 0, fraction: row.total === 0 ? 0 : row.completed / row.total };
  }

  /**
   * The events of a task, oldest first.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * declare const id: string;
   * for (const e of await tasks.history("planner", id)) console.log(e.at, e.agentId, e.kind);
   * ```
   */
  async history(context: DbContext, taskId: string): Promise<TaskEvent[]> {
    const rows = await runStatement(this.#adapter, context, this.#sql.history, [checkId("taskId", taskId)]);
    return rows.map(toEvent);
  }

  /**
   * Attaches a named JSON artifact to a task.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * import type { Task } from "agentpool";
   * declare const task: Task;
   * await tasks.addArtifact("coder-1", task.id, "patch", { diff: "..." });
   * ```
   */
  async addArtifact(context: DbContext, taskId: string, name: string, content: unknown): Promise<Artifact> {
    if (typeof name !== "string" || name === "") {
      invalidOption("type", "add artifact", "name", "a non-empty string", name);
    }
    const id = checkId("taskId", taskId);
    try {
      const [row] = await runStatement(this.#adapter, context, this.#sql.addArtifact, [agentOf(context), id, name, content ?? null]);
      return toArtifact(row);
    } catch (error) {
      if ((error as { code?: unknown }).code !== "23503") throw error;
      throw new TaskStateError("TASK_NOT_FOUND", id, agentOf(context), `Cannot add artifact: task ${id} does not exist`);
    }
  }

  /**
   * The artifacts of a task, oldest first.
   *
   * @example
   * ```ts
   * import type { TaskRepository } from "agentpool";
   * declare const tasks: TaskRepository;
   * declare const id: string;
   * const patches = (await tasks.artifacts("reviewer", id)).filter((a) => a.name === "patch");
   * ```
   */
  async artifacts(context: DbContext, taskId: string): Promise<Artifact[]> {
    const rows = await runStatement(this.#adapter, context, this.#sql.artifacts, [checkId("taskId", taskId)]);
    return rows.map(toArtifact);
  }

  /** Runs a guarded transition; when it matched nothing, explains why from the row as it was. */
  async #transition(context: DbContext, taskId: string, text: string, extra: unknown[], what: string): Promise<Task> {
    const id = checkId("taskId", taskId);
    const agentId = agentOf(context);
    const rows = await runStatement(this.#adapter, context, text, [agentId, id, ...extra]);
    const row = rows[0];
    if (row !== undefined && row.changed === true) return toTask(row);
    if (row === undefined) throw new TaskStateError("TASK_NOT_FOUND", id, agentId, `Cannot ${what} task ${id}: it does not exist`);
    const status = row.status as string;
    if (status === "completed" || status === "failed" || status === "cancelled") {
      throw new TaskStateError("TASK_ALREADY_FINISHED", id, agentId, `Cannot ${what} task ${id}: it is already ${status}`);
    }
    const holder = row.assigned_agent === null ? "nobody" : `agent '${String(row.assigned_agent)}'`;
    throw new TaskStateError("TASK_NOT_HELD", id, agentId, `Cannot ${what} task ${id}: agent '${agentId}' does not hold it (status ${status}, held by ${holder})`);
  }
}
