/**
 * The pg.Pool-compatible facade against a real PostgreSQL: pg's surface (connect in both forms,
 * query forms, release(err), counts, events, end) and the agentpool underneath (agents, views).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import pg from "pg";
import { Pool, PoolClient, withAgent } from "../src/pg/mod.ts";
import { adminRouter } from "../src/admin/mod.ts";
import { createMetrics } from "../mod.ts";
import { renderMonitor } from "../src/cli/monitor_view.ts";
import type { PoolSnapshot } from "../src/admin/snapshot.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

function newPool(config: Record<string, unknown> = {}): Pool {
  return new Pool({ connectionString: databaseUrl(), application_name: uniqueName("pgpool"), ...config });
}

test("query forms return exactly what pg returns: text + values, rowMode array, custom types, named statements", async () => {
  const pool = newPool({ max: 2 });
  const direct = new pg.Client({ connectionString: databaseUrl() });
  await direct.connect();
  try {
    const text = "select $1::int as n, $2::jsonb as j, now()::date as d, '\\x0102'::bytea as b";
    const values = [7, { a: [1, "x"] }];
    const ours = await pool.query(text, values);
    const theirs = await direct.query(text, values);
    assert.deepEqual(ours.rows, theirs.rows);
    assert.deepEqual(ours.fields.map((f) => [f.name, f.dataTypeID]), theirs.fields.map((f) => [f.name, f.dataTypeID]));
    assert.equal(ours.rowCount, 1);
    assert.equal(ours.command, "SELECT");
    assert.ok(ours.rows[0].b instanceof Uint8Array);

    const client = await pool.connect();
    try {
      assert.ok(client instanceof PoolClient);
      const arrays = await client.query({ text: "select 1 as a, 'x' as b", rowMode: "array" });
      assert.deepEqual(arrays.rows, [[1, "x"]]);
      const types = { getTypeParser: () => (value: string) => `parsed:${value}` };
      const typed = await client.query({ text: "select 42 as n", types } as pg.QueryConfig);
      assert.deepEqual(typed.rows, [{ n: "parsed:42" }]);
      const named1 = await client.query({ name: uniqueName("stmt"), text: "select $1::text as t", values: ["a"] });
      assert.deepEqual(named1.rows, [{ t: "a" }]);
      const viaCallback = await new Promise<pg.QueryResult>((resolve, reject) =>
        client.query("select 2 as two", (error: Error, result: pg.QueryResult) => (error ? reject(error) : resolve(result)))
      );
      assert.deepEqual(viaCallback.rows, [{ two: 2 }]);
    } finally {
      client.release();
    }
  } finally {
    await direct.end();
    await pool.end();
  }
});

test("errors are pg's own: a missing table rejects with code 42P01 (what LangGraph's setup checks)", async () => {
  const pool = newPool({ max: 1 });
  try {
    const error = await pool.query(`select * from ${uniqueName("missing")}`).catch((e: unknown) => e);
    assert.ok(error instanceof pg.DatabaseError, String(error));
    assert.equal((error as pg.DatabaseError).code, "42P01");
    // A query error does not cost the connection (pg-pool would close it).
    assert.equal(pool.stats().destroyed, 0);
    assert.deepEqual((await pool.query("select 1 as one")).rows, [{ one: 1 }]);
  } finally {
    await pool.end();
  }
});

test("connect(callback) and query(callback) forms, as pg-pool calls them", async () => {
  const pool = newPool({ max: 1 });
  try {
    const rows = await new Promise<unknown[]>((resolve, reject) => {
      pool.connect((error, client, done) => {
        if (error || client === undefined) return reject(error);
        client.query("select 3 as three").then((r: pg.QueryResult) => {
          done();
          resolve(r.rows);
        }, reject);
      });
    });
    assert.deepEqual(rows, [{ three: 3 }]);
    const viaPool = await new Promise<pg.QueryResult>((resolve, reject) =>
      pool.query("select $1::int as n", [4], (error: Error, result: pg.QueryResult) => (error ? reject(error) : resolve(result)))
    );
    assert.deepEqual(viaPool.rows, [{ n: 4 }]);
  } finally {
    await pool.end();
  }
});

test("release(err) closes the connection; a second release throws; a released client refuses queries", async () => {
  const pool = newPool({ max: 1 });
  const coreErrors: unknown[] = [];
  pool.addEventListener("error", (event) => coreErrors.push((event as CustomEvent).detail.error.code));
  const pgErrors: unknown[] = [];
  pool.on("error", (error: Error) => pgErrors.push(error));
  try {
    const first = await pool.connect();
    const pid1 = (await first.query("select pg_backend_pid() as pid")).rows[0].pid;
    first.release(new Error("poisoned"));
    assert.throws(() => first.release(), { code: "DOUBLE_RELEASE" });
    assert.throws(() => first.query("select 1"), { code: "USE_AFTER_RELEASE" });
    const second = await pool.connect();
    const pid2 = (await second.query("select pg_backend_pid() as pid")).rows[0].pid;
    assert.notEqual(pid2, pid1, "release(err) must close the session");
    second.release();
    const third = await pool.connect();
    assert.equal((await third.query("select pg_backend_pid() as pid")).rows[0].pid, pid2, "a plain release keeps it");
    third.release(true);
    assert.deepEqual(coreErrors, ["CLOSE_REQUESTED", "CLOSE_REQUESTED"]);
    assert.deepEqual(pgErrors, [], "closing on purpose is not a client error");
  } finally {
    await pool.end();
  }
});

test("events: connect, acquire, release, remove; counts; end() is idempotent and refuses later use", async () => {
  const pool = newPool({ max: 2 });
  const seen: string[] = [];
  pool.on("connect", (client: unknown) => seen.push(`connect:${client instanceof pg.Client}`));
  pool.on("acquire", (client: unknown) => seen.push(`acquire:${client instanceof PoolClient}`));
  pool.on("release", (error: unknown) => seen.push(`release:${error === undefined ? "ok" : "err"}`));
  pool.on("remove", (client: unknown) => seen.push(`remove:${client instanceof pg.Client}`));
  const a = await pool.connect();
  const b = await pool.connect();
  assert.equal(pool.totalCount, 2);
  assert.equal(pool.idleCount, 0);
  const waiting = pool.connect();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(pool.waitingCount, 1);
  a.release();
  const c = await waiting;
  assert.equal(pool.waitingCount, 0);
  b.release(new Error("close it"));
  c.release();
  assert.equal(pool.ending, false);
  const ended = pool.end();
  assert.equal(pool.ending, true);
  assert.equal(pool.end(), ended, "end() twice returns the same promise");
  await ended;
  assert.equal(pool.ended, true);
  await assert.rejects(pool.connect(), { code: "POOL_ENDED" });
  await assert.rejects(pool.query("select 1"), { code: "POOL_ENDED" });
  assert.deepEqual(seen.filter((e) => e.startsWith("connect")), ["connect:true", "connect:true"]);
  assert.equal(seen.filter((e) => e === "acquire:true").length, 3);
  assert.deepEqual(seen.filter((e) => e.startsWith("release")), ["release:ok", "release:err", "release:ok"]);
  assert.deepEqual(seen.filter((e) => e.startsWith("remove")), ["remove:true", "remove:true"]);
});

test("an idle client whose session is terminated emits the pool's 'error' (never crashes); a held client's listener hears its own", async () => {
  const pool = newPool({ max: 2, min: 2 });
  const killer = new pg.Client({ connectionString: databaseUrl() });
  await killer.connect();
  try {
    const held = await pool.connect();
    const heldPid = (await held.query("select pg_backend_pid() as pid")).rows[0].pid;
    const idle = await pool.connect();
    const idlePid = (await idle.query("select pg_backend_pid() as pid")).rows[0].pid;
    idle.release();
    const poolErrors: unknown[] = [];
    pool.on("error", (error: Error, client: unknown) => poolErrors.push([error.message, client instanceof pg.Client]));
    pool.on("error", () => {
      throw new Error("a throwing listener costs only itself");
    });
    const heldErrors: string[] = [];
    held.on("error", (error: Error) => heldErrors.push(error.message));
    await killer.query("select pg_terminate_backend($1)", [idlePid]);
    await killer.query("select pg_terminate_backend($1)", [heldPid]);
    for (let i = 0; i < 100 && (poolErrors.length === 0 || heldErrors.length === 0); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(poolErrors.length, 1);
    assert.equal((poolErrors[0] as unknown[])[1], true);
    assert.equal(heldErrors.length, 1);
    held.release(); // known broken: closed, not reused
    const rows = (await pool.query("select 1 as one")).rows;
    assert.deepEqual(rows, [{ one: 1 }]);
  } finally {
    await killer.end();
    await pool.end();
  }
});

test("withAgent attributes connect() and query() made at any depth; other work goes to the named default agent", async () => {
  const pool = newPool({ max: 3, defaultAgent: "web" });
  try {
    await pool.query("select 1");
    await withAgent("planner-1", async () => {
      await Promise.all([pool.query("select 1"), (async () => {
        const client = await pool.connect();
        assert.equal(client.agentId, "planner-1");
        await client.query("select 1");
        client.release();
      })()]);
    });
    const byAgent = Object.fromEntries(pool.agents().map((a) => [a.agentId, a.acquired]));
    assert.deepEqual(byAgent, { web: 1, "planner-1": 2 });
  } finally {
    await pool.end();
  }
});

test("forAgent(): a pg.Pool-shaped view bound to one agent whose end() leaves the shared pool open", async () => {
  const pool = newPool({ max: 2 });
  try {
    const view = pool.forAgent("critic-2");
    assert.match(view.constructor.name, /Pool/); // what Drizzle checks
    await withAgent("someone-else", () => view.query("select 1"));
    const client = await view.connect();
    assert.equal(client.agentId, "critic-2");
    client.release();
    await view.end();
    await assert.rejects(view.connect(), { code: "POOL_ENDED" });
    assert.equal(pool.ending, false);
    assert.deepEqual((await pool.query("select 1 as one")).rows, [{ one: 1 }]);
    assert.equal(pool.agents().find((a) => a.agentId === "critic-2")?.acquired, 2);
    assert.equal(view.options, pool.options);
  } finally {
    await pool.end();
  }
});

test("it is an agentpool: the admin router serves its stats, agents, connections, metrics and the monitor's snapshot; revoke takes a client back", async () => {
  const pool = newPool({ max: 2, name: "pg-facade", metrics: createMetrics() });
  try {
    const client = await withAgent("runaway-7", () => pool.connect());
    const app = adminRouter(pool, { publicReads: true });
    const stats = await (await app.request("/stats")).json() as { name: string; used: number };
    assert.equal(stats.name, "pg-facade");
    assert.equal(stats.used, 1);
    const agents = await (await app.request("/agents")).json() as { agents: Array<{ agentId: string; held: number }> };
    assert.equal(agents.agents.find((a) => a.agentId === "runaway-7")?.held, 1);
    const connections = await (await app.request("/connections")).json() as { connections: Array<{ agentId: string | null }> };
    assert.equal(connections.connections.filter((c) => c.agentId === "runaway-7").length, 1);
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /runaway-7/);
    const snapshot = await (await app.request("/snapshot")).json() as PoolSnapshot;
    const screen = renderMonitor(snapshot, { url: "http://localhost/pool", color: false, width: 160, rows: Infinity });
    assert.match(screen, /runaway-7/, "agentpool monitor shows the agent");
    await pool.revoke("runaway-7");
    assert.throws(() => client.query("select 1"), { code: "HANDLE_REVOKED" });
    await assert.rejects(withAgent("runaway-7", () => pool.query("select 1")), { code: "AGENT_REVOKED" });
    client.release(); // after a revoke, a release is harmless
  } finally {
    await pool.end();
  }
});

test("maxUses: a client is closed after serving that many leases", async () => {
  const pool = newPool({ max: 1, maxUses: 2 });
  try {
    const pids = [];
    for (let i = 0; i < 4; i++) pids.push((await pool.query("select pg_backend_pid() as pid")).rows[0].pid);
    assert.equal(pids[0], pids[1]);
    assert.notEqual(pids[1], pids[2]);
    assert.equal(pids[2], pids[3]);
  } finally {
    await pool.end();
  }
});

test("allowExitOnIdle: a process whose clients are all idle exits without end()", async () => {
  // Always run by Node (its unref semantics are what pg's option means).
  const node = process.versions.bun || "Deno" in globalThis ? "node" : process.execPath;
  const child = spawn(node, ["--import", "tsx", fileURLToPath(new URL("./support/pg_exit_on_idle.ts", import.meta.url))], {
    env: { ...process.env, DATABASE_URL: databaseUrl() },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  // A guard far above the housekeeping period: a process kept alive by the pool never exits by itself.
  const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
  clearTimeout(guard);
  assert.equal(signal, null, "killed by the guard: the idle pool kept the process alive");
  assert.equal(code, 0);
  assert.equal(output.trim(), '[{"one":1}]');
});

test("connectionTimeoutMillis bounds connect() as in pg, with agentpool's error naming the holders", async () => {
  const pool = newPool({ max: 1, connectionTimeoutMillis: 100 });
  try {
    const holder = await withAgent("slow-agent", () => pool.connect());
    const error = await withAgent("waiting-agent", () => pool.connect()).catch((e: unknown) => e as Error & { code?: string });
    assert.equal((error as { code?: string }).code, "ACQUIRE_TIMEOUT");
    assert.match((error as Error).message, /slow-agent/);
    holder.release();
    const client = await pool.connect();
    client.release();
  } finally {
    await pool.end();
  }
});

test("connect() resolves one promise hop after the grant, idle or handed over by a release (pg-pool: two)", async () => {
  const pool = newPool({ max: 1 });
  const held: PoolClient[] = [];
  try {
    const order: string[] = [];
    const markers = (): void => void Promise.resolve().then(() => order.push("1 hop")).then(() => order.push("2 hops"));
    const caller = (client: PoolClient): PoolClient => (order.push("caller"), held.push(client), client);
    // Idle: the grant is inside connect().
    await (await pool.connect()).release(); // opened
    const first = pool.connect().then(caller);
    markers();
    const holder = await first;
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(order.splice(0), ["caller", "1 hop", "2 hops"], "idle");
    // Handed over: the grant is inside release(); the waiter's code runs before a microtask queued after it.
    const waiting = pool.connect().then(caller);
    await new Promise((resolve) => setTimeout(resolve, 10));
    held.splice(0);
    holder.release();
    markers();
    await waiting;
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(order, ["caller", "1 hop", "2 hops"], "handed over");
  } finally {
    for (const client of held) client.release();
    await pool.end();
  }
});
