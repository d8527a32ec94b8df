/**
 * The pools compared on a real PostgreSQL, each running one short transaction per call:
 *
 * - explicit `begin` / `select 1` / `commit`, each awaited (3 round trips) on a leased connection:
 *   agentpool (`pool.use`), agentpool without the factory's reset, the minimal pool over the same
 *   postgres.js `max: 1` connections, postgres.js `sql.reserve()`, pg-pool + pg;
 * - the libraries' own transaction helpers, with the same callback `(tx) => tx\`select 1\``:
 *   postgres.js `sql.begin()` and agentpool's `PooledDatabaseAdapter.transaction()`.
 *
 * `tx(agent, acquired)` calls `acquired()` the moment the caller holds a connection (for the helpers:
 * when the callback starts), so the suite can time acquires.
 *
 * @module
 */

// @ts-ignore: pg ships no types and @types/pg is not a devDependency (Deno resolves it untyped); PgPool below is the part used.
import pgModule from "pg";
import postgres from "postgres";
import { AsyncConnectionPool, type ConnectionFactory } from "../../mod.ts";
import { agentApplicationName, beginWithApplicationName } from "../../src/session/application_name.ts";
import { MinimalPool } from "./minimal_pool.ts";
import { driverFactory, importIfPresent, type Sql } from "./pg_factory.ts";

export const TX_PEERS = [
  "agentpool",
  "agentpool-noreset",
  "adapter",
  "adapter-untagged",
  "minimal",
  "postgres.js-begin",
  "postgres.js-reserve",
  "pg-pool",
  "pg-pool-tagged",
  "agentpool/pg",
] as const;
export type TxPeerName = typeof TX_PEERS[number];

/** A pool under test, ready to run transactions. */
export interface TxPeer {
  readonly name: TxPeerName;
  readonly config: string;
  agent(agentId: string): unknown;
  /** One `begin; select 1; commit`; `acquired()` is called once a connection is held. */
  tx(agent: unknown, acquired: () => void): Promise<void>;
  close(): Promise<void>;
}

/** `skipped` explains why a peer cannot run here (e.g. its module has not landed yet). */
export type OpenedTxPeer = TxPeer | { skipped: string };

interface PgClient {
  query(text: string): Promise<unknown>;
  release(): void;
}
interface PgPool {
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}
const pg = pgModule as { Pool: new (options: { connectionString: string; max: number }) => PgPool };

const NOTICE = { onnotice: (): void => {} };

/** Three awaited statements on one postgres.js connection. */
async function threeStatements(sql: Sql): Promise<void> {
  await sql`begin`;
  await sql`select 1`;
  await sql`commit`;
}

async function agentpool(name: TxPeerName, url: string, connections: number): Promise<OpenedTxPeer> {
  const driver = await driverFactory(url);
  let factory: ConnectionFactory<Sql> = driver.factory;
  if (name === "agentpool-noreset") {
    if (factory.reset === undefined) return { skipped: `the driver factory (${driver.source}) has no reset: same as agentpool` };
    const { reset: _reset, ...withoutReset } = factory;
    factory = withoutReset;
  }
  const pool = new AsyncConnectionPool<Sql>({ factory, minConnections: connections, maxConnections: connections, overflow: 0 });
  while (pool.stats().idle < connections) await new Promise((resolve) => setTimeout(resolve, 5));
  const config = `${driver.source}${name === "agentpool-noreset" ? " minus reset()" : ""}; pool.use(); ${connections} connections`;
  if (name !== "adapter" && name !== "adapter-untagged") {
    return {
      name,
      config,
      agent: (agentId) => ({ agentId }),
      tx: (agent, acquired) =>
        pool.use((sql) => {
          acquired();
          return threeStatements(sql);
        }, agent as { agentId: string }),
      close: () => pool.close(),
    };
  }
  type Adapter = {
    transaction(fn: (tx: (strings: TemplateStringsArray) => unknown) => unknown, options: { agentId: string }): Promise<unknown>;
  };
  const mod = await importIfPresent<{
    PooledDatabaseAdapter: new (pool: AsyncConnectionPool<Sql>, options?: { tagTransactions?: boolean }) => Adapter;
  }>("src/postgres/adapter.ts");
  if (mod?.PooledDatabaseAdapter === undefined) {
    await pool.close();
    return { skipped: "src/postgres/adapter.ts (PooledDatabaseAdapter) has not landed" };
  }
  // adapter-untagged: the same adapter with the agent tag off, so the server does what it does
  // for pg-pool (the tag's SET LOCAL is a statement of its own on the server).
  const tagTransactions = name === "adapter";
  const adapter = new mod.PooledDatabaseAdapter(pool, { tagTransactions });
  return {
    name,
    config: `${driver.source}; adapter.transaction((tx) => tx\`select 1\`)${tagTransactions ? "" : ", tagTransactions: false"}; ${connections} connections`,
    agent: (agentId) => ({ agentId }),
    tx: (agent, acquired) =>
      adapter.transaction((tx) => {
        acquired();
        return tx`select 1`;
      }, agent as { agentId: string }) as Promise<void>,
    close: () => pool.close(),
  };
}

