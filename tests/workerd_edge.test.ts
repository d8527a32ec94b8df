/**
 * Edge apps: the pool core and the admin router inside Cloudflare's `workerd` (npm `workerd`,
 * the runtime Miniflare and `wrangler dev` run on), locally, no account and no network.
 *
 * The worker (tests/support/workerd_worker.ts) is bundled with esbuild for the `workerd` export
 * condition, so postgres.js loads its Cloudflare build and connects over `cloudflare:sockets`.
 * workerd is configured with an outbound network that allows loopback, so the worker reaches the
 * local PostgreSQL (DATABASE_URL) for real; the stub-factory pool shows a pool living across
 * requests. workerd runs as a child process, so this test runs the same on Node, Deno and Bun.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { build } from "esbuild";
import { databaseUrl, freePort } from "./support/db.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
// The platform binary itself (npm `workerd`'s bin may be a JS launcher when its postinstall did not run).
const PLATFORM_BINARY = join(ROOT, "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd");
const WORKERD = existsSync(PLATFORM_BINARY) ? PLATFORM_BINARY : join(ROOT, "node_modules", ".bin", "workerd");

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => (socket.destroy(), resolve(false)));
  });
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A capnp text string literal. */
const capnpString = (value: string): string => JSON.stringify(value);

describe("workerd: pool core and admin router inside the Workers runtime", () => {
  let dir = "";
  let port = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = "";
  const base = (): string => `http://127.0.0.1:${port}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "agentpool-workerd-"));
    await build({
      entryPoints: [join(ROOT, "tests", "support", "workerd_worker.ts")],
      outfile: join(dir, "worker.js"),
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      // postgres.js's "workerd" export is its Cloudflare build (cloudflare:sockets, node:buffer, ...).
      conditions: ["workerd", "worker", "import"],
      mainFields: ["module", "main"],
      external: ["cloudflare:*", "node:*"],
      logLevel: "silent",
    });
    port = await freePort();
    writeFileSync(
      join(dir, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # Outbound sockets and fetches: loopback allowed, so the worker reaches the local PostgreSQL.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = ${capnpString(`127.0.0.1:${port}`)}, http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
  compatibilityFlags = ["nodejs_compat"],
  globalOutbound = "internet",
  bindings = [(name = "DATABASE_URL", text = ${capnpString(databaseUrl())})],
);
`,
    );
    const proc = spawn(WORKERD, ["serve", "config.capnp"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    proc.stdout?.setEncoding("utf8").on("data", (s: string) => void (log += s));
    proc.stderr?.setEncoding("utf8").on("data", (s: string) => void (log += s));
    exited = new Promise((resolve) => {
      proc.once("exit", () => resolve());
      proc.once("error", (error) => {
        log += String(error);
        resolve();
      });
    });
    const deadline = performance.now() + 20_000;
    while (!(await portOpen(port))) {
      if (proc.exitCode !== null || performance.now() > deadline) throw new Error(`workerd did not start:\n${log}`);
      await sleep(50);
    }
  });

  after(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child?.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    }
    child?.stdout?.destroy();
    child?.stderr?.destroy();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  const getJson = async (path: string, init?: RequestInit): Promise<Record<string, unknown>> => {
    const response = await fetch(base() + path, init);
    const text = await response.text();
    assert.equal(response.status, 200, `${path}: ${response.status} ${text}\n${log}`);
    return JSON.parse(text) as Record<string, unknown>;
  };

  it("stub factory: the admin router serves the live tables of a pool that lives across requests", async () => {
    await getJson("/stub/hold/planner-1", { method: "POST" });
    await getJson("/stub/hold/critic-2", { method: "POST" });
    const stats = await getJson("/stub/pool/stats");
    assert.equal(stats.used, 2);
    const { agents } = await getJson("/stub/pool/agents") as { agents: { agentId: string; held: number }[] };
    assert.deepEqual(agents.filter((a) => a.held > 0).map((a) => a.agentId).sort(), ["critic-2", "planner-1"]);
    const { connections } = await getJson("/stub/pool/connections") as { connections: { agentId: string | null }[] };
    assert.equal(connections.filter((c) => c.agentId !== null).length, 2);

    await getJson("/stub/release/planner-1", { method: "POST" });
    await getJson("/stub/release/critic-2", { method: "POST" });
    const afterRelease = await getJson("/stub/pool/stats");
    assert.equal(afterRelease.used, 0);
    assert.equal(afterRelease.idle, 2);

    const metrics = await fetch(base() + "/stub/pool/metrics");
    const text = await metrics.text();
    assert.ok(metrics.status === 200 || metrics.status === 501, `metrics: ${metrics.status} ${text}`);
    const page = await fetch(base() + "/stub/pool/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    await page.body?.cancel();
  });

  it("postgres.js over cloudflare:sockets: three agents on real sessions of the local PostgreSQL, live in the admin tables", async () => {
    const result = await getJson("/pg") as {
      rows: { pid: number; app: string; version: string }[];
      stats: { used: number; total: number };
      agents: { agents: { agentId: string; held: number }[] };
      connections: { connections: { agentId: string | null }[] };
      afterRelease: { used: number; idle: number };
    };
    assert.equal(result.rows.length, 3);
    assert.equal(new Set(result.rows.map((r) => r.pid)).size, 3, "three distinct server sessions");
    assert.ok(result.rows.every((r) => r.app === "agentpool-workerd" && Number(r.version) >= 150000));
    assert.equal(result.stats.used, 3);
    assert.deepEqual(
      result.agents.agents.filter((a) => a.held === 1).map((a) => a.agentId).sort(),
      ["coder-3", "critic-2", "planner-1"],
    );
    assert.equal(result.connections.connections.filter((c) => c.agentId !== null).length, 3);
    assert.equal(result.afterRelease.used, 0);
    assert.equal(result.afterRelease.idle, 3);
  });

  it("a pool of TCP connections shared across requests does not work on Workers: the pool discards the connection and recovers", async () => {
    const first = await getJson("/pg-shared") as { ok: boolean; pid?: number; error?: string };
    assert.equal(first.ok, true, first.error);
    // The connection opened while serving the first request is unusable from the second.
    const second = await getJson("/pg-shared") as { ok: boolean; pid?: number; error?: string };
    assert.equal(second.ok, false);
    assert.match(second.error ?? "", /Cannot perform I\/O on behalf of a different request|closed|CONNECTION/i);
    // The pool retired it; the third request gets a fresh session (and the same fate next time).
    const third = await getJson("/pg-shared") as { ok: boolean; pid?: number; error?: string };
    assert.equal(third.ok, true, third.error);
    assert.notEqual(third.pid, first.pid);
  });
});
