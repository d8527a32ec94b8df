/**
 * The admin router served for real on this runtime's own server — Deno.serve, Bun.serve or
 * @hono/node-server — on a free port, then fetched over HTTP. The same app object on all three.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Hono } from "hono";
import { AsyncConnectionPool, createMetrics } from "../mod.ts";
import { adminRouter } from "../src/admin/mod.ts";

type Fetch = (request: Request) => Response | Promise<Response>;
interface Served {
  runtime: string;
  port: number;
  close(): Promise<void>;
}

interface DenoLike {
  serve(options: { port: number; hostname: string; onListen?: () => void }, handler: Fetch): { addr: { port: number }; shutdown(): Promise<void> };
}
interface BunLike {
  serve(options: { port: number; hostname: string; fetch: Fetch }): { port: number; stop(force?: boolean): Promise<void> | void };
}

/** Serves `fetch` on 127.0.0.1 with the current runtime's own server. */
async function serveHere(fetch: Fetch): Promise<Served> {
  const g = globalThis as { Deno?: DenoLike; Bun?: BunLike };
  if (g.Deno !== undefined) {
    const server = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, fetch);
    return { runtime: "deno", port: server.addr.port, close: () => server.shutdown() };
  }
  if (g.Bun !== undefined) {
    const server = g.Bun.serve({ port: 0, hostname: "127.0.0.1", fetch });
    return { runtime: "bun", port: server.port, close: async () => void (await server.stop(true)) };
  }
  const { serve } = await import("@hono/node-server");
  return await new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      resolve({
        runtime: "node",
        port: info.port,
        close: () => new Promise<void>((done, fail) => server.close((error) => (error ? fail(error) : done()))),
      });
    });
  });
}

test("serve: the router answers over real HTTP on this runtime's server", async () => {
  const pool = new AsyncConnectionPool({
    factory: { create: () => Promise.resolve({}), destroy: () => {} },
    minConnections: 1,
    metrics: createMetrics(),
    name: "served",
  });
  const app = new Hono().route("/pool", adminRouter(pool, { token: "serve-token" }));
  const server = await serveHere(app.fetch);
  try {
    const base = `http://127.0.0.1:${server.port}/pool`;
    await pool.use(() => {}, { agentId: `agent-on-${server.runtime}` });

    const stats = await fetch(`${base}/stats`, { headers: { authorization: "Bearer serve-token" } });
    assert.equal(stats.status, 200);
    assert.match(stats.headers.get("content-type") ?? "", /^application\/json/);
    const body = (await stats.json()) as { name: string; acquired: number };
    assert.equal(body.name, "served");
    assert.equal(body.acquired, 1);

    const agents = (await (await fetch(`${base}/agents`, { headers: { authorization: "Bearer serve-token" } })).json()) as { agents: { agentId: string }[] };
    assert.deepEqual(agents.agents.map((a) => a.agentId), [`agent-on-${server.runtime}`]);

    const denied = await fetch(`${base}/stats`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();

    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /assets\/dashboard\.js/);
  } finally {
    await server.close();
    await pool.close();
  }
});
