/**
 * The admin router through `app.request()` (no port): routes, mounting, auth, revoke/readmit,
 * health, option validation, security headers, and Hono's typed client over the router's type.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Hono } from "hono";
import { hc } from "hono/client";
import { AsyncConnectionPool, createMetrics, type PoolStats } from "../mod.ts";
import { type AdminApp, type AdminPool, adminRouter, redactSecrets } from "../src/admin/mod.ts";

const TOKEN = "s3cret-admin-token";

function stubPool(options: { name?: string; minConnections?: number; maxConnections?: number } = {}): AsyncConnectionPool<{ id: number }> {
  let next = 0;
  return new AsyncConnectionPool({
    factory: { create: () => Promise.resolve({ id: next++ }), destroy: () => {} },
    minConnections: options.minConnections ?? 1,
    maxConnections: options.maxConnections ?? 4,
    overflow: 1,
    metrics: createMetrics(),
    name: options.name ?? "test-pool",
  });
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

const bearer = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });

/** A response's JSON, loosely typed: the tests check its shape field by field. */
// deno-lint-ignore no-explicit-any
async function body(response: Response | Promise<Response>): Promise<any> {
  return await (await response).json();
}

test("admin: redactSecrets hides URL passwords and password/secret settings", () => {
  assert.equal(redactSecrets("postgres://app:s3cret@db:5432/main"), "postgres://app:***@db:5432/main");
  assert.equal(redactSecrets("postgresql://app:p@ss/w0rd@db/main"), "postgresql://app:***@db/main");
  assert.equal(redactSecrets("host=db password=hunter2 user=app"), "host=db password=*** user=app");
  assert.equal(redactSecrets('PGPASSWORD="x y z" psql'), "PGPASSWORD=*** psql");
  assert.equal(redactSecrets("https://h/cb?token=abc&x=1"), "https://h/cb?token=***&x=1");
  assert.equal(redactSecrets("postgres://app@db/main"), "postgres://app@db/main");
  assert.equal(redactSecrets("agent planner-1 timed out"), "agent planner-1 timed out");
});

test("admin: options are validated, naming the option", async () => {
  const pool = stubPool({ minConnections: 0 });
  try {
    assert.throws(() => adminRouter(pool), { name: "TypeError", message: /neither 'token' nor 'publicReads: true'/ });
    assert.throws(() => adminRouter(pool, { token: "" }), { name: "TypeError", message: /'token'/ });
    assert.throws(() => adminRouter(pool, { token: "has space" }), { name: "TypeError", message: /'token'.*\*\*\*/ });
    assert.throws(() => adminRouter(pool, { token: "tök" }), { name: "TypeError", message: /'token'.*\*\*\*/ }, "a token a Bearer header cannot carry");
    assert.throws(() => adminRouter(pool, { publicReads: "yes" as unknown as boolean }), { name: "TypeError", message: /'publicReads'/ });
    assert.throws(() => adminRouter(pool, { publicReads: true, refreshMs: 10 }), { name: "RangeError", message: /'refreshMs'.*10/ });
    assert.throws(() => adminRouter(pool, { publicReads: true, maxAgentRows: 0 }), { name: "RangeError", message: /'maxAgentRows'/ });
    assert.throws(() => adminRouter(pool, { publicReads: true, historySize: 1.5 }), RangeError);
  } finally {
    await pool.close();
  }
});

