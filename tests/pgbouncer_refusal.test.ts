/**
 * PgBouncer refusing a client at a capacity limit is not the database being down (issue 15):
 * `no more connections allowed (max_client_conn)` and `query_wait_timeout` become
 * `PoolerCapacityError` (code `POOLER_CAPACITY`), both drivers' factories retry a refused connect
 * for a second, and the pool keeps its connections, its health and its trust in them.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import { ConnectionPoolExhaustedError } from "../src/core/errors.ts";
import { DatabaseConnectionError, PoolerCapacityError } from "../src/postgres/errors.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { isCapacityRefusal, poolerLimitOf } from "../src/postgres/pooler_refusal.ts";
import { pgFactory } from "../src/pg/factory.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { dropBouncerRole, type PgBouncer, startPgBouncer } from "./support/pgbouncer.ts";
import { requireTool } from "./support/tools.ts";

const MAX_CLIENTS = 3;

it("poolerLimitOf: PgBouncer's capacity refusals, not its 'server is failing' answers", () => {
  const pgb = (message: string): Error => Object.assign(new Error(message), { code: "08P01" });
  assert.equal(poolerLimitOf(pgb("no more connections allowed (max_client_conn)")), "max_client_conn");
  assert.equal(poolerLimitOf(pgb("query_wait_timeout")), "query_wait_timeout");
  assert.equal(poolerLimitOf(pgb("server login has been failing, try again later (server_login_retry)")), undefined);
  assert.equal(poolerLimitOf(pgb("client_login_timeout (server down)")), undefined);
  assert.equal(poolerLimitOf(Object.assign(new Error("no more connections allowed (max_client_conn)"), { code: "53300" })), undefined);
  assert.equal(poolerLimitOf(undefined), undefined);
});

it("PostgreSQL's own limit (53300, a role's CONNECTION LIMIT) is a capacity refusal to both factories", async () => {
  const role = uniqueName("limited");
  const admin = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  const password = `pw_${uniqueName("p")}`;
  await admin.unsafe(`create role ${role} login connection limit 1 password '${password}'`);
  const url = new URL(databaseUrl());
  url.username = role;
  url.password = password;
  const factories = [postgresFactory(url.href), pgFactory({ connectionString: url.href })] as const;
  try {
    for (const factory of factories) {
      const first = await factory.create(AbortSignal.timeout(10_000));
      try {
        const error = await factory.create(AbortSignal.timeout(10_000)).then(() => undefined, (e: unknown) => e);
        assert.ok(error instanceof DatabaseConnectionError, `got ${String(error)}`);
        assert.equal(error.driverCode, "53300", error.message);
        assert.equal(factory.atCapacity?.(error), true);
      } finally {
        await (factory.destroy as (c: unknown) => Promise<void>)(first);
      }
    }
    assert.equal(isCapacityRefusal(new Error("connection refused")), false);
  } finally {
    await admin.unsafe(`drop role if exists ${role}`).catch(() => {});
    await admin.end();
  }
});

requireTool("pgbouncer").describe("PgBouncer at a capacity limit", () => {
  const role = uniqueName("refusal");
  const password = `pw_${uniqueName("p")}`;
  let admin: postgres.Sql;
  let bouncer: PgBouncer;

  before(async () => {
    admin = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
    await admin.unsafe(`create role ${role} login password '${password}'`);
    bouncer = await startPgBouncer({
      upstreamUrl: databaseUrl(),
      user: role,
      password,
      poolSize: 1,
      maxClientConnections: MAX_CLIENTS,
      settings: { query_wait_timeout: 1 },
    });
  });

  after(() => dropBouncerRole(admin, { bouncer, role, schemas: [] }));

  it("max_client_conn: a capacity error, the pool stays healthy and keeps (and trusts) its connections", async () => {
    const pool = new AsyncConnectionPool({
      factory: postgresFactory(bouncer.url, { prepare: false }),
      minConnections: 0,
      maxConnections: MAX_CLIENTS + 2,
      overflow: 0,
      acquireTimeoutMs: 300, // below the factory's retry window (REFUSAL_RETRY_MS, 1 s)
      createTimeoutMs: 5000,
    });
    const changes: string[] = [];
    pool.addEventListener("statechange", (e) => changes.push((e as CustomEvent<{ to: string }>).detail.to));
    const createErrors: unknown[] = [];
    pool.addEventListener("createerror", (e) => createErrors.push((e as CustomEvent<{ error: unknown }>).detail.error));
    try {
      // PgBouncer's every client slot, held by this pool.
      const held = await Promise.all(Array.from({ length: MAX_CLIENTS }, (_, i) => pool.acquire({ agentId: `a${i}` })));
      const ids = held.map((h) => h.id).sort();
      // One more: refused by PgBouncer, retried inside the create for a second; meanwhile the
      // waiter times out on the pool, not on "the database is unavailable".
      const waited = await pool.acquire({ agentId: "late" }).then(() => undefined, (e: unknown) => e);
      assert.ok(waited instanceof ConnectionPoolExhaustedError, `got ${String(waited)}`);
      assert.equal(waited.code, "ACQUIRE_TIMEOUT", waited.message);
      assert.equal(pool.health, "healthy", "a refused connect is no create failure while the create is retrying it");
      assert.equal(pool.stats().createErrors, 0);
      // Past the retry window the refusal is the create's error, classified (factory.atCapacity):
      // no connection is suspected or checked, nothing is evicted.
      const late = pool.acquire({ agentId: "late", timeoutMs: 5000 }).catch((e: unknown) => e as Error);
      while (createErrors.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      const [error] = createErrors;
      assert.ok(error instanceof PoolerCapacityError, `create failed with ${String(error)}`);
      assert.ok(error instanceof DatabaseConnectionError);
      assert.equal(error.code, "POOLER_CAPACITY");
      assert.equal(error.limit, "max_client_conn");
      assert.equal(error.driverCode, "08P01");
      assert.match(error.message, /max_client_conn.*capacity limit.*not down/);
      assert.ok(!error.message.includes(password), "no password in the message");
      // While refusals go on, an acquire that times out says what happened: a limit, not an outage.
      const refused = await pool.acquire({ agentId: "late-2", timeoutMs: 200 }).then(() => undefined, (e: unknown) => e);
      assert.ok(refused instanceof ConnectionPoolExhaustedError, `got ${String(refused)}`);
      assert.equal(refused.code, "DATABASE_AT_CAPACITY", refused.message);
      assert.ok(refused.cause instanceof PoolerCapacityError);
      assert.doesNotMatch(refused.message, /unreachable|unavailable/);
      for (const h of held) await h.release();
      // The waiting acquire got one of the freed connections.
      const lateHandle = await late;
      assert.ok(!(lateHandle instanceof Error), `the waiting acquire failed: ${String(lateHandle)}`);
      await (lateHandle as { release(): Promise<void> }).release();
      const again = await Promise.all(Array.from({ length: MAX_CLIENTS }, (_, i) => pool.acquire({ agentId: `b${i}`, timeoutMs: 5000 })));
      assert.deepEqual(again.map((h) => h.id).sort(), ids, "the same connections serve again");
      for (const h of again) await h.release();
      const stats = pool.stats();
      assert.equal(stats.destroyed, 0, "no connection was closed");
      assert.equal(stats.validationFailures, 0);
      assert.equal(stats.fatalErrors, 0);
      assert.ok(!changes.includes("down"), `health changes: ${changes.join(", ")}`);
    } finally {
      await pool.close();
    }
  });

  it("max_client_conn through the pg driver: the same PoolerCapacityError", async () => {
    const factory = pgFactory({ connectionString: bouncer.url });
    const held = await Promise.all(Array.from({ length: MAX_CLIENTS }, () => factory.create(AbortSignal.timeout(10_000))));
    try {
      const error = await factory.create(AbortSignal.timeout(10_000)).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof PoolerCapacityError, `create failed with ${String(error)}`);
      assert.equal(error.code, "POOLER_CAPACITY");
      assert.equal(error.limit, "max_client_conn");
      assert.equal(factory.atCapacity?.(error), true, "the pool is told it is a limit, not an outage");
    } finally {
      for (const client of held) await factory.destroy(client);
    }
  });
});
