/**
 * `agentpool monitor`: --once --json and the text view against the admin router (in-process via
 * app.request), auth and reachability errors with their exit codes, the live loop, the dispatcher,
 * and the real `bin/agentpool.mjs` end to end.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { AsyncConnectionPool, createMetrics } from "../mod.ts";
import { adminRouter } from "../src/admin/mod.ts";
import type { PoolSnapshot } from "../src/admin/snapshot.ts";
import { main as cli } from "../src/cli/main.ts";
import { main as monitor, type MonitorIo } from "../src/cli/monitor.ts";
import { formatDuration } from "../src/cli/monitor_view.ts";
import { freePort } from "./support/free_port.ts";

const TOKEN = "monitor-token";
const URL_ = "http://admin.test/pool";

interface FakeIo extends MonitorIo {
  out: string[];
  err: string[];
  stop?: () => void;
}

function fakeIo(fetch: (request: Request) => Promise<Response>, options: { tty?: boolean; env?: Record<string, string> } = {}): FakeIo {
  const io: FakeIo = {
    out: [],
    err: [],
    stdout: { write: (text: string) => void io.out.push(text), isTTY: options.tty ?? false, columns: 140, rows: 40 },
    stderr: { write: (text: string) => void io.err.push(text) },
    env: options.env ?? {},
    fetch,
    onInterrupt: (stop) => {
      io.stop = stop;
      return () => void (io.stop = undefined);
    },
  };
  return io;
}

async function withPool(run: (app: Hono, pool: AsyncConnectionPool<object>) => Promise<void>): Promise<void> {
  const pool = new AsyncConnectionPool<object>({
    factory: { create: () => Promise.resolve({}), destroy: () => {} },
    minConnections: 2,
    maxConnections: 3,
    overflow: 1,
    metrics: createMetrics(),
    name: "monitored",
  });
  try {
    const app = new Hono().route("/pool", adminRouter(pool, { token: TOKEN }));
    await run(app, pool);
  } finally {
    await pool.close();
  }
}

/** Routes the monitor's requests into the app, as if it were served at http://admin.test. */
const into = (app: Hono) => async (request: Request): Promise<Response> => await app.request(request);

test("monitor: --once --json prints one snapshot document", async () => {
  await withPool(async (app, pool) => {
    const held = await pool.acquire({ agentId: "planner-1" });
    const io = fakeIo(into(app));
    assert.equal(await monitor([URL_, "--once", "--json", "--token", TOKEN], io), 0);
    await held.release();
    assert.equal(io.out.length, 1);
    const snapshot = JSON.parse(io.out[0]) as PoolSnapshot;
    assert.equal(snapshot.name, "monitored");
    assert.equal(snapshot.stats.used, 1);
    assert.deepEqual(snapshot.agents.map((a) => [a.agentId, a.held]), [["planner-1", 1]]);
    assert.ok(snapshot.connections.some((c) => c.agentId === "planner-1"));
    assert.deepEqual(io.err, []);
  });
});

test("monitor: --once prints a top-like text view; the token may come from AGENTPOOL_TOKEN", async () => {
  await withPool(async (app, pool) => {
    const a = await pool.acquire({ agentId: "researcher-2" });
    const b = await pool.acquire({ agentId: "researcher-2" });
    const io = fakeIo(into(app), { env: { AGENTPOOL_TOKEN: TOKEN } });
    assert.equal(await monitor([URL_, "--once"], io), 0);
    await Promise.all([a.release(), b.release()]);
    const text = io.out.join("");
    assert.match(text, /^agentpool monitor · monitored · HEALTHY · http:\/\/admin\.test\/pool/);
    assert.match(text, /connections \d\/4 \(max 3 \+ overflow 1\)/);
    assert.match(text, /^AGENT\s+STATE\s+HELD\s+WAIT\s+ACQUIRED/m);
    assert.match(text, /^researcher-2\s+holding\s+2\s+0\s+2\s/m);
    assert.match(text, /^\s+CONN\s+STATE\s+AGENT/m);
    assert.ok(!text.includes("\x1b["), "no ANSI codes when stdout is not a terminal");
  });
});

test("monitor: unauthorised exits 3 with a clear message; a wrong token too", async () => {
  await withPool(async (app) => {
    const none = fakeIo(into(app));
    assert.equal(await monitor([URL_, "--once"], none), 3);
    assert.match(none.err.join(""), /unauthorised \(HTTP 401\).*pass --token or set AGENTPOOL_TOKEN/);
    const wrong = fakeIo(into(app));
    assert.equal(await monitor([URL_, "--once", "--token", "nope"], wrong), 3);
    assert.match(wrong.err.join(""), /the token was not accepted/);
    assert.doesNotMatch(wrong.err.join(""), /nope/, "the token is never echoed");
  });
});

