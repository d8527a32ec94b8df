/**
 * Fault test: `pg_terminate_backend` on random pool connections under load. Dead connections are
 * evicted (never handed out again) and replaced; the pool refills to minConnections; afterwards
 * every query succeeds and the server's sessions are exactly the pool's connections.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { AsyncConnectionPool } from "../mod.ts";
import { backendPid } from "../src/postgres/connection_state.ts";
import { isFatalPostgresError, postgresFactory } from "../src/postgres/factory.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { describe, eventually, isClearFailure, sessionPids, sleep, within } from "./support/faults.ts";

const AGENTS = 20;
const MIN = 6;
const REQUEST_DEADLINE_MS = 5_000;

test("pg_terminate_backend on random pool connections under load: evicted, replaced, refilled to min", async () => {
  const applicationName = uniqueName("terminate");
  const observer = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(databaseUrl(), { applicationName, onnotice: () => {} }),
    minConnections: MIN,
    maxConnections: 10,
    overflow: 5,
    acquireTimeoutMs: 2_000,
  });
  const errors: unknown[] = [];
  let ok = 0;
  let running = true;
  const terminated = new Set<number>();
  const worker = async (agentId: string): Promise<void> => {
    while (running) {
      try {
        await within(pool.use((sql) => sql`select pg_sleep(0.003)`, { agentId }), REQUEST_DEADLINE_MS, `request of ${agentId}`);
        ok++;
      } catch (error) {
        errors.push(error);
      }
    }
  };
  try {
    await eventually(() => pool.stats().total >= MIN, "the pool fills to minConnections");
    const workers = Array.from({ length: AGENTS }, (_, i) => worker(`agent-${i}`));
    try {
      await sleep(200);
      // Ten rounds: terminate two random sessions of the pool (held or idle) every 100 ms.
      for (let round = 0; round < 10; round++) {
        const pids = await sessionPids(observer, applicationName);
        const victims = pids.sort(() => Math.random() - 0.5).slice(0, 2);
        for (const pid of victims) {
          await observer`select pg_terminate_backend(${pid})`;
          terminated.add(pid);
        }
        await sleep(100);
      }
    } finally {
      running = false;
      await Promise.all(workers);
    }
    assert.ok(terminated.size >= 10, `${terminated.size} sessions were terminated`);
    assert.ok(ok > 0, "the workload ran");

    // Every failure was clear (the terminated session's error, or a pool error), none hung.
    const unclear = errors.filter((e) => !isClearFailure(e));
    assert.equal(unclear.length, 0, `unclear failures: ${unclear.slice(0, 5).map(describe).join("; ")}`);
    // Failures are the fatal kind only: a terminated session never poisoned a later request.
    for (const error of errors) assert.ok(isFatalPostgresError(error), `not a connection failure: ${describe(error)}`);

    const stats = pool.stats();
    assert.equal(stats.used, 0);
    assert.equal(stats.acquired, stats.released);
    assert.ok(
      stats.fatalErrors + stats.validationFailures > 0,
      `dead connections were noticed (fatalErrors ${stats.fatalErrors}, validationFailures ${stats.validationFailures})`,
    );
    // Dead connections close in the background (a release does not wait for it): give them time.
    await eventually(() => pool.stats().destroyed >= terminated.size, `${terminated.size} terminated sessions destroyed`);

    // Refilled to min; no terminated session is still in the pool; the server agrees with the pool.
    await eventually(() => pool.stats().total >= MIN, "the pool refills to minConnections");
    await eventually(async () => {
      const onServer = await sessionPids(observer, applicationName);
      return onServer.length === pool.stats().total && onServer.every((pid) => !terminated.has(pid));
    }, "server sessions are exactly the pool's live connections");

    assert.ok(pool.stats().created >= MIN + terminated.size, `${pool.stats().created} created: the dead ones were replaced`);

    // Later queries all succeed, on live sessions only.
    const seen = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      pool.use(async (sql) => {
        const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
        assert.equal(row.pid, backendPid(sql), "the session is the one the pool opened");
        return row.pid;
      }, { agentId: `after-${i}` })
    ));
    for (const pid of seen) assert.ok(!terminated.has(pid), `a terminated session (${pid}) was handed out`);
    console.log(
      `terminate: ${terminated.size} terminated, ${ok} ok / ${errors.length} failed requests, ` +
        `fatalErrors ${stats.fatalErrors}, validationFailures ${stats.validationFailures}, created ${stats.created}`,
    );
  } finally {
    await pool.close();
    await observer.end({ timeout: 1 });
  }
});

test("an idle connection terminated on the server is never handed out: isBroken evicts it, the next borrow gets a live one", async () => {
  const applicationName = uniqueName("terminate_idle");
  const observer = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(databaseUrl(), { applicationName, onnotice: () => {} }),
    minConnections: 1,
    maxConnections: 1,
    overflow: 0,
    // Never validate on borrow: only isBroken (the driver's onclose) can catch the dead session.
    validateAfterIdleMs: 3_600_000,
  });
  try {
    const first = await pool.use((sql) => backendPid(sql)!, { agentId: "a" });
    await observer`select pg_terminate_backend(${first})`;
    await eventually(async () => !(await sessionPids(observer, applicationName)).includes(first), "the session is gone");
    await sleep(50); // the client sees the close
    const second = await pool.use(async (sql) => (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0].pid, { agentId: "a" });
    assert.notEqual(second, first);
    const stats = pool.stats();
    assert.equal(stats.created, 2);
    assert.equal(stats.destroyed, 1);
  } finally {
    await pool.close();
    await observer.end({ timeout: 1 });
  }
});

test("postgres factory: isFatal classifies connection failures, not query errors", () => {
  const factory = postgresFactory(databaseUrl());
  const err = (code: string, extra: object = {}) => Object.assign(new Error(code), { code, ...extra });
  for (const code of ["57P01", "57P02", "57P03", "08006", "08001", "08P01", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "ECONNRESET", "EPIPE", "ECONNREFUSED"]) {
    assert.equal(factory.isFatal!(err(code)), true, code);
  }
  for (const code of ["23505", "42P01", "57014", "40001", "40P01", "22012", "ACQUIRE_TIMEOUT"]) {
    assert.equal(factory.isFatal!(err(code)), false, code);
  }
  assert.equal(factory.isFatal!(new Error("no code")), false);
  assert.equal(factory.isFatal!(undefined), false);
  assert.equal(factory.isFatal!("57P01"), false);
  // Wrapped errors count through `cause`; a connect failure through its driver code.
  assert.equal(factory.isFatal!(new Error("wrapped", { cause: err("57P01") })), true);
  assert.equal(factory.isFatal!(err("CONNECTION_FAILED", { driverCode: "ECONNREFUSED" })), true);
});
