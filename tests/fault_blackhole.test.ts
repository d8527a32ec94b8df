/**
 * Fault test: the network black-holes traffic (a TCP proxy that accepts and never answers, and
 * stops forwarding on open connections). Validation and acquisition time out cleanly, dead
 * connections are evicted, nothing hangs past its deadline; forwarding again recovers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AsyncConnectionPool, ConnectionPoolExhaustedError, PoolError } from "../mod.ts";
import type { HealthChange } from "../src/core/health.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { describe, eventually, sleep, within } from "./support/faults.ts";
import { startTcpProxy } from "./support/tcp_proxy.ts";

const ACQUIRE_TIMEOUT_MS = 1_500;
const VALIDATION_TIMEOUT_MS = 250;
/** Slack on top of a deadline before a settle counts as a hang (timers, event loop, a busy machine). */
const SLACK_MS = 1_500;

function targetOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || "127.0.0.1", port: Number(parsed.port || 5432) };
}

test("black-holed network: validation and acquire time out cleanly, dead connections are evicted, forwarding again recovers", async () => {
  const proxy = await startTcpProxy(targetOf(databaseUrl()));
  const applicationName = uniqueName("blackhole");
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(proxy.urlFor(databaseUrl()), { applicationName, onnotice: () => {} }),
    minConnections: 3,
    maxConnections: 5,
    overflow: 0,
    acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
    validateAfterIdleMs: 100,
    validationTimeoutMs: VALIDATION_TIMEOUT_MS,
    createTimeoutMs: 400,
  });
  const changes: HealthChange[] = [];
  pool.addEventListener("statechange", (e) => changes.push((e as CustomEvent<HealthChange>).detail));
  try {
    await eventually(() => pool.stats().total >= 3, "the pool fills to minConnections");
    await Promise.all(Array.from({ length: 10 }, (_, i) => pool.use((sql) => sql`select 1`, { agentId: `warm-${i}` })));
    const opened = pool.stats().total;
    await sleep(200); // idle longer than validateAfterIdleMs: the next borrow validates

    proxy.setMode("blackhole");
    const before = pool.stats();
    // Ten agents ask at once: each gets a clean rejection before its deadline, none hangs.
    const results = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const started = performance.now();
      try {
        await within(pool.acquire({ agentId: `agent-${i}` }), ACQUIRE_TIMEOUT_MS + SLACK_MS, `acquire of agent-${i}`);
        return { error: undefined as unknown, ms: performance.now() - started };
      } catch (error) {
        return { error, ms: performance.now() - started };
      }
    }));
    for (const { error, ms } of results) {
      assert.ok(error instanceof ConnectionPoolExhaustedError, `a pool rejection, got ${describe(error)}`);
      assert.ok(error.reason === "unavailable" || error.reason === "timeout", error.message);
      assert.ok(ms < ACQUIRE_TIMEOUT_MS + SLACK_MS, `rejected after ${ms.toFixed(0)} ms`);
    }
    const unavailable = results.map((r) => r.error as ConnectionPoolExhaustedError).filter((e) => e.reason === "unavailable");
    assert.ok(unavailable.length > 0, `waiters learn that the database is unreachable: ${describe(results[0].error)}`);
    for (const error of unavailable) {
      assert.equal(error.code, "DATABASE_UNAVAILABLE");
      assert.ok(error.cause instanceof PoolError, `cause: ${describe(error.cause)}`);
      assert.equal((error.cause as PoolError).code, "CREATE_TIMEOUT", "the create that never got an answer timed out");
    }

    // The idle connections were validated, did not answer in time, and were evicted.
    const during = pool.stats();
    assert.ok(during.validationFailures - before.validationFailures >= 1, `validation failures: ${during.validationFailures}`);
    await eventually(() => pool.stats().total === 0, `every black-holed connection is evicted (of ${opened})`, 5_000);
    assert.ok(pool.stats().createErrors > 0, "creates through the black hole failed (timed out)");
    assert.ok(pool.health === "down", `health is ${pool.health}`);
    assert.equal(pool.stats().used, 0);

    // Forwarding again: the prober gets through, the pool refills and serves.
    proxy.setMode("forward");
    const [row] = await within(
      pool.use((sql) => sql<{ one: number }[]>`select 1 as one`, { agentId: "after", timeoutMs: 5_000 }),
      5_000 + SLACK_MS,
      "the first acquire after the network came back",
    );
    assert.equal(row.one, 1);
    await eventually(() => pool.stats().total >= 3 && pool.health === "healthy", "refilled to min and healthy", 5_000);
    assert.deepEqual(
      changes.map((c) => c.to).filter((to, i, all) => to !== all[i - 1]).slice(-1),
      ["healthy"],
      JSON.stringify(changes.map((c) => c.to)),
    );
    assert.ok(changes.some((c) => c.to === "down"), JSON.stringify(changes.map((c) => c.to)));
    const stats = pool.stats();
    assert.equal(stats.used, 0);
    assert.equal(stats.acquired, stats.released);
  } finally {
    await within(pool.close(), 5_000, "pool.close()");
    await proxy.close();
  }
});

