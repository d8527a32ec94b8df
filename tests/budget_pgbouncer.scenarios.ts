/**
 * A global budget across processes through PgBouncer in transaction mode (Debian `pgbouncer`,
 * run as `postgres`): four worker processes, each its own agentpool behind one PgBouncer, agent
 * ids shared across processes, a budget of 3 for the hot agent, leases renewed through a
 * separate small PgBouncer alias. An observer on the upstream server samples pg_stat_activity
 * and the lease table every 50 ms.
 *
 * Every scenario: no sample shows more than 3 of the hot agent's transactions at once, Σgranted
 * never exceeds 3, and every task commits exactly once (idempotent inserts + a contended counter).
 * Faults: SIGKILL a worker (its share returns within TTL + one tick; a restarted worker finishes
 * its work), SIGSTOP one past its TTL then SIGCONT (what it sends on waking is fenced: no work beside the others),
 * restart PgBouncer mid-run, terminate the control sessions. Negative control: a session-level
 * advisory-lock semaphore admits two holders of its single slot through transaction mode.
 *
 * NOT part of `npm test` yet (run it with `npm run test:budget-faults`): on this project's loaded
 * 2-core machines the SIGKILL and SIGSTOP hand-over checks ("the others took the share") failed in
 * about one run in three on Deno and Bun, when the surviving workers' renewals lagged the TTL.
 * The observer's strict checks (never more than 3 on the server, Σgranted ≤ 3, exactly-once work)
 * held in every run. Making the hand-over deterministic is open work of issue 15.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import postgres from "postgres";
import { PostgresBudgetStore } from "../src/postgres/budget_store.ts";
import { observe, type Sample, startWorker, until, type Worker, type WorkerResult } from "./support/budget_cluster.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { type PgBouncer, startPgBouncer } from "./support/pgbouncer.ts";

const LIMIT = 3;
const TICK = 200;
const TTL = 2000;
const MARGIN = 800;
const PROCS = ["p0", "p1", "p2", "p3"];
const SMALL = 8;
/**
 * PgBouncer's data pool_size. Every agent here is budgeted (hot 3, the others 2 each by the
 * default limit: 3 + 2 + 2 + 4 × 1 = 11 at most), and the budgets fit in the pool, so budgeted
 * work never queues inside PgBouncer: a transaction handed out under a valid lease reaches the
 * server at once, and its time there is bounded by the transaction-local timeouts (300 ms), well
 * inside the safety margin (docs/deployment.md, "Sizing").
 */
const POOL_SIZE = 12;

