/**
 * A Cloudflare Worker for tests/workerd_edge.test.ts, bundled with esbuild and run by `workerd`
 * (the Workers runtime) on this machine: the pool core and the admin router inside workerd.
 *
 * - `/stub/...`: a pool with a stub factory in module scope, living across requests (an isolate
 *   keeps module state between requests): `POST /stub/hold/:agent` acquires and keeps a connection,
 *   `POST /stub/release/:agent` gives it back, `/stub/pool/*` is the admin router over that pool.
 * - `GET /pg`: a pool of real postgres.js connections over `cloudflare:sockets` to `DATABASE_URL`,
 *   created for this request and closed before it ends (Workers forbid using one request's socket
 *   from another request, so a cross-request pool of TCP connections is not possible there).
 *   Three agents hold a connection each while the admin router reports them, then all release.
 * - `GET /pg-shared`: the counter-example, a module-scope pool of real connections shared by
 *   requests: the second request fails ("Cannot perform I/O on behalf of a different request").
 *
 * @module
 */
import { Hono } from "hono";
import { AsyncConnectionPool } from "../../src/core/pool.ts";
import type { PooledConnection } from "../../src/core/handle.ts";
import { adminRouter } from "../../src/admin/mod.ts";
import { postgresFactory } from "../../src/postgres/factory.ts";
import type { Sql } from "../../src/postgres/connection_state.ts";

interface Env {
  DATABASE_URL: string;
}

interface StubConnection {
  id: number;
}

let created = 0;
let stubPool: AsyncConnectionPool<StubConnection> | undefined;
let stubAdmin: Hono | undefined;
const held = new Map<string, PooledConnection<StubConnection>>();

function stub(): { pool: AsyncConnectionPool<StubConnection>; admin: Hono } {
  if (stubPool === undefined || stubAdmin === undefined) {
    stubPool = new AsyncConnectionPool<StubConnection>({
      factory: { create: () => Promise.resolve({ id: ++created }), destroy: () => {} },
      name: "edge-stub",
      minConnections: 0,
      maxConnections: 4,
      acquireTimeoutMs: 1000,
    });
    stubAdmin = adminRouter(stubPool, { publicReads: true });
  }
  return { pool: stubPool, admin: stubAdmin };
}

const app = new Hono<{ Bindings: Env }>();

app.post("/stub/hold/:agent", async (c) => {
  const agentId = c.req.param("agent");
  const conn = await stub().pool.acquire({ agentId });
  held.set(agentId, conn);
  return c.json({ agentId, connectionId: conn.id });
});

app.post("/stub/release/:agent", async (c) => {
  const conn = held.get(c.req.param("agent"));
  if (conn === undefined) return c.json({ error: "not held" }, 404);
  held.delete(c.req.param("agent"));
  await conn.release();
  return c.json({ released: conn.id });
});

app.all("/stub/pool/*", (c) => {
  // Strip the mount prefix and hand the request to the admin router.
  const url = new URL(c.req.url);
  url.pathname = url.pathname.slice("/stub/pool".length) || "/";
  return stub().admin.fetch(new Request(url, c.req.raw));
});

app.get("/pg", async (c) => {
  const pool = new AsyncConnectionPool({
    factory: postgresFactory(c.env.DATABASE_URL, { applicationName: "agentpool-workerd", onnotice: () => {} }),
    name: "edge-pg",
    minConnections: 0,
    maxConnections: 3,
    acquireTimeoutMs: 10_000,
  });
  const admin = adminRouter(pool, { publicReads: true });
  try {
    const agents = ["planner-1", "critic-2", "coder-3"];
    const leases = await Promise.all(agents.map((agentId) => pool.acquire({ agentId })));
    const rows = await Promise.all(
      leases.map((lease) =>
        lease.connection<{ pid: number; app: string; version: string }[]>`
          select pg_backend_pid() as pid, current_setting('application_name') as app,
                 current_setting('server_version_num') as version`
      ),
    );
    // The live tables while all three agents hold a connection.
    const stats = await (await admin.request("/stats")).json();
    const agentTable = await (await admin.request("/agents")).json();
    const connections = await (await admin.request("/connections")).json();
    await Promise.all(leases.map((lease) => lease.release()));
    const afterRelease = await (await admin.request("/stats")).json();
    return c.json({
      rows: rows.map(([row]) => row),
      stats,
      agents: agentTable,
      connections,
      afterRelease,
    });
  } finally {
    await pool.close();
  }
});

// What does NOT work on Workers: one pool of TCP connections shared by requests. A socket opened
// while serving one request cannot be used while serving another; the pool sees the failure,
// discards that connection and opens a new one for the next request.
let sharedPg: AsyncConnectionPool<Sql> | undefined;
app.get("/pg-shared", async (c) => {
  sharedPg ??= new AsyncConnectionPool({
    factory: postgresFactory(c.env.DATABASE_URL, { applicationName: "agentpool-workerd-shared", onnotice: () => {} }),
    minConnections: 0,
    maxConnections: 1,
    acquireTimeoutMs: 5000,
  });
  try {
    const [row] = await sharedPg.use((sql) => sql<{ pid: number }[]>`select pg_backend_pid() as pid`, { agentId: "shared" });
    return c.json({ ok: true, pid: row.pid });
  } catch (error) {
    return c.json({ ok: false, error: String(error) });
  }
});

export default app;
