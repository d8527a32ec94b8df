/**
 * TaskRepository against a real PostgreSQL: claims under SKIP LOCKED with leases and
 * dependencies, guarded transitions with clear errors, lease expiry, retries, progress, history,
 * artifacts, and 50 agents completing 5,000 tasks through a 20+10 pool exactly once each.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PoolError } from "../src/core/errors.ts";
import { TaskStateError } from "../src/postgres/errors.ts";
import { type Task, TaskRepository } from "../src/postgres/tasks.ts";
import { eventually, type TestDb, withDb } from "./postgres_support.ts";

async function taskRepo(t: TestDb, leaseMs?: number): Promise<TaskRepository> {
  const tasks = new TaskRepository(t.db, { schema: `${t.schema}_tasks`, leaseMs });
  await tasks.migrate();
  return tasks;
}

/** Drops the task schema too (withDb drops only its own). */
async function withTasks(body: (t: TestDb, tasks: TaskRepository) => Promise<void>, leaseMs?: number, maxConnections = 5, overflow = 0): Promise<void> {
  await withDb(async (t) => {
    try {
      await body(t, await taskRepo(t, leaseMs));
    } finally {
      await t.observer.unsafe(`drop schema if exists ${t.schema}_tasks cascade`);
    }
  }, { pool: { maxConnections, overflow } });
}

async function errorOf(promise: Promise<unknown>): Promise<TaskStateError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof TaskStateError, `expected a TaskStateError, got ${String(error)}`);
  assert.ok(error instanceof PoolError);
  return error;
}

