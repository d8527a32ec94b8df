/**
 * The shapes the task repository returns, and their mapping from snake_case rows.
 *
 * @module
 */

/**
 * Lifecycle of a task: pending → running → completed | failed (| back to pending on retry); cancelled from pending or running.
 *
 * @example
 * ```ts
 * const done: TaskStatus[] = ["completed", "failed", "cancelled"];
 * ```
 */
export type TaskStatus = "pending" | "running" | "completed" | "failed" | "cancelled";

/**
 * A task row.
 *
 * @example
 * ```ts
 * import type { TaskRepository } from "agentpool";
 * declare const tasks: TaskRepository;
 * declare const id: string;
 * const t: Task | undefined = await tasks.get("planner", id);
 * if (t?.status === "running") console.log(`${t.assignedAgent} holds it until ${t.leaseExpiresAt}`);
 * ```
 */
export interface Task {
  id: string;
  parentId: string | null;
  status: TaskStatus;
  specialist: string | null;
  priority: number;
  payload: unknown;
  result: unknown;
  /** The last failure (`fail()` reason, or an expired lease). */
  error: unknown;
  assignedAgent: string | null;
  leaseExpiresAt: Date | null;
  /** Claims so far. */
  attempts: number;
  /** Dependencies not completed yet; the task is claimable only at 0. */
  blockedBy: number;
  maxAttempts: number;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

/**
 * Input of `createTask` / `createTasks`.
 *
 * @example
 * ```ts
 * const input: NewTask = { specialist: "coder", priority: 10, payload: { file: "a.ts" }, maxAttempts: 5 };
 * ```
 */
export interface NewTask {
  /** A UUID; generated when absent (give one to refer to it from `dependsOn` in the same batch). */
  id?: string;
  parentId?: string | null;
  specialist?: string | null;
  /** Higher is claimed first. Default 0. */
  priority?: number;
  /** Any JSON value. Default `{}`. */
  payload?: unknown;
  /** Claims allowed before a failing task stays failed. Default 3. */
  maxAttempts?: number;
  /** Tasks that must be completed before this one can be claimed. */
  dependsOn?: readonly string[];
}

/**
 * One entry of a task's history.
 *
 * @example
 * ```ts
 * import type { TaskRepository } from "agentpool";
 * declare const tasks: TaskRepository;
 * declare const id: string;
 * const kinds = (await tasks.history("planner", id)).map((e: TaskEvent) => e.kind); // ["created", "claimed", "completed"]
 * ```
 */
export interface TaskEvent {
  id: number;
  taskId: string;
  agentId: string;
  /** created, claimed, heartbeat, completed, retrying, failed, cancelled, lease_expired, artifact_added. */
  kind: string;
  at: Date;
  detail: unknown;
}

/**
 * A named JSON artifact attached to a task.
 *
 * @example
 * ```ts
 * import type { TaskRepository } from "agentpool";
 * declare const tasks: TaskRepository;
 * declare const id: string;
 * const [first]: Artifact[] = await tasks.artifacts("reviewer", id);
 * ```
 */
export interface Artifact {
  id: number;
  taskId: string;
  agentId: string;
  name: string;
  content: unknown;
  createdAt: Date;
}

/**
 * Children of a parent task by status.
 *
 * @example
 * ```ts
 * import type { TaskRepository } from "agentpool";
 * declare const tasks: TaskRepository;
 * declare const root: { id: string };
 * const p: ParentProgress = await tasks.parentProgress("planner", root.id);
 * console.log(`${Math.round(p.fraction * 100)} %`);
 * ```
 */
export interface ParentProgress {
  total: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** No child is pending or running. */
  done: boolean;
  /** completed / total (0 without children). */
  fraction: number;
}

type Row = Record<string, unknown>;

/**
 * Maps a tasks row.
 *
 * @example
 * ```ts
 * declare const row: Record<string, unknown>;
 * const task = toTask(row); // snake_case row to Task
 * ```
 */
export function toTask(r: Row): Task {
  return {
    id: r.id as string,
    parentId: r.parent_id as string | null,
    status: r.status as TaskStatus,
    specialist: r.specialist as string | null,
    priority: r.priority as number,
    payload: r.payload,
    result: r.result,
    error: r.error,
    assignedAgent: r.assigned_agent as string | null,
    leaseExpiresAt: r.lease_expires_at as Date | null,
    attempts: r.attempts as number,
    blockedBy: r.blocked_by as number,
    maxAttempts: r.max_attempts as number,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    completedAt: r.completed_at as Date | null,
  };
}

/**
 * Maps a task_events row (bigint ids arrive as strings).
 *
 * @example
 * ```ts
 * declare const rows: Record<string, unknown>[];
 * const events = rows.map(toEvent);
 * ```
 */
export function toEvent(r: Row): TaskEvent {
  return { id: Number(r.id), taskId: r.task_id as string, agentId: r.agent_id as string, kind: r.kind as string, at: r.at as Date, detail: r.detail };
}

/**
 * Maps an artifacts row.
 *
 * @example
 * ```ts
 * declare const rows: Record<string, unknown>[];
 * const artifacts = rows.map(toArtifact);
 * ```
 */
export function toArtifact(r: Row): Artifact {
  return {
    id: Number(r.id),
    taskId: r.task_id as string,
    agentId: r.agent_id as string,
    name: r.name as string,
    content: r.content,
    createdAt: r.created_at as Date,
  };
}