test("admin: JSON read routes, Prometheus metrics and health, mounted under /pool", async () => {
  const pool = stubPool();
  try {
    const app = new Hono();
    app.route("/pool", adminRouter(pool, { publicReads: true, refreshMs: 500 }));
    app.get("/pool/custom", (c) => c.text("parent route still reachable"));
    await until(() => pool.stats().idle === 1);
    const held = await pool.acquire({ agentId: "planner-1" });
    try {
      const stats = await body(app.request("/pool/stats"));
      assert.equal(stats.name, "test-pool");
      assert.equal(stats.used, 1);
      assert.equal(typeof stats.latency.wait.p99, "number");

      const agents = await body(app.request("/pool/agents"));
      assert.deepEqual(agents.agents.map((a: { agentId: string; held: number }) => [a.agentId, a.held]), [["planner-1", 1]]);

      const connections = await body(app.request("/pool/connections"));
      assert.equal(connections.connections.length, pool.stats().total);
      assert.ok(connections.connections.some((c: { agentId: string | null; state: string }) => c.agentId === "planner-1" && c.state === "used"));

      const snapshot = await body(app.request("/pool/snapshot"));
      assert.equal(snapshot.refreshMs, 500);
      assert.equal(snapshot.health.status, "healthy");
      assert.equal(snapshot.agents[0].agentId, "planner-1");
      assert.equal(snapshot.agentCount, 1);
      assert.equal(snapshot.history.length, 1);
      assert.equal(snapshot.wait.counts.length, snapshot.wait.boundsMs.length + 2);
      assert.equal(snapshot.wait.counts.reduce((a: number, b: number) => a + b, 0), 1);

      const metrics = await app.request("/pool/metrics");
      assert.equal(metrics.status, 200);
      assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const text = await metrics.text();
      assert.match(text, /^db_client_connection_count\{state="used",pool_name="test-pool"\} 1$/m);
      assert.match(text, /^agentpool_agent_acquires_total\{pool_name="test-pool",agent="planner-1"\} 1$/m);

      const health = await app.request("/pool/health");
      assert.equal(health.status, 200);
      assert.deepEqual(await body(health), { status: "healthy", ok: true, total: pool.stats().total, used: 1, idle: pool.stats().idle, pending: 0 });

      for (const path of ["/pool/stats", "/pool/metrics"]) {
        const r = await app.request(path);
        assert.equal(r.headers.get("cache-control"), "no-store");
        assert.equal(r.headers.get("x-content-type-options"), "nosniff");
        await r.body?.cancel();
      }
      assert.equal(await (await app.request("/pool/custom")).text(), "parent route still reachable");
      assert.equal((await app.request("/pool/nope")).status, 404);
    } finally {
      await held.release();
    }
  } finally {
    await pool.close();
  }
});

test("admin: the dashboard shell and its assets are self-contained; /pool/ redirects to /pool", async () => {
  const pool = stubPool({ minConnections: 0 });
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN, title: "Ops <pool>" }));
    const page = await app.request("/pool");
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    assert.equal(page.headers.get("strict-transport-security"), null, "HSTS is the host app's decision, not a sub-router's");
    const html = await page.text();
    assert.ok(html.includes(`src="./pool/assets/dashboard.js"`), "links the script under the router");
    assert.ok(html.includes(`href="./pool/assets/dashboard.css"`));
    assert.ok(html.includes("Ops &#60;pool&#62;"), "title is HTML-escaped");
    assert.doesNotMatch(html, /https?:\/\//, "no external URL (no CDN)");
    assert.doesNotMatch(html, /<script>[^<]/, "no inline script");

    for (const path of ["/pool/", "/pool/stats/"]) {
      const slash = await app.request(`http://host${path}`);
      assert.equal(slash.status, 301, path);
      assert.equal(slash.headers.get("location"), `http://host${path.slice(0, -1)}`);
    }

    const js = await app.request("/pool/assets/dashboard.js");
    assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(js.headers.get("cache-control"), "no-cache");
    const script = await js.text();
    assert.match(script, /snapshot/);
    assert.doesNotMatch(script, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, "no external URL besides the SVG namespace");
    assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, "pool strings never go through HTML parsing");
    const css = await app.request("/pool/assets/dashboard.css");
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    assert.doesNotMatch(await css.text(), /@import|url\(http/);
  } finally {
    await pool.close();
  }
});