test("monitor: a URL that is not an admin router exits 2", async () => {
  const io = fakeIo(() => Promise.resolve(new Response("<html>hello</html>", { headers: { "content-type": "text/html" } })));
  assert.equal(await monitor(["http://example.test/", "--once"], io), 2);
  assert.match(io.err.join(""), /did not answer with an agentpool snapshot/);
  const missing = fakeIo(() => Promise.resolve(new Response("not found", { status: 404 })));
  assert.equal(await monitor(["http://example.test/x", "--once"], missing), 2);
  assert.match(missing.err.join(""), /HTTP 404 from http:\/\/example\.test\/x\/snapshot/);
});

test("monitor: credentials in the URL are refused without being printed", async () => {
  const io = fakeIo(() => Promise.reject(new Error("must not fetch")));
  assert.equal(await monitor(["http://user:s3cr3t@example.test/x", "--once"], io), 1);
  assert.match(io.err.join(""), /credentials in the URL \(http:\/\/example\.test\/x\) are not supported/);
  assert.doesNotMatch(io.err.join(""), /s3cr3t/);
});

test("monitor: an unreachable URL exits 2 (real fetch to a closed port)", async () => {
  const port = await freePort();
  const io = fakeIo((request) => fetch(request));
  assert.equal(await monitor([`http://127.0.0.1:${port}/pool`, "--once"], io), 2);
  assert.match(io.err.join(""), new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}/pool/snapshot`));
});

test("monitor: bad usage exits 1 with the usage text", async () => {
  for (const args of [[], ["not a url"], ["ftp://x/pool"], [URL_, "--interval", "5"], [URL_, "--interval", "abc"], [URL_, "--bogus"]]) {
    const io = fakeIo(() => Promise.reject(new Error("must not fetch")));
    assert.equal(await monitor(args, io), 1, JSON.stringify(args));
    assert.match(io.err.join(""), /Usage: agentpool monitor/);
  }
  const help = fakeIo(() => Promise.reject(new Error("must not fetch")));
  assert.equal(await monitor(["--help"], help), 0);
  assert.match(help.out.join(""), /--interval MS/);
});

test("monitor: live mode redraws each interval, survives a failed refresh, stops on interrupt", async () => {
  await withPool(async (app) => {
    let calls = 0;
    let io: FakeIo | undefined = undefined;
    io = fakeIo(async (request) => {
      calls++;
      if (calls === 2) throw new TypeError("fetch failed"); // a blip after the first screen
      if (calls === 4) io!.stop!(); // Ctrl-C while the fourth refresh is in flight
      return await app.request(request);
    }, { tty: true, env: { AGENTPOOL_TOKEN: TOKEN } });
    assert.equal(await monitor([URL_, "--interval", "100"], io), 0);
    const output = io.out.join("");
    assert.ok(output.startsWith("\x1b[?25l"), "hides the cursor");
    assert.ok(output.endsWith("\x1b[?25h"), "restores the cursor");
    const frames = output.split("\x1b[H\x1b[2J").slice(1);
    assert.equal(frames.length, 3, "first screen, the error screen, the third refresh");
    assert.match(frames[1], /cannot reach .*retrying every 100 ms/);
    assert.doesNotMatch(frames[2], /retrying/);
    assert.equal(io.stop, undefined, "the interrupt handler was removed");
  });
});

test("cli: the dispatcher runs subcommands and explains unknown ones", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (lines: string[]) => ({ write: (text: string) => void lines.push(text) });
  assert.equal(await cli(["help"], sink(out), sink(err)), 0);
  assert.match(out.join(""), /^\s+monitor\s+live view/m);
  assert.equal(await cli(["frobnicate"], sink(out), sink(err)), 1);
  assert.match(err.join(""), /unknown command 'frobnicate'/);
  assert.equal(await cli([], sink(out), sink(err)), 1);
  assert.equal(await cli(["toString"], sink(out), sink(err)), 1, "no prototype keys as commands");
});

test("monitor: formatDuration", () => {
  assert.deepEqual([0, 0.42, 3.14, 12.3, 2100, 12_345, 125_000, 3_725_000].map(formatDuration), [
    "0 ms", "0.42 ms", "3.1 ms", "12 ms", "2.10 s", "12.3 s", "2m 5s", "1h 2m",
  ]);
});

function run(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("node", ["bin/agentpool.mjs", ...args], { env: { ...env, NO_COLOR: "1" }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
    });
  });
}

test("bin: `agentpool monitor --once --json` against a served router, and exit 2 when it is gone", async () => {
  await withPool(async (app, pool) => {
    let closeServer: () => Promise<void> = () => Promise.resolve();
    const port = await new Promise<number>((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, (info) => resolve(info.port));
      closeServer = () => new Promise<void>((done) => server.close(() => done()));
    });
    const env = { PATH: globalThis.process?.env?.PATH, HOME: globalThis.process?.env?.HOME, AGENTPOOL_TOKEN: TOKEN };
    await pool.use(() => {}, { agentId: "bin-agent" });
    const ok = await run(["monitor", `http://127.0.0.1:${port}/pool`, "--once", "--json"], env);
    await closeServer();
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as PoolSnapshot).agents[0].agentId, "bin-agent");
    const gone = await run(["monitor", `http://127.0.0.1:${port}/pool`, "--once"], env);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /agentpool monitor: cannot reach/);
  });
});