describe("tasks: lifecycle", () => {
  test("migrate is idempotent and safe to run concurrently", async () => {
    await withTasks(async (_t, tasks) => {
      const again = await Promise.all([tasks.migrate("a"), tasks.migrate("b"), tasks.migrate("c")]);
      for (const r of again) assert.deepEqual(r, { applied: [], version: 1 });
    });
  });

  test("create, claim by priority, heartbeat, complete exactly once, with events", async () => {
    await withTasks(async (_t, tasks) => {
      const low = await tasks.createTask("planner", { specialist: "coder", payload: { file: "low.ts" } });
      const high = await tasks.createTask("planner", { specialist: "coder", priority: 10, payload: { file: "high.ts" } });
      assert.equal(low.status, "pending");
      assert.equal(low.attempts, 0);
      const claimed = await tasks.claimNext("coder-1", { specialist: "coder" });
      assert.equal(claimed?.id, high.id);
      assert.equal(claimed?.status, "running");
      assert.equal(claimed?.assignedAgent, "coder-1");
      assert.equal(claimed?.attempts, 1);
      assert.ok(claimed!.leaseExpiresAt! > claimed!.updatedAt);
      const beat = await tasks.heartbeat("coder-1", high.id, 60_000);
      assert.ok(beat.leaseExpiresAt! >= claimed!.leaseExpiresAt!);
      const done = await tasks.complete("coder-1", high.id, { diff: "+1 line" });
      assert.equal(done.status, "completed");
      assert.deepEqual(done.result, { diff: "+1 line" });
      assert.ok(done.completedAt instanceof Date);
      const history = await tasks.history("auditor", high.id);
      assert.deepEqual(history.map((e) => [e.kind, e.agentId]), [
        ["created", "planner"],
        ["claimed", "coder-1"],
        ["heartbeat", "coder-1"],
        ["completed", "coder-1"],
      ]);
      assert.equal((await tasks.claimNext("coder-2", { specialist: "coder" }))?.id, low.id);
      assert.equal(await tasks.claimNext("coder-3", { specialist: "coder" }), undefined);
      assert.equal(await tasks.claimNext("writer-1", { specialist: "writer" }), undefined);
    });
  });

  test("invalid transitions are clear errors and change nothing", async () => {
    await withTasks(async (_t, tasks) => {
      const task = await tasks.createTask("planner", { specialist: "coder" });
      assert.equal((await errorOf(tasks.complete("coder-1", task.id, {}))).code, "TASK_NOT_HELD"); // never claimed
      await tasks.claimNext("coder-1");
      const stranger = await errorOf(tasks.complete("coder-2", task.id, { stolen: true }));
      assert.equal(stranger.code, "TASK_NOT_HELD");
      assert.match(stranger.message, /held by agent 'coder-1'/);
      assert.equal(stranger.taskId, task.id);
      assert.equal(stranger.agentId, "coder-2");
      assert.equal((await errorOf(tasks.heartbeat("coder-2", task.id))).code, "TASK_NOT_HELD");
      assert.equal((await errorOf(tasks.fail("coder-2", task.id, "nope"))).code, "TASK_NOT_HELD");
      await tasks.complete("coder-1", task.id, { ok: 1 });
      const twice = await errorOf(tasks.complete("coder-1", task.id, { ok: 2 }));
      assert.equal(twice.code, "TASK_ALREADY_FINISHED");
      assert.equal((await errorOf(tasks.complete("coder-1", crypto.randomUUID(), {}))).code, "TASK_NOT_FOUND");
      await assert.rejects(tasks.complete("coder-1", "'; drop table tasks; --", {}), TypeError);
      const after = await tasks.get("auditor", task.id);
      assert.deepEqual(after?.result, { ok: 1 });
      const kinds = (await tasks.history("auditor", task.id)).map((e) => e.kind);
      assert.deepEqual(kinds, ["created", "claimed", "completed"]); // the refused attempts wrote nothing
    });
  });

  test("fail retries until maxAttempts, then the task stays failed", async () => {
    await withTasks(async (_t, tasks) => {
      const task = await tasks.createTask("planner", { maxAttempts: 2 });
      await tasks.claimNext("w1");
      const retry = await tasks.fail("w1", task.id, new Error("flaky network"));
      assert.equal(retry.status, "pending");
      assert.equal(retry.assignedAgent, null);
      assert.deepEqual(retry.error, { name: "Error", message: "flaky network" });
      await tasks.claimNext("w2");
      const failed = await tasks.fail("w2", task.id, { reason: "still broken" });
      assert.equal(failed.status, "failed");
      assert.equal(failed.attempts, 2);
      assert.equal(await tasks.claimNext("w3"), undefined);
      const kinds = (await tasks.history("auditor", task.id)).map((e) => e.kind);
      assert.deepEqual(kinds, ["created", "claimed", "retrying", "claimed", "failed"]);
      const noRetry = await tasks.createTask("planner", { maxAttempts: 5 });
      await tasks.claimNext("w1");
      assert.equal((await tasks.fail("w1", noRetry.id, "fatal", { retry: false })).status, "failed");
    });
  });

  test("dependencies: a task is claimable only once all it depends on completed", async () => {
    await withTasks(async (_t, tasks) => {
      const a = crypto.randomUUID();
      const b = crypto.randomUUID();
      const [ta, tb, tc] = await tasks.createTasks("planner", [
        { id: a, specialist: "s", priority: 1 },
        { id: b, specialist: "s", priority: 1, dependsOn: [a] },
        { specialist: "s", priority: 5, dependsOn: [a, b] },
      ]);
      assert.deepEqual([ta.id, tb.id], [a, b]);
      assert.deepEqual([ta.blockedBy, tb.blockedBy, tc.blockedBy], [0, 1, 2]);
      assert.equal((await tasks.claimNext("x"))?.id, a); // c has the top priority but is blocked
      assert.equal(await tasks.claimNext("y"), undefined);
      await tasks.complete("x", a, null);
      assert.equal((await tasks.claimNext("y"))?.id, b);
      assert.equal(await tasks.claimNext("z"), undefined);
      await tasks.complete("y", b, null);
      assert.equal((await tasks.claimNext("z"))?.id, tc.id);
    });
  });

  test("a dependency completing while its dependent is being created never leaves it blocked", async () => {
    await withTasks(async (_t, tasks) => {
      const done = await tasks.createTask("planner", { specialist: "early" });
      await tasks.claimNext("w", { specialist: "early" });
      await tasks.complete("w", done.id, null);
      assert.equal((await tasks.createTask("planner", { specialist: "late", dependsOn: [done.id] })).blockedBy, 0);

      const rounds = 40;
      const deps = await tasks.createTasks("planner", Array.from({ length: rounds }, () => ({ specialist: "dep" })));
      for (let i = 0; i < rounds; i++) await tasks.claimNext(`w${i}`, { specialist: "dep" });
      const held = await Promise.all(deps.map((d, i) => tasks.get(`reader-${i}`, d.id)));
      // Race each completion against the creation of a task that depends on it.
      const dependents = await Promise.all(held.map(async (d) => {
        const [, [created]] = await Promise.all([
          tasks.complete(d!.assignedAgent!, d!.id, null),
          tasks.createTasks(`planner-${d!.assignedAgent}`, [{ specialist: "child", dependsOn: [d!.id] }]),
        ]);
        return created.id;
      }));
      const fresh = await Promise.all(dependents.map((id, i) => tasks.get(`reader-${i}`, id)));
      assert.deepEqual(fresh.map((t) => t?.blockedBy), dependents.map(() => 0));
      let claimed = 0;
      while (await tasks.claimNext("kid", { specialist: "child" })) claimed++;
      assert.equal(claimed, rounds);
    }, undefined, 10);
  });

  test("bad dependencies and parents are refused as a whole batch", async () => {
    await withTasks(async (t, tasks) => {
      const missing = await errorOf(tasks.createTasks("planner", [{ specialist: "s" }, { dependsOn: [crypto.randomUUID()] }]));
      assert.equal(missing.code, "TASK_INVALID_DEPENDENCY");
      assert.equal((await errorOf(tasks.createTask("planner", { parentId: crypto.randomUUID() }))).code, "TASK_INVALID_DEPENDENCY");
      const a = crypto.randomUUID();
      const b = crypto.randomUUID();
      const cycle = await errorOf(tasks.createTasks("planner", [{ id: a, dependsOn: [b] }, { id: b, dependsOn: [a] }]));
      assert.equal(cycle.code, "TASK_INVALID_DEPENDENCY");
      assert.equal((await errorOf(tasks.createTask("planner", { id: a, dependsOn: [a] }))).code, "TASK_INVALID_DEPENDENCY");
      await assert.rejects(tasks.createTask("planner", { maxAttempts: 0 }), /'maxAttempts'/);
      await assert.rejects(tasks.createTask("planner", { dependsOn: ["not-a-uuid"] }), /'dependsOn'/);
      const [{ n }] = await t.observer.unsafe(`select count(*)::int as n from ${t.schema}_tasks.tasks`);
      assert.equal(n, 0);
    });
  });

  test("parent progress, artifacts, and hostile strings stored and matched literally", async () => {
    await withTasks(async (_t, tasks) => {
      const hostile = `'; drop table tasks; -- "x" \\ ünï 🚀`;
      const root = await tasks.createTask("planner", { specialist: hostile, payload: { goal: hostile } });
      const children = await tasks.createTasks("planner", Array.from({ length: 4 }, (_, i) => ({ parentId: root.id, specialist: "kid", payload: { i } })));
      assert.deepEqual(children.map((c) => (c.payload as { i: number }).i), [0, 1, 2, 3]);
      const first = await tasks.claimNext("k1", { parentId: root.id });
      await tasks.complete("k1", first!.id, hostile);
      const second = await tasks.claimNext("k2", { specialist: ["kid", "other"] });
      await tasks.fail("k2", second!.id, "boom", { retry: false });
      await tasks.claimNext("k3", { parentId: root.id });
      const progress = await tasks.parentProgress("planner", root.id);
      assert.deepEqual(progress, { total: 4, pending: 1, running: 1, completed: 1, failed: 1, cancelled: 0, done: false, fraction: 0.25 });
      assert.equal((await tasks.get("a", first!.id))?.result, hostile);

      const claimedRoot = await tasks.claimNext("boss", { specialist: hostile });
      assert.equal(claimedRoot?.id, root.id);
      assert.deepEqual(claimedRoot?.payload, { goal: hostile });
      await tasks.addArtifact("boss", root.id, hostile, { text: hostile });
      await tasks.addArtifact("boss", root.id, "plan.md", "# plan");
      const artifacts = await tasks.artifacts("reader", root.id);
      assert.deepEqual(artifacts.map((a) => [a.name, a.content, a.agentId]), [[hostile, { text: hostile }, "boss"], ["plan.md", "# plan", "boss"]]);
      assert.equal((await errorOf(tasks.addArtifact("boss", crypto.randomUUID(), "x", 1))).code, "TASK_NOT_FOUND");
      const cancelled = await tasks.cancel("boss", root.id);
      assert.equal(cancelled.status, "cancelled");
      assert.equal((await errorOf(tasks.cancel("boss", root.id))).code, "TASK_ALREADY_FINISHED");
    });
  });
});

