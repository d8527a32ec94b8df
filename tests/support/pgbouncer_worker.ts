/**
 * One "instance" of an agent orchestrator for tests/pgbouncer_multiprocess.test.ts: its own pool
 * (through PgBouncer, `prepare: false`), several agents running transactions concurrently, each
 * transaction tagged with its agent via `set_config('application_name', ..., true)` (transaction
 * local, so PgBouncer's next client on that server connection gets its own name back).
 *
 * Run: `node --import tsx tests/support/pgbouncer_worker.ts` with env
 * BOUNCER_URL, SCHEMA, PROC (instance name), AGENTS, TRANSACTIONS (per agent), HOLD_MS.
 * Prints one JSON line `{ proc, committed, stats }` and exits 0, or prints the error and exits 1.
 *
 * @module
 */
import process from "node:process";
import { AsyncConnectionPool } from "../../src/core/pool.ts";
import { PooledDatabaseAdapter } from "../../src/postgres/adapter.ts";
import { postgresFactory } from "../../src/postgres/factory.ts";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`pgbouncer_worker: ${name} is not set`);
  return value;
}

const url = env("BOUNCER_URL");
const schema = env("SCHEMA");
const proc = env("PROC");
const agents = Number(env("AGENTS"));
const transactions = Number(env("TRANSACTIONS"));
const holdMs = Number(env("HOLD_MS"));

const pool = new AsyncConnectionPool({
  // prepare: false — PgBouncer in transaction mode hands each transaction a different server
  // connection, so named prepared statements would not exist there (26000).
  factory: postgresFactory(url, { prepare: false, applicationName: `agentpool:${proc}` }),
  minConnections: 2,
  maxConnections: 6,
  overflow: 2,
  acquireTimeoutMs: 60_000,
  maxPerAgent: 1,
});
const db = new PooledDatabaseAdapter(pool);

let committed = 0;
async function agent(agentId: string): Promise<void> {
  for (let n = 0; n < transactions; n++) {
    await db.transaction(async (tx) => {
      await tx`select set_config('application_name', ${`agentpool:${proc}:${agentId}`}, true)`;
      await tx`insert into ${tx(schema)}.events (proc, agent, n) values (${proc}, ${agentId}, ${n})`;
      await tx`update ${tx(schema)}.counter set n = n + 1 where id = 1`;
      // Hold the transaction a little so an observer can see the agent in pg_stat_activity.
      if (holdMs > 0 && n % 5 === 0) await tx`select pg_sleep(${holdMs / 1000})`;
    }, { agentId });
    committed++;
  }
}

let code = 0;
try {
  await Promise.all(Array.from({ length: agents }, (_, i) => agent(`agent-${i}`)));
  const stats = pool.stats();
  console.log(JSON.stringify({ proc, committed, stats }));
} catch (error) {
  console.error(`pgbouncer_worker ${proc} failed:`, error);
  code = 1;
} finally {
  await pool.close();
}
process.exit(code);
