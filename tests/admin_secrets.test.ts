/**
 * No response of the admin router ever carries a password, a connection string's credentials or
 * query parameters: checked over every route, with a stub pool whose factory, errors and agent
 * ids carry secrets, and with a real postgres.js pool built from a URL with a password.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Hono } from "hono";
import { AsyncConnectionPool, createMetrics } from "../mod.ts";
import { adminRouter } from "../src/admin/mod.ts";
import { createPostgresPool } from "../src/postgres/create_pool.ts";
import { databaseUrl } from "./support/db.ts";

const TOKEN = "admin-token-for-secret-test";
const PASSWORD = "Sup3r-Secret-pa55word";
const URL_WITH_PASSWORD = `postgres://app:${PASSWORD}@db.internal:5432/main?sslmode=require`;

/** Every route's body (and header values), as the router would send them, with and without the token. */
async function everyResponse(app: Hono, agentIds: string[]): Promise<string[]> {
  const out: string[] = [];
  const paths = ["/pool", "/pool/", "/pool/assets/dashboard.js", "/pool/assets/dashboard.css", "/pool/stats", "/pool/agents", "/pool/connections", "/pool/snapshot", "/pool/metrics", "/pool/health", "/pool/missing"];
  for (const auth of [undefined, `Bearer ${TOKEN}`, "Bearer wrong"]) {
    const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
    for (const path of paths) {
      const r = await app.request(path, { headers });
      out.push(`${path} ${r.status} ${[...r.headers].map(([k, v]) => `${k}: ${v}`).join("; ")}\n${await r.text()}`);
    }
    for (const agentId of agentIds) {
      for (const action of ["revoke", "readmit"]) {
        const r = await app.request(`/pool/agents/${encodeURIComponent(agentId)}/${action}`, { method: "POST", headers });
        out.push(`${action} ${r.status}\n${await r.text()}`);
      }
    }
  }
  return out;
}

function assertClean(bodies: string[], secrets: string[]): void {
  for (const body of bodies) {
    for (const secret of secrets) assert.ok(!body.includes(secret), `a response contains ${JSON.stringify(secret)}:\n${body.slice(0, 400)}`);
  }
}

test("secrets: failing creates whose errors quote the URL and password never leak through any route", async () => {
  const factory = {
    url: URL_WITH_PASSWORD,
    options: { password: PASSWORD },
    create: () => Promise.reject(new Error(`connect to ${URL_WITH_PASSWORD} failed (host=db.internal password=${PASSWORD} user=app)`)),
    destroy: () => {},
  };
  const pool = new AsyncConnectionPool({ factory, minConnections: 1, metrics: createMetrics() });
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN }));
    while (pool.stats().createErrors === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const health = await app.request("/pool/health", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(health.status, 503);
    const body = (await health.json()) as { lastError: string };
    assert.match(body.lastError, /postgres:\/\/app:\*\*\*@db\.internal/, "the error is shown, redacted");
    assertClean(await everyResponse(app, ["planner-1"]), [PASSWORD, `app:${PASSWORD}`]);
  } finally {
    await pool.close();
  }
});

test("secrets: agent ids and pool names that embed credentials are redacted everywhere", async () => {
  const leakyAgent = `worker@${URL_WITH_PASSWORD}`;
  const pool = new AsyncConnectionPool({
    factory: { create: () => Promise.resolve({ dsn: URL_WITH_PASSWORD }), destroy: () => {} },
    minConnections: 1,
    metrics: createMetrics(),
    name: `pool password=${PASSWORD}`,
  });
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN, publicReads: true }));
    const held = await pool.acquire({ agentId: leakyAgent });
    const bodies = await everyResponse(app, []);
    await held.release();
    assertClean(bodies, [PASSWORD]);
    const agents = (await (await app.request("/pool/agents")).json()) as { agents: { agentId: string }[] };
    assert.match(agents.agents[0].agentId, /^worker@postgres:\/\/app:\*\*\*@db\.internal/);
  } finally {
    await pool.close();
  }
});

test("secrets: a real postgres.js pool from a URL with a password, running parameterised queries", async () => {
  const url = new URL(databaseUrl());
  // The machine's PostgreSQL 15 trusts local users (any password works); the embedded one has its own.
  if (url.password === "") url.password = PASSWORD;
  const password = decodeURIComponent(url.password);
  const parameter = "param-value-that-must-not-leak-4711";
  const pool = createPostgresPool(url.href, { minConnections: 1, maxConnections: 2, metrics: createMetrics(), name: "real" });
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN }));
    const rows = await pool.use((sql) => sql<{ v: string }[]>`select ${parameter}::text as v`, { agentId: "planner-1" });
    assert.equal(rows[0].v, parameter);
    const held = await pool.acquire({ agentId: "critic-2" });
    const running = held.connection`select pg_sleep(0.05), ${parameter}::text`;
    const bodies = await everyResponse(app, []);
    await running;
    await held.release();
    const secrets = [url.href, `${url.username}:${url.password}@`, `:${password}@`, parameter];
    if (password.length >= 12) secrets.push(password); // a short default password ("postgres") also names things
    assertClean(bodies, secrets);
    const stats = (await (await app.request("/pool/stats", { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { acquired: number };
    assert.ok(stats.acquired >= 2);
  } finally {
    await pool.close();
  }
});
