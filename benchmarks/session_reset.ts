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
 * - `adapter.query`, `adapter.transaction` (tagged with the agent) and the same untagged
 *   (`tagTransactions: false`): what the per-transaction `application_name` costs.
 *
 * The cases run in turn, batch by batch (15 batches of 200 leases each); reported: the median
 * microseconds per lease (wall clock, round trip included) and the median per-batch ratio to the
 * clean lease run just before it (drift on a shared machine cancels out of the ratio).
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx benchmarks/session_reset.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { AsyncConnectionPool, type ConnectionFactory, PooledDatabaseAdapter, postgresFactory, type Sql } from "../mod.ts";

const BATCHES = 15;
const LEASES = 200;

type Lease = (pool: AsyncConnectionPool<Sql>, db: PooledDatabaseAdapter, i: number) => Promise<unknown>;

const CASES: Record<string, { reset: boolean; untagged?: boolean; lease: Lease }> = {
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
  "adapter.transaction-untagged": {
    reset: true,
    untagged: true,
    lease: (_pool, db, i) => db.transaction((tx) => tx`select 1`, { agentId: `agent-${i % 8}` }),
  },
};

interface Opened {
  pool: AsyncConnectionPool<Sql>;
  db: PooledDatabaseAdapter;
  lease: Lease;
  batches: number[];
}

async function open(name: string, url: string): Promise<Opened> {
  const { reset, untagged, lease } = CASES[name];
  const full = postgresFactory(url, { onnotice: () => {} });
  let factory: ConnectionFactory<Sql> = full;
  if (!reset) {
    const { reset: _reset, ...withoutReset } = full;
    factory = withoutReset;
  }
  const pool = new AsyncConnectionPool<Sql>({ factory, minConnections: 1, maxConnections: 1 });
  const db = new PooledDatabaseAdapter(pool, { tagTransactions: !untagged });
  for (let i = 0; i < LEASES; i++) await lease(pool, db, i); // warm-up
  return { pool, db, lease, batches: [] };
}

const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

/** The cases run batch by batch in turn (A, B, C, A, B, C, …), so the machine's drift hits all alike. */
async function run(names: string[], url: string): Promise<void> {
  const opened = new Map<string, Opened>();
  for (const name of names) opened.set(name, await open(name, url));
  try {
    for (let b = 0; b < BATCHES; b++) {
      for (const { pool, db, lease, batches } of opened.values()) {
        const start = performance.now();
        for (let i = 0; i < LEASES; i++) await lease(pool, db, i);
        batches.push(((performance.now() - start) * 1000) / LEASES);
      }
    }
  } finally {
    for (const { pool } of opened.values()) await pool.close();
  }
  const base = opened.get("clean")?.batches;
  for (const [name, { batches }] of opened) {
    // Per-batch ratio to the clean lease measured right before it: the drift cancels out.
    const ratio = base === undefined ? NaN : median(batches.map((v, i) => v / base[i]));
    console.log(JSON.stringify({ suite: "session-reset", case: name, usPerLease: Number(median(batches).toFixed(1)), vsClean: Number(ratio.toFixed(3)) }));
  }
}

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const only = process.argv.slice(2);
await run(Object.keys(CASES).filter((name) => only.length === 0 || only.includes(name)), url);