describe("tasks: leases", () => {
  test("an agent that stops heartbeating loses its task to another", async () => {
    await withTasks(async (t, tasks) => {
      const task = await tasks.createTask("planner", { specialist: "coder" });
      const first = await tasks.claimNext("sleepy", { leaseMs: 50 });
      assert.equal(first?.id, task.id);
      await eventually(async () => (await t.observer.unsafe(
        `select 1 from ${t.schema}_tasks.tasks where id = $1 and lease_expires_at < now()`,
        [task.id],
      )).length === 1, "the lease expires");
      const released = await tasks.releaseExpiredLeases("sweeper");
      assert.deepEqual(released.map((r: Task) => [r.id, r.status]), [[task.id, "pending"]]);
      const second = await tasks.claimNext("eager", { specialist: "coder" });
      assert.equal(second?.id, task.id);
      assert.equal(second?.attempts, 2);
      assert.equal((await errorOf(tasks.heartbeat("sleepy", task.id))).code, "TASK_NOT_HELD");
      assert.equal((await errorOf(tasks.complete("sleepy", task.id, { late: true }))).code, "TASK_NOT_HELD");
      await tasks.complete("eager", task.id, { onTime: true });
      const history = await tasks.history("auditor", task.id);
      assert.deepEqual(history.map((e) => [e.kind, e.agentId]), [
        ["created", "planner"],
        ["claimed", "sleepy"],
        ["lease_expired", "sweeper"],
        ["claimed", "eager"],
        ["completed", "eager"],
      ]);
      assert.deepEqual(history[2].detail, { previousAgent: "sleepy", status: "pending" });
    }, 30_000);
  });
});