async function minimal(url: string, connections: number): Promise<TxPeer> {
  const driver = await driverFactory(url);
  const conns = await Promise.all(Array.from({ length: connections }, () => driver.factory.create(new AbortController().signal)));
  const pool = new MinimalPool(conns);
  return {
    name: "minimal",
    config: `${driver.source} connections, no reset; ${connections} connections`,
    agent: () => undefined,
    async tx(_agent, acquired) {
      const sql = await pool.acquire();
      acquired();
      try {
        await threeStatements(sql);
      } finally {
        pool.release(sql);
      }
    },
    close: async () => void (await Promise.all(conns.map((sql) => driver.factory.destroy(sql)))),
  };
}

async function postgresJs(name: TxPeerName, url: string, connections: number): Promise<TxPeer> {
  const sql = postgres(url, { max: connections, idle_timeout: 0, max_lifetime: null, ...NOTICE });
  // Open all connections up front (postgres.js opens them lazily).
  const reserved = await Promise.all(Array.from({ length: connections }, () => sql.reserve()));
  for (const r of reserved) r.release();
  const close = (): Promise<void> => sql.end({ timeout: 1 });
  if (name === "postgres.js-begin") {
    return {
      name,
      config: `postgres({ max: ${connections} }); sql.begin((tx) => tx\`select 1\`)`,
      agent: () => undefined,
      tx: (_agent, acquired) =>
        sql.begin((tx) => {
          acquired();
          return tx`select 1`;
        }) as Promise<unknown> as Promise<void>,
      close,
    };
  }
  return {
    name,
    config: `postgres({ max: ${connections} }); sql.reserve()`,
    agent: () => undefined,
    async tx(_agent, acquired) {
      const r = await sql.reserve();
      acquired();
      try {
        await threeStatements(r);
      } finally {
        r.release();
      }
    },
    close,
  };
}

/**
 * One `begin; select 1; commit` on a client checked out of a pg-shaped pool; `begin` may carry the
 * agent's tag, as the adapter's does (`pg-pool-tagged`: the same server work as agentpool's default).
 */
async function pgTransaction(pool: PgPool, acquired: () => void, begin = "begin"): Promise<void> {
  const client = await pool.connect();
  acquired();
  try {
    await client.query(begin);
    await client.query("select 1");
    await client.query("commit");
  } finally {
    client.release();
  }
}

async function pgPool(name: "pg-pool" | "pg-pool-tagged", url: string, connections: number): Promise<TxPeer> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
  for (const client of clients) client.release();
  const tagged = name === "pg-pool-tagged";
  // The adapter's tag is "<the session's application_name>:<agent>"; the same here.
  const base = new URL(url).searchParams.get("application_name") ?? "agentpool";
  return {
    name,
    config: `pg.Pool({ max: ${connections} }); client.query() x3${tagged ? ", BEGIN with the adapter's SET LOCAL application_name" : ""}`,
    agent: (agentId) => tagged ? beginWithApplicationName("begin", agentApplicationName(base, agentId as string)) : "begin",
    tx: (begin, acquired) => pgTransaction(pool, acquired, begin as string),
    close: () => pool.end(),
  };
}

/** agentpool's pg-compatible Pool, driven exactly as pg-pool is above. */
async function agentpoolPg(url: string, connections: number): Promise<OpenedTxPeer> {
  const mod = await importIfPresent<{ Pool: new (config: Record<string, unknown>) => PgPool & { idleCount: number; forAgent(id: string): PgPool } }>("src/pg/mod.ts");
  if (mod?.Pool === undefined) return { skipped: "src/pg/mod.ts has not landed" };
  const pool = new mod.Pool({ connectionString: url, max: connections, min: connections });
  while (pool.idleCount < connections) await new Promise((resolve) => setTimeout(resolve, 5));
  return {
    name: "agentpool/pg",
    config: `agentpool/pg Pool({ max: ${connections} }).forAgent(agent); client.query() x3`,
    agent: (agentId) => pool.forAgent(agentId),
    tx: (agent, acquired) => pgTransaction(agent as PgPool, acquired),
    close: () => pool.end(),
  };
}

/** Opens `name` against `url` with `connections` connections, all open before it returns. */
export function openTxPeer(name: TxPeerName, url: string, connections: number): Promise<OpenedTxPeer> {
  switch (name) {
    case "agentpool":
    case "agentpool-noreset":
    case "adapter":
    case "adapter-untagged":
      return agentpool(name, url, connections);
    case "minimal":
      return minimal(url, connections);
    case "postgres.js-begin":
    case "postgres.js-reserve":
      return postgresJs(name, url, connections);
    case "pg-pool":
    case "pg-pool-tagged":
      return pgPool(name, url, connections);
    case "agentpool/pg":
      return agentpoolPg(url, connections);
  }
}
