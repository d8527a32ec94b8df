/**
 * Beyond one machine: three processes, each with its own pool, through one PgBouncer in
 * transaction mode (Debian `pgbouncer`, run as user `postgres`) with postgres.js `prepare: false`.
 *
 * - every transaction of every agent in every process commits;
 * - the upstream server never sees more sessions than PgBouncer's pool size, while the three
 *   pools together hold far more client connections (that is the point of PgBouncer);
 * - agents tag their transactions (`set_config('application_name', ..., true)`), so an observer on
 *   the upstream server sees agents of all three processes in `pg_stat_activity`;
 * - the pool-wide `applicationName` follows each client through PgBouncer to whatever server
 *   connection runs its transaction.
 *
 * PgBouncer logs in upstream as a throwaway role, so counting that role's sessions counts exactly
 * PgBouncer's server connections, even on a shared server.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import { PooledDatabaseAdapter } from "../src/postgres/adapter.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";
import { dropBouncerRole, type PgBouncer, startPgBouncer } from "./support/pgbouncer.ts";
import { requireTool } from "./support/tools.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PROCESSES = 3;
const AGENTS = 8;
const TRANSACTIONS = 25;
const POOL_SIZE = 4;

interface WorkerResult {
  proc: string;
  committed: number;
  stats: { total: number; acquired?: number };
}

/** Run one worker process with `node --import tsx` (the real node, whichever runtime runs this test). */
function runWorker(env: Record<string, string>): Promise<WorkerResult> {
  const node = process.versions.bun || "Deno" in globalThis ? "node" : process.execPath;
  return new Promise((resolve, reject) => {
    const child = spawn(node, ["--import", "tsx", join(ROOT, "tests", "support", "pgbouncer_worker.ts")], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => void (out += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => void (err += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`worker ${env.PROC} exited with ${code ?? signal}:\n${err}\n${out}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "") as WorkerResult);
      } catch {
        reject(new Error(`worker ${env.PROC} printed no result:\n${out}\n${err}`));
      }
    });
  });
}

requireTool("pgbouncer").describe("PgBouncer (transaction mode): several pools in several processes", () => {
  const role = uniqueName("bouncer");
  const password = `pw_${uniqueName("p")}`;
  const schema = role; // owned by the role
  let admin: postgres.Sql;
  let bouncer: PgBouncer | undefined;

  before(async () => {
    admin = postgres(databaseUrl(), { max: 2, onnotice: () => {} });
    await admin.unsafe(`create role ${role} login password '${password}'`);
    await admin.unsafe(`create schema ${schema} authorization ${role}`);
    await admin.unsafe(`grant connect on database ${admin.options.database} to ${role}`);
    await admin.unsafe(`create table ${schema}.events (id bigserial primary key, proc text, agent text, n int)`);
    await admin.unsafe(`create table ${schema}.counter (id int primary key, n int not null)`);
    await admin.unsafe(`insert into ${schema}.counter values (1, 0)`);
    await admin.unsafe(`alter table ${schema}.events owner to ${role}`);
    await admin.unsafe(`alter table ${schema}.counter owner to ${role}`);
    bouncer = await startPgBouncer({ upstreamUrl: databaseUrl(), user: role, password, poolSize: POOL_SIZE });
  });

  after(() => dropBouncerRole(admin, { bouncer, role, schemas: [schema] }));

  it("3 processes × 8 agents × 25 transactions all commit; server sessions stay ≤ PgBouncer's pool size; agents show in pg_stat_activity", async () => {
    assert.ok(bouncer !== undefined);
    const seenNames = new Set<string>();
    let maxSessions = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const rows = await admin<{ application_name: string }[]>`
          select application_name from pg_stat_activity where usename = ${role}`;
        maxSessions = Math.max(maxSessions, rows.length);
        for (const row of rows) seenNames.add(row.application_name);
        samples++;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    let results: WorkerResult[];
    try {
      results = await Promise.all(
        Array.from({ length: PROCESSES }, (_, i) =>
          runWorker({
            BOUNCER_URL: bouncer!.url,
            SCHEMA: schema,
            PROC: `p${i}`,
            AGENTS: String(AGENTS),
            TRANSACTIONS: String(TRANSACTIONS),
            HOLD_MS: "40",
          })),
      );
    } finally {
      sampling = false;
      await sampler;
    }

    const perProcess = AGENTS * TRANSACTIONS;
    assert.deepEqual(results.map((r) => r.committed), Array(PROCESSES).fill(perProcess));
    const [{ count }] = await admin<{ count: number }[]>`select count(*)::int as count from ${admin(schema)}.events`;
    assert.equal(count, PROCESSES * perProcess);
    const [{ n }] = await admin<{ n: number }[]>`select n from ${admin(schema)}.counter where id = 1`;
    assert.equal(n, PROCESSES * perProcess, "every increment on the contended row survived");

    // Each pool kept several client connections open to PgBouncer; together well above the pool size.
    const clientConnections = results.reduce((sum, r) => sum + r.stats.total, 0);
    assert.ok(clientConnections > POOL_SIZE, `clients ${clientConnections} should exceed PgBouncer's pool size`);
    assert.ok(samples > 5, `sampled pg_stat_activity ${samples} times`);
    assert.ok(maxSessions >= 1 && maxSessions <= POOL_SIZE, `server sessions peaked at ${maxSessions}, pool size ${POOL_SIZE}`);

    // Agents of every process were seen on the server, tagged per transaction.
    const agentTags = [...seenNames].filter((name) => /^agentpool:p\d:agent-\d+$/.test(name));
    for (let i = 0; i < PROCESSES; i++) {
      assert.ok(
        agentTags.some((name) => name.startsWith(`agentpool:p${i}:`)),
        `no agent of process p${i} seen; names seen: ${[...seenNames].join(", ")}`,
      );
    }
  });

  it("the pool's applicationName follows each client to whichever server connection runs it", async () => {
    assert.ok(bouncer !== undefined);
    const pools = ["alpha", "beta"].map((name) =>
      new AsyncConnectionPool({
        factory: postgresFactory(bouncer!.url, { prepare: false, applicationName: `agentpool:${name}` }),
        minConnections: 0,
        maxConnections: 2,
      })
    );
    try {
      for (let round = 0; round < 3; round++) {
        for (const [i, pool] of pools.entries()) {
          const [row] = await pool.use(
            (sql) => sql<{ name: string }[]>`select application_name as name from pg_stat_activity where pid = pg_backend_pid()`,
            { agentId: `a${i}` },
          );
          assert.equal(row.name, `agentpool:${i === 0 ? "alpha" : "beta"}`);
        }
      }
      // A transaction-local tag ends with the transaction: the next statement shows the pool's name again.
      const tagged = await pools[0].use(async (sql) => {
        const [inside] = await sql.begin(async (tx) => {
          await tx`select set_config('application_name', 'agentpool:alpha:planner-1', true)`;
          return await tx<{ name: string }[]>`select application_name as name from pg_stat_activity where pid = pg_backend_pid()`;
        });
        const [afterwards] = await sql<{ name: string }[]>`select current_setting('application_name') as name`;
        return [inside.name, afterwards.name];
      }, { agentId: "planner-1" });
      assert.deepEqual(tagged, ["agentpool:alpha:planner-1", "agentpool:alpha"]);
    } finally {
      await Promise.all(pools.map((pool) => pool.close()));
    }
  });

  it("an AbortSignal cancels only its own agent's query through PgBouncer (protocol-level cancel)", async () => {
    assert.ok(bouncer !== undefined);
    const pool = new AsyncConnectionPool({
      factory: postgresFactory(bouncer!.url, { prepare: false, applicationName: "agentpool:cancel" }),
      minConnections: 0,
      maxConnections: 4,
    });
    const db = new PooledDatabaseAdapter(pool);
    try {
      const started = performance.now();
      const neighbour = db.transaction(async (tx) => {
        const [row] = await tx<{ ok: number }[]>`select 1 as ok from pg_sleep(0.6)`;
        return row.ok;
      }, { agentId: "neighbour" });
      const runaway = db.transaction(async (tx) => {
        await tx`select pg_sleep(30)`;
      }, {
        agentId: "runaway",
        signal: AbortSignal.timeout(300),
      });
      await assert.rejects(runaway, (error: unknown) => {
        assert.equal((error as Error).name, "TimeoutError", String(error));
        return true;
      });
      assert.ok(performance.now() - started < 5000, "the runaway query was cancelled, not waited out");
      assert.equal(await neighbour, 1, "the other agent's query on the same PgBouncer was not cancelled");
      // Not asserted: that the server stops the runaway statement. The call rejects at once and the
      // adapter discards the session while postgres.js's cancel request is still on its way; when
      // PgBouncer sees the client leave first, it drops the cancel and the backend runs the
      // statement to its end (seen on Bun; see docs/deployment.md). statement_timeout bounds it.
    } finally {
      await pool.close();
    }
  });
});