describe("tasks: concurrency", () => {
  test("50 agents claim and complete 5,000 tasks through a 20+10 pool: each exactly once", async () => {
    await withTasks(async (t, tasks) => {
      const total = 5000;
      for (let i = 0; i < total; i += 1000) {
        await tasks.createTasks("planner", Array.from({ length: 1000 }, (_, j) => ({ specialist: "worker", priority: (i + j) % 7, payload: { n: i + j } })));
      }
      const completedBy = new Map<string, string>();
      let peakUsed = 0;
      const agent = async (name: string) => {
        for (;;) {
          const task = await tasks.claimNext(name, { specialist: "worker" });
          if (task === undefined) return;
          peakUsed = Math.max(peakUsed, t.pool.stats().used);
          assert.ok(!completedBy.has(task.id), `task ${task.id} claimed twice`);
          completedBy.set(task.id, name);
          await tasks.complete(name, task.id, { by: name });
        }
      };
      await Promise.all(Array.from({ length: 50 }, (_, i) => agent(`agent-${i}`)));
      assert.equal(completedBy.size, total);
      assert.ok(peakUsed <= 30);
      assert.equal(t.pool.stats().used, 0);
      const s = `${t.schema}_tasks`;
      const [counts] = await t.observer.unsafe(`select
          count(*) filter (where status = 'completed')::int as completed,
          count(*) filter (where status <> 'completed')::int as other
        from ${s}.tasks`);
      assert.deepEqual({ ...counts }, { completed: total, other: 0 });
      const anomalies = await t.observer.unsafe(`
        select t.id from ${s}.tasks t
        left join ${s}.task_events c on c.task_id = t.id and c.kind = 'claimed'
        left join ${s}.task_events d on d.task_id = t.id and d.kind = 'completed'
        group by t.id, t.assigned_agent
        having count(distinct c.id) <> 1 or count(distinct d.id) <> 1
            or min(c.agent_id) <> t.assigned_agent or min(d.agent_id) <> t.assigned_agent`);
      assert.equal(anomalies.length, 0, `tasks claimed or completed other than exactly once: ${anomalies.length}`);
      const [{ agents }] = await t.observer.unsafe(`select count(distinct agent_id)::int as agents from ${s}.task_events where kind = 'completed'`);
      assert.ok(agents > 1);
    }, undefined, 20, 10);
  });
});