describe("global budget: 4 processes through PgBouncer (transaction mode)", () => {
  const role = uniqueName("budgetpgb");
  const password = `pw_${uniqueName("p")}`;
  const schema = role;
  const budgetSchema = `${role}_leases`;
  const leaseTable = `${budgetSchema}.budget_leases`;
  let admin: postgres.Sql;
  let bouncer: PgBouncer | undefined;
  let bouncerPort = 0;
  const figures: Record<string, unknown> = {};

  const startBouncer = async (port?: number): Promise<PgBouncer> =>
    await startPgBouncer({ upstreamUrl: databaseUrl(), user: role, password, poolSize: POOL_SIZE, aliases: { budget_ctl: 2, one_server: 1 }, port });

  before(async () => {
    admin = postgres(databaseUrl(), { max: 2, onnotice: () => {} });
    await admin.unsafe(`create role ${role} login password '${password}'`);
    await admin.unsafe(`create schema ${schema} authorization ${role}`);
    await admin.unsafe(`create schema ${budgetSchema} authorization ${role}`);
    await admin.unsafe(`grant connect, create on database ${admin.options.database} to ${role}`);
    await admin.unsafe(`create table ${schema}.events (proc text, agent text, n int, primary key (proc, agent, n))`);
    await admin.unsafe(`create table ${schema}.counter (id int primary key, n int not null)`);
    await admin.unsafe(`insert into ${schema}.counter values (1, 0)`);
    await admin.unsafe(`alter table ${schema}.events owner to ${role}`);
    await admin.unsafe(`alter table ${schema}.counter owner to ${role}`);
    bouncer = await startBouncer();
    bouncerPort = bouncer.port;
    // The migration, run the way every process runs it: through the control alias.
    const store = new PostgresBudgetStore(bouncer.urlFor("budget_ctl"), { schema: budgetSchema });
    try {
      assert.deepEqual((await store.migrate()).applied, [1]);
    } finally {
      await store.close();
    }
  });

  after(async () => {
    console.log(`budget fault figures: ${JSON.stringify(figures)}`);
    const failures: unknown[] = [];
    const step = async (work: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await work();
      } catch (error) {
        failures.push(error);
      }
    };
    await step(() => bouncer?.stop());
    await step(() => admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`));
    await step(() => admin.unsafe(`drop schema if exists ${schema} cascade`));
    await step(() => admin.unsafe(`drop schema if exists ${budgetSchema} cascade`));
    await step(() => admin.unsafe(`drop owned by ${role} cascade`));
    await step(() => admin.unsafe(`drop role if exists ${role}`));
    await step(() => admin.end({ timeout: 5 }));
    if (failures.length > 0) throw failures[0];
  });

  const work = (proc: string, hotTasks: number): Record<string, [number, number]> => ({
    hot: [3, hotTasks],
    "shared-a": [2, SMALL],
    "shared-b": [1, SMALL],
    [`own-${proc}`]: [1, SMALL],
  });

  function worker(proc: string, budget: string, hotTasks: number): Worker {
    return startWorker({
      BOUNCER_URL: `postgres://${role}@127.0.0.1:${bouncerPort}/${admin.options.database}`,
      CTL_URL: `postgres://${role}@127.0.0.1:${bouncerPort}/budget_ctl`,
      SCHEMA: schema,
      BUDGET_SCHEMA: budgetSchema,
      BUDGET: budget,
      PROC: proc,
      LIMITS: JSON.stringify({ hot: LIMIT }),
      DEFAULT_LIMIT: "2",
      TICK_MS: String(TICK),
      TTL_MS: String(TTL),
      MARGIN_MS: String(MARGIN),
      TX_TIMEOUT_MS: "300",
      SLEEP_MS: "40",
      WORK: JSON.stringify(work(proc, hotTasks)),
    });
  }

  /** Runs a scenario: 4 workers, the observer, `fault` while they run; checks the common invariants. */
  async function scenario(
    label: string,
    hotTasks: number,
    fault: (workers: Worker[], samples: Sample[], budget: string) => Promise<Worker[]>,
  ): Promise<{ results: WorkerResult[]; samples: Sample[] }> {
    const budget = `${label} ‘budget’ "${uniqueName("b")}"`;
    await admin.unsafe(`truncate ${schema}.events`);
    await admin.unsafe(`update ${schema}.counter set n = 0`);
    const observer = observe(admin, { role, hotAgent: "hot", leaseTable, budget });
    const workers = PROCS.map((proc) => worker(proc, budget, hotTasks));
    const all = [...workers];
    let results: WorkerResult[] = [];
    try {
      await Promise.all(workers.map((w) => w.ready));
      all.push(...await fault(workers, observer.samples, budget));
      const settled = await Promise.all(all.map((w) => w.done));
      results = settled.filter((r): r is WorkerResult => r !== undefined);
    } finally {
      for (const w of all) w.signal("SIGKILL"); // only those still running
      await observer.stop();
    }
    const samples = observer.samples;
    const maxHot = Math.max(...samples.map((s) => s.hot));
    const maxGranted = Math.max(...samples.map((s) => s.granted));
    const tasks = PROCS.length * (hotTasks + 3 * SMALL);
    const [{ count }] = await admin<{ count: number }[]>`select count(*)::int as count from ${admin(schema)}.events`;
    const [{ n }] = await admin<{ n: number }[]>`select n from ${admin(schema)}.counter where id = 1`;
    figures[label] = {
      samples: samples.length,
      maxHotTransactions: maxHot,
      maxHotSingleRead: Math.max(...samples.map((s) => s.hotSingleRead)),
      maxGranted,
      failedTransactionsRetried: results.reduce((s, r) => s + r.failures, 0),
      retriedBecause: results.reduce((all, r) => {
        for (const [k, v] of Object.entries(r.errors)) all[k] = (all[k] ?? 0) + v;
        return all;
      }, {} as Record<string, number>),
      startsWithoutLease: results.map((r) => r.startsWithoutLease),
      unhandledRejectionsOutsideTheBudget: results.reduce((s, r) => s + r.unhandledRejections, 0),
      renewFailures: results.map((r) => r.budget.renewFailures),
      expiries: results.map((r) => r.budget.expiries),
      maxRenewMs: Math.max(...results.map((r) => r.budget.maxRenewMs)),
      fenced: results.map((r) => r.fenced),
      overLimitSamples: samples.filter((s) => s.hot > LIMIT || s.granted > LIMIT).slice(0, 4),
      ...(figures[label] as object | undefined),
    };
    assert.ok(samples.length >= 20, `${label}: the observer sampled ${samples.length} times`);
    assert.ok(maxHot <= LIMIT, `${label}: ${maxHot} of the hot agent's transactions ran at once (budget ${LIMIT})`);
    assert.ok(maxGranted <= LIMIT, `${label}: Σgranted reached ${maxGranted}`);
    assert.ok(maxHot >= 2, `${label}: the observer saw the hot agent run (peak ${maxHot})`);
    assert.equal(count, tasks, `${label}: every task committed once`);
    assert.equal(n, tasks, `${label}: no increment of the contended row was lost or doubled`);
    return { results, samples };
  }

  it("steady run: the hot agent never has more than 3 transactions at once across 4 processes; all work commits", async () => {
    const { results } = await scenario("steady", 15, () => Promise.resolve([]));
    assert.equal(results.length, 4);
    for (const r of results) assert.equal(r.committed.hot, 15, `${r.proc} ran all its hot tasks`);
  });

  it("SIGKILL a worker: its share returns within the TTL and one tick; a restarted worker finishes its work", async () => {
    await scenario("sigkill", 70, async (workers, samples, budget) => {
      const victim = workers[3];
      // Kill it while it holds part of the hot agent's budget.
      assert.ok(await until(() => (samples.at(-1)?.byHolder[victim.proc] ?? 0) >= 1, 10_000), "p3 got a grant");
      victim.signal("SIGKILL");
      const killedAt = performance.now();
      let last = "";
      const othersFull = async (): Promise<boolean> => {
        const [row] = await admin.unsafe<{ others: number; mine: number; rows: unknown }[]>(
          `select coalesce(sum(granted) filter (where holder <> $3), 0)::int as others,
                  coalesce(sum(granted) filter (where holder = $3), 0)::int as mine,
                  json_agg(json_build_object('holder', holder, 'wants', wants, 'granted', granted, 'held', held)) as rows
             from ${leaseTable}
            where budget = $1 and agent_id = $2 and renewed_at + ttl_ms * interval '1 ms' >= clock_timestamp()`,
          [budget, "hot", victim.proc],
        );
        last = JSON.stringify(row.rows);
        return row.mine === 0 && row.others === LIMIT;
      };
      // On failure the message shows the live leases (wants, grants, holdings) at the last look.
      assert.ok(await until(othersFull, 4 * TTL), `the others took the killed worker's share (live hot leases: ${last})`);
      const returnedAfterMs = Math.round(performance.now() - killedAt);
      figures.sigkill = { shareReturnedAfterMs: returnedAfterMs, ttlMs: TTL, tickMs: TICK };
      // Its last renewal was at most one tick (plus that renewal's duration) before the kill.
      assert.ok(returnedAfterMs <= TTL + 2 * TICK + 400, `share returned after ${returnedAfterMs} ms (TTL ${TTL}, tick ${TICK})`);
      assert.ok(returnedAfterMs >= TTL - 2 * TICK, `not before its lease expired: ${returnedAfterMs} ms`);
      // The same process restarted: idempotent tasks, so what the killed one committed is kept once.
      return [worker(victim.proc, budget, 70)];
    });
  });

  it("SIGSTOP a worker past its TTL, then SIGCONT: nothing it sends after waking does work beside the others' grants; the others use its share meanwhile", async () => {
    const { results } = await scenario("sigstop", 80, async (workers, samples) => {
      const victim = workers[2];
      assert.ok(await until(() => (samples.at(-1)?.byHolder[victim.proc] ?? 0) >= 1, 10_000), "p2 got a grant");
      victim.signal("SIGSTOP");
      const stoppedAt = samples.length;
      const taken = (): Sample | undefined =>
        samples.slice(stoppedAt).find((s) => s.granted === LIMIT && (s.byHolder[victim.proc] ?? 0) === 0);
      // Stopped past its TTL, and (on a loaded machine the others' renewals may lag) until the
      // others hold the whole limit, so that what it sends on waking meets their grants.
      await new Promise((resolve) => setTimeout(resolve, TTL + 1000));
      const tookIt = await until(() => taken() !== undefined, 10_000);
      const during = samples.slice(stoppedAt);
      figures.sigstop = {
        stoppedMs: Math.round((during.at(-1)?.at ?? 0) - (during[0]?.at ?? 0)),
        othersHeldTheWholeLimitAfterMs: tookIt ? Math.round(taken()!.at - during[0].at) : null,
        victimLeaseAtEndOfStop: during.at(-1)?.byHolder[victim.proc] ?? 0,
      };
      victim.signal("SIGCONT");
      assert.ok(tookIt, "the others took the stopped worker's share while it was stopped");
      assert.equal(during.at(-1)?.byHolder[victim.proc] ?? 0, 0, "the stopped worker's lease expired");
      return [];
    });
    // The strict check is the observer's (in scenario): never more than LIMIT of the hot agent's
    // transactions on the server, Σgranted ≤ LIMIT. A transaction the worker had admitted before
    // the stop may begin after waking (startsWithoutLease, a figure); its fenced first statement
    // then finds the lease lapsed and it does nothing (fenced), see docs/deployment.md.
    const victim = results.find((r) => r.proc === "p2")!;
    assert.ok(victim.budget.expiries >= 1, "the stopped worker noticed its lease ran out");
    assert.equal(victim.committed.hot, 80, "the stopped worker finished its hot work after waking");
  });

  it("PgBouncer restarts mid-run: renewals and transactions fail, leases self-expire, then everything resumes", async () => {
    const { results } = await scenario("pgbouncer-restart", 30, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await bouncer!.stop();
      const downAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, TTL));
      bouncer = await startBouncer(bouncerPort);
      figures["pgbouncer-restart"] = { downMs: Math.round(performance.now() - downAt) };
      return [];
    });
    for (const r of results) assert.ok(r.budget.renewFailures >= 1, `${r.proc} saw renewals fail`);
    assert.ok(results.some((r) => r.budget.expiries >= 1), "leases ran out while PgBouncer was down");
  });

  it("the control sessions are terminated repeatedly: renewals fail, the budget still holds, work completes", async () => {
    let terminated = 0;
    const { results } = await scenario("terminate-control", 30, async () => {
      const until = performance.now() + TTL + 500;
      while (performance.now() < until) {
        const rows = await admin.unsafe(
          `select pg_terminate_backend(pid) from pg_stat_activity where usename = $1 and application_name like 'budget-ctl:%'`,
          [role],
        );
        terminated += rows.length;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return [];
    });
    figures["terminate-control"] = { ...(figures["terminate-control"] as object), backendsTerminated: terminated };
    assert.ok(terminated >= 1, "control sessions were found and terminated");
    assert.ok(results.reduce((s, r) => s + r.budget.renewFailures, 0) >= 1, "renewals failed");
  });

  it("negative control: a session-level advisory-lock semaphore admits two holders of one slot through transaction mode", async () => {
    const url = `postgres://${role}@127.0.0.1:${bouncerPort}/one_server`;
    const a = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
    const b = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
    const directA = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
    const directB = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
    try {
      const slot = 424242;
      const [{ ok: tookA, pid: pidA }] = await a`select pg_try_advisory_lock(${slot}) as ok, pg_backend_pid() as pid`;
      const [{ ok: tookB, pid: pidB }] = await b`select pg_try_advisory_lock(${slot}) as ok, pg_backend_pid() as pid`;
      assert.equal(tookA, true);
      assert.equal(tookB, true, "the second client got the single slot too: the lock belongs to the shared server session");
      assert.equal(pidA, pidB, "both clients ran on the same server session");
      const [{ ok: strangerUnlocked }] = await b`select pg_advisory_unlock(${slot}) as ok`;
      assert.equal(strangerUnlocked, true, "and one client can release the other's lock");
      await a`select pg_advisory_unlock_all()`;
      // The same semaphore on direct sessions works: the check above can tell the difference.
      const [{ ok: directTookA }] = await directA`select pg_try_advisory_lock(${slot}) as ok`;
      const [{ ok: directTookB }] = await directB`select pg_try_advisory_lock(${slot}) as ok`;
      assert.deepEqual([directTookA, directTookB], [true, false]);
    } finally {
      await Promise.all([a, b, directA, directB].map((sql) => sql.end({ timeout: 5 })));
    }
  });
});