test("black-holed network: a validation that never answers fails within validationTimeoutMs and the waiter gets a fresh connection", async () => {
  const proxy = await startTcpProxy(targetOf(databaseUrl()));
  const applicationName = uniqueName("blackhole_validate");
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(proxy.urlFor(databaseUrl()), { applicationName, onnotice: () => {} }),
    minConnections: 1,
    maxConnections: 2,
    overflow: 0,
    acquireTimeoutMs: 3_000,
    validateAfterIdleMs: 50,
    validationTimeoutMs: VALIDATION_TIMEOUT_MS,
  });
  try {
    await pool.use((sql) => sql`select 1`, { agentId: "a" });
    await sleep(100);
    // Only the open connection is swallowed; new connections forward again at once.
    proxy.setMode("blackhole");
    proxy.setMode("forward");
    const started = performance.now();
    const [row] = await within(
      pool.use((sql) => sql<{ one: number }[]>`select 1 as one`, { agentId: "a" }),
      3_000 + SLACK_MS,
      "acquire behind a dead validation",
    );
    const ms = performance.now() - started;
    assert.equal(row.one, 1);
    const stats = pool.stats();
    assert.equal(stats.validationFailures, 1, "the black-holed connection failed its validation");
    assert.equal(stats.created, 2, "and was replaced");
    assert.ok(ms < 3_000, `served after ${ms.toFixed(0)} ms (validation bound ${VALIDATION_TIMEOUT_MS} ms)`);
  } finally {
    await within(pool.close(), 5_000, "pool.close()");
    await proxy.close();
  }
});

test("black-holed network: close() does not hang on creates in flight or dead connections", async () => {
  const proxy = await startTcpProxy(targetOf(databaseUrl()));
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(proxy.urlFor(databaseUrl()), {
      applicationName: uniqueName("blackhole_close"),
      onnotice: () => {},
      endTimeoutMs: 500,
    }),
    minConnections: 2,
    maxConnections: 4,
    overflow: 0,
    acquireTimeoutMs: 10_000,
  });
  try {
    await eventually(() => pool.stats().total >= 2, "the pool fills to minConnections");
    proxy.setMode("blackhole");
    const a = await pool.acquire({ agentId: "x" });
    const b = await pool.acquire({ agentId: "y" });
    const waiting = pool.acquire({ agentId: "w" }).catch((e) => e);
    const hanging = a.connection`select 1`.catch((e) => e); // never answered
    void b;
    await sleep(100);
    assert.ok(pool.stats().creating >= 1, "a create is stuck in the black hole");
    await within(pool.close(), 3_000, "pool.close() with a create in flight");
    const error = await within(waiting, 1_000, "the waiter");
    assert.equal((error as PoolError).code, "POOL_CLOSED");
    // Held connections are the holders' to return: they close on release, bounded by endTimeoutMs
    // (the socket is destroyed when the running query does not finish in time).
    await within(a.release(new Error("gave up")), 500 + SLACK_MS, "release of a black-holed connection");
    await within(b.release(), 500 + SLACK_MS, "release of an idle black-holed connection");
    assert.ok(describe(await within(hanging, 1_000, "the dead query")).length > 0, "the dead query settled");
  } finally {
    await proxy.close();
  }
});
