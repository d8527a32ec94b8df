/**
 * `npm start` (src/cli/demo.ts) as a child process on the runtime running the test: it serves the
 * dashboard's JSON routes with the demo agents in them, and exits 0 on SIGINT after cleaning up.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { main, parseDemoArgs } from "../src/cli/demo.ts";
import { runtimeId } from "../src/cli/runtime_info.ts";
import { databaseUrl } from "./support/db.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function demoCommand(): { file: string; argv: string[] } {
  const entry = join(ROOT, "src/cli/demo.ts");
  switch (runtimeId()) {
    case "deno": return { file: process.execPath, argv: ["run", "-A", entry] };
    case "bun": return { file: process.execPath, argv: [entry] };
    default: return { file: process.execPath, argv: ["--import", "tsx", entry] };
  }
}

/** Resolves with the first stdout match of `pattern` (rejects if the child exits first). */
function waitForLine(child: ChildProcess, output: { text: string }, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = output.text.match(pattern);
      if (match) {
        child.stdout!.off("data", check);
        child.off("exit", onExit);
        resolve(match);
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`demo exited (${code}) before printing ${pattern}:\n${output.text}`));
    child.stdout!.on("data", check);
    child.once("exit", onExit);
    check();
  });
}

test("demo: serves /pool/stats with agents, and exits 0 on SIGINT after dropping its schema", async () => {
  const { file, argv } = demoCommand();
  const child = spawn(file, argv, {
    cwd: ROOT,
    // A safety net: the demo stops by itself after 120 s should SIGINT never arrive.
    env: { ...process.env, DATABASE_URL: databaseUrl(), AGENTPOOL_DEMO_PORT: "0", AGENTPOOL_DEMO_SECONDS: "120", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { text: "" };
  let stderr = "";
  child.stdout.on("data", (chunk) => (output.text += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  );
  const sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  try {
    const [, schema] = await waitForLine(child, output, /task schema (agentpool_demo_[0-9a-f]+)/);
    const [, origin] = await waitForLine(child, output, /dashboard: (http:\/\/127\.0\.0\.1:\d+)\/pool/);
    // Printed right after the dashboard line, but possibly in a later chunk: wait for it too.
    await waitForLine(child, output, /admin token \(for the revoke buttons\): [0-9a-f]{32}/);
    assert.doesNotMatch(output.text + stderr, /:postgres@|password/i);

    // The agents show up in the admin router's views (reads are public in the demo).
    let agents: string[] = [];
    for (let i = 0; i < 100 && !agents.some((a) => a.startsWith("demo-")); i++) {
      const body = await (await fetch(`${origin}/pool/agents`)).json() as { agents: { agentId: string }[] };
      agents = body.agents.map((a) => a.agentId);
      if (!agents.some((a) => a.startsWith("demo-"))) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(agents.some((a) => a.startsWith("demo-")), `no demo agent in ${JSON.stringify(agents)}`);
    const stats = await (await fetch(`${origin}/pool/stats`)).json() as { name: string; acquired: number; cap: number };
    assert.equal(stats.name, "demo");
    assert.ok(stats.acquired > 0);
    assert.equal(stats.cap, 8);

    child.kill("SIGINT");
    const { code, signal } = await exited;
    // Deno's node:child_process reports a child that handled the signal and exited 0 as killed by
    // it (code null, signal SIGINT; checked with a 3-line child); the "stopped:" line below is
    // printed right before exit(0) either way.
    const clean = code === 0 || (runtimeId() === "deno" && code === null && signal === "SIGINT");
    assert.ok(clean, `exit ${code} (${signal})\n${output.text}\n${stderr}`);
    assert.match(output.text, /stopped: \d+ tasks completed, 0 connections held after close/);
    const left = await sql`select 1 from information_schema.schemata where schema_name = ${schema}`;
    assert.equal(left.length, 0, `schema ${schema} was not dropped`);
    await assert.rejects(fetch(`${origin}/pool/stats`));
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    await sql.end();
  }
});

test("demo args: flags, environment, and errors naming the flag (exit 2)", async () => {
  const a = parseDemoArgs(["--agents", "3", "--port", "0"], { AGENTPOOL_DEMO_SECONDS: "2.5", DATABASE_URL: "postgres://x@h/db" });
  assert.deepEqual([a.agents, a.port, a.duration, a.databaseUrl], [3, 0, 2.5, "postgres://x@h/db"]);
  assert.deepEqual(parseDemoArgs([], {}).databaseUrl, undefined);
  assert.throws(() => parseDemoArgs(["--port", "70000"], {}), { message: /--port: 70000/ });
  assert.throws(() => parseDemoArgs(["--agents", "0"], {}), { message: 'Invalid value for --agents: "0" (expected an integer >= 1)' });
  assert.throws(() => parseDemoArgs([], { AGENTPOOL_DEMO_SECONDS: "soon" }), { message: /AGENTPOOL_DEMO_SECONDS: "soon"/ });
  assert.equal(await main(["--bogus"]), 2);
});