test("admin: with a token, reads and writes need it; wrong or missing tokens get 401", async () => {
  const pool = stubPool({ minConnections: 0 });
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN }));
    for (const path of ["/pool/stats", "/pool/agents", "/pool/connections", "/pool/snapshot", "/pool/metrics", "/pool/health"]) {
      const missing = await app.request(path);
      assert.equal(missing.status, 401, path);
      assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="agentpool"');
      assert.equal((await body(missing)).error, "unauthorized");
      const wrong = await app.request(path, bearer(`${TOKEN}x`));
      assert.equal(wrong.status, 401, path);
      assert.match((await body(wrong)).message, /Invalid bearer token/);
      const basic = await app.request(path, { headers: { authorization: `Basic ${TOKEN}` } });
      assert.equal(basic.status, 401);
      assert.match((await body(basic)).message, /Missing bearer token/);
      const ok = await app.request(path, bearer(TOKEN));
      assert.equal(ok.status, 200, path);
      await ok.body?.cancel();
    }
    const lowercase = await app.request("/pool/stats", { headers: { authorization: `bearer ${TOKEN}` } });
    assert.equal(lowercase.status, 200, "the scheme is case-insensitive");
    await lowercase.body?.cancel();
    // The shell and assets carry no pool data, so the page can load and ask for the token.
    assert.equal((await app.request("/pool")).status, 200);
    assert.equal((await app.request("/pool/assets/dashboard.js")).status, 200);
    assert.equal((await app.request("/pool/agents/a/revoke", { method: "POST" })).status, 401);
    assert.equal((await app.request("/pool/agents/a/revoke", { method: "POST", ...bearer("nope") })).status, 401);
  } finally {
    await pool.close();
  }
});

test("admin: publicReads without a token keeps every mutating route closed (401)", async () => {
  const pool = stubPool({ minConnections: 0 });
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { publicReads: true }));
    assert.equal((await app.request("/pool/stats")).status, 200);
    for (const action of ["revoke", "readmit"]) {
      const r = await app.request(`/pool/agents/a/${action}`, { method: "POST", ...bearer("anything") });
      assert.equal(r.status, 401);
      assert.match((await body(r)).message, /no 'token' option/);
    }
    assert.equal(pool.agents().length, 0, "nothing was revoked");
  } finally {
    await pool.close();
  }
});

test("admin: POST revoke takes an agent's connections back; readmit lets it in again", async () => {
  const pool = stubPool();
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN, publicReads: true }));
    const held = await pool.acquire({ agentId: "runaway/7" });
    const revoked = await app.request(`/pool/agents/${encodeURIComponent("runaway/7")}/revoke`, { method: "POST", ...bearer(TOKEN) });
    assert.equal(revoked.status, 200);
    assert.deepEqual(await body(revoked), { agentId: "runaway/7", revoked: true });
    assert.equal(held.released || pool.stats().used === 0, true);
    const agents = (await body(app.request("/pool/agents"))).agents;
    assert.equal(agents.find((a: { agentId: string }) => a.agentId === "runaway/7").revoked, true);
    await assert.rejects(pool.acquire({ agentId: "runaway/7" }), { code: "AGENT_REVOKED" });

    const readmitted = await app.request(`/pool/agents/${encodeURIComponent("runaway/7")}/readmit`, { method: "POST", ...bearer(TOKEN) });
    assert.deepEqual(await body(readmitted), { agentId: "runaway/7", revoked: false });
    await (await pool.acquire({ agentId: "runaway/7" })).release();
  } finally {
    await pool.close();
  }
});

/** A hand-made pool without revoke/readmit: what older or custom pools look like. */
function minimalPool(stats: Partial<PoolStats>): AdminPool & EventTarget {
  const target = new EventTarget();
  const base = { total: 0, idle: 0, used: 0, pending: 0, created: 0, closed: false, health: "healthy" } as PoolStats;
  return Object.assign(target, {
    options: { name: "minimal" },
    closed: stats.closed ?? false,
    stats: () => ({ ...base, ...stats }),
    agents: () => [],
    connections: () => [],
  });
}

