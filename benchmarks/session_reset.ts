/**
 * What session isolation costs on a real PostgreSQL, one agent after another on a pool of one
 * connection (so every lease follows the previous one on the same session):
 *
 * - `clean`: `pool.use((sql) => sql\`select 1\`)`: nothing to reset;
 * - `settings` / `settings-noreset`: a lease running `set_config(…, false)`, with the reset
 *   (`reset all`, pipelined with the next lease's statement) and with the factory's reset removed
 *   (unsafe: the difference is what the reset costs);
 * - `everything` / `everything-noreset`: a lease running `DO` (the reader assumes it did
 *   everything: the full reset string);
 * - `tag-session`: what tagging work outside transactions would cost: `set_config('application_name',
 *   …, false)` sent with the lease's statement, reset after it;
 * - `adapter.query` and `adapter.transaction` (tagged with the agent) for reference.
 *
 * Medians of 7 batches of 400 leases, microseconds per lease (wall clock: includes the round trip).
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx benchmarks/session_reset.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { AsyncConnectionPool, type ConnectionFactory, PooledDatabaseAdapter, postgresFactory, type Sql } from "../mod.ts";

const BATCHES = 7;
const LEASES = 400;

type Lease = (pool: AsyncConnectionPool<Sql>, db: PooledDatabaseAdapter, i: number) => Promise<unknown>;

const CASES: Record<string, { reset: boolean; lease: Lease }> = {
  "clean": { reset: true, lease: (pool) => pool.use((sql) => sql`select 1`, { agentId: "a" }) },
  "settings": { reset: true, lease: (pool) => pool.use((sql) => sql`select set_config('agentpool.bench', 'x', false)`, { agentId: "a" }) },
  "settings-noreset": { reset: false, lease: (pool) => pool.use((sql) => sql`select set_config('agentpool.bench', 'x', false)`, { agentId: "a" }) },
  "everything": { reset: true, lease: (pool) => pool.use((sql) => sql`do $$ begin end $$`, { agentId: "a" }) },
  "everything-noreset": { reset: false, lease: (pool) => pool.use((sql) => sql`do $$ begin end $$`, { agentId: "a" }) },
  "tag-session": {
    reset: true,
    lease: (pool, _db, i) =>
      pool.use((sql) => {
        sql.unsafe(`select pg_catalog.set_config('application_name', E'agentpool:agent-${i % 8}', false)`).catch(() => {});
        return sql`select 1`;
      }, { agentId: `agent-${i % 8}` }),
  },
  "adapter.query": { reset: true, lease: (_pool, db, i) => db.query((sql) => sql`select 1`, { agentId: `agent-${i % 8}` }) },
  "adapter.transaction": { reset: true, lease: (_pool, db, i) => db.transaction((tx) => tx`select 1`, { agentId: `agent-${i % 8}` }) },
};

async function measure(name: string, url: string): Promise<number> {
  const { reset, lease } = CASES[name];
  const full = postgresFactory(url, { onnotice: () => {} });
  let factory: ConnectionFactory<Sql> = full;
  if (!reset) {
    const { reset: _reset, ...withoutReset } = full;
    factory = withoutReset;
  }
  const pool = new AsyncConnectionPool<Sql>({ factory, minConnections: 1, maxConnections: 1 });
  const db = new PooledDatabaseAdapter(pool);
  try {
    for (let i = 0; i < LEASES; i++) await lease(pool, db, i); // warm-up
    const perLease: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const start = performance.now();
      for (let i = 0; i < LEASES; i++) await lease(pool, db, i);
      perLease.push(((performance.now() - start) * 1000) / LEASES);
    }
    perLease.sort((x, y) => x - y);
    return perLease[Math.floor(BATCHES / 2)];
  } finally {
    await pool.close();
  }
}

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const only = process.argv.slice(2);
for (const name of Object.keys(CASES)) {
  if (only.length > 0 && !only.includes(name)) continue;
  console.log(JSON.stringify({ suite: "session-reset", case: name, usPerLease: Number((await measure(name, url)).toFixed(1)) }));
}