test("admin: revoke on a pool without revoke() answers 501 with a JSON error", async () => {
  const app = new Hono().route("/pool", adminRouter(minimalPool({}), { token: TOKEN }));
  for (const action of ["revoke", "readmit"]) {
    const r = await app.request(`/pool/agents/a/${action}`, { method: "POST", ...bearer(TOKEN) });
    assert.equal(r.status, 501);
    assert.deepEqual(Object.keys(await body(r)).sort(), ["error", "message"]);
  }
});

test("admin: health is 503 when the pool is closed, and when creates fail with nothing open", async () => {
  const pool = stubPool();
  const app = new Hono().route("/pool", adminRouter(pool, { publicReads: true }));
  await pool.close();
  const closed = await app.request("/pool/health");
  assert.equal(closed.status, 503);
  assert.equal((await body(closed)).status, "closed");

  const failing = new AsyncConnectionPool({
    factory: { create: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1")), destroy: () => {} },
    minConnections: 1,
  });
  try {
    const down = new Hono().route("/pool", adminRouter(failing, { publicReads: true }));
    await until(() => failing.stats().createErrors > 0);
    const r = await down.request("/pool/health");
    assert.equal(r.status, 503);
    const report = await body(r);
    assert.equal(report.status, "down");
    assert.equal(report.ok, false);
    assert.match(report.lastError, /ECONNREFUSED/);
    assert.ok(report.failures >= 1);
  } finally {
    await failing.close();
  }
});

test("admin: health is the pool's stats().health, with the last createerror while not healthy", async () => {
  const reported: { health: PoolStats["health"] } = { health: "healthy" };
  const pool = minimalPool(reported);
  const app = new Hono().route("/pool", adminRouter(pool, { publicReads: true }));
  assert.equal((await app.request("/pool/health")).status, 200);
  pool.dispatchEvent(new CustomEvent("createerror", { detail: { error: new Error("no route to host"), failures: 3 } }));
  assert.deepEqual(await body(await app.request("/pool/health")), { status: "healthy", ok: true, total: 0, used: 0, idle: 0, pending: 0 }, "the pool's verdict, not one derived here");
  reported.health = "down";
  const down = await app.request("/pool/health");
  assert.equal(down.status, 503);
  assert.deepEqual(await body(down), { status: "down", ok: false, total: 0, used: 0, idle: 0, pending: 0, failures: 3, lastError: "Error: no route to host" });
  const closedApp = new Hono().route("/pool", adminRouter(minimalPool({ closed: true }), { publicReads: true }));
  assert.equal((await closedApp.request("/pool/health")).status, 503);
});

test("admin: hc<AdminApp> calls the routes with their paths, params and JSON types", async () => {
  const pool = stubPool();
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN }));
    const client = hc<AdminApp>("http://host/pool", {
      headers: { authorization: `Bearer ${TOKEN}` },
      fetch: (input: Request | string | URL, init?: RequestInit) => app.request(input, init),
    });
    await until(() => pool.stats().idle === 1);
    const stats = await (await client.stats.$get()).json();
    const used: number = stats.used; // typed from the route: a number, not any
    assert.equal(used, 0);
    assert.equal(stats.name, "test-pool");
    const health = await client.health.$get();
    assert.equal(health.status, 200);
    const report = await health.json();
    const status: "healthy" | "degraded" | "down" | "closed" = report.status;
    assert.equal(status, "healthy");
    const snapshot = await (await client.snapshot.$get()).json();
    assert.equal(snapshot.agentCount, 0);
    const revoked = await client.agents[":agentId"].revoke.$post({ param: { agentId: "planner-1" } });
    assert.equal(revoked.status, 200);
    if (revoked.status === 200) assert.deepEqual(await revoked.json(), { agentId: "planner-1", revoked: true });
    // @ts-expect-error: the router has no such route, so the typed client has no such property
    void (() => client.nope);
  } finally {
    await pool.close();
  }
});
