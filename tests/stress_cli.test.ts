/**
 * `agentpool stress`: argument errors (exit 2), the report's arithmetic, and a real 3-second run
 * as a child process on the runtime running the test, with `--json` and `--report FILE.html`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runtimeId } from "../src/cli/runtime_info.ts";
import { main } from "../src/cli/stress.ts";
import { parseStressArgs, UsageError } from "../src/cli/stress_args.ts";
import { concurrencyTarget, jainIndex, type StressReport } from "../src/cli/stress_report.ts";
import { percentile } from "../src/cli/stress_sampler.ts";
import { databaseUrl } from "./support/db.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function capture(): { write(text: string): boolean; text: string } {
  return {
    text: "",
    write(text: string): boolean {
      this.text += text;
      return true;
    },
  };
}

/** The command that runs `src/cli/main.ts` on the current runtime. */
function cliCommand(args: string[]): { file: string; argv: string[] } {
  const entry = join(ROOT, "src/cli/main.ts");
  switch (runtimeId()) {
    case "deno": return { file: process.execPath, argv: ["run", "-A", entry, ...args] };
    case "bun": return { file: process.execPath, argv: [entry, ...args] };
    default: return { file: process.execPath, argv: ["--import", "tsx", entry, ...args] };
  }
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { file, argv } = cliCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("stress args: defaults, both flag forms, and errors naming the flag and value", () => {
  const d = parseStressArgs([]);
  assert.deepEqual([d.agents, d.duration, d.min, d.max, d.overflow, d.json], [50, 60, 5, 20, 10, false]);
  const a = parseStressArgs(["--agents", "10", "--duration=3", "--json", "--think", "0-2", "--report", "r.html"]);
  assert.deepEqual([a.agents, a.duration, a.json, a.thinkMs, a.report], [10, 3, true, [0, 2], "r.html"]);
  assert.throws(() => parseStressArgs(["--agents", "0"]), { name: "UsageError", message: 'Invalid value for --agents: "0" (expected an integer >= 1)' });
  assert.throws(() => parseStressArgs(["--duration", "soon"]), { message: /--duration: "soon"/ });
  assert.throws(() => parseStressArgs(["--max"]), { message: "Missing value for --max" });
  assert.throws(() => parseStressArgs(["--min", "30"]), { message: /--min: 30 \(must not exceed --max 20\)/ });
  assert.throws(() => parseStressArgs(["--think", "9-1"]), { message: /--think: "9-1"/ });
  assert.throws(() => parseStressArgs(["--frobnicate"]), { message: /Unknown option "--frobnicate"/ });
  // The URL may carry a password: the message names the flag, never the value.
  assert.throws(
    () => parseStressArgs(["--database-url", "mysql://u:hunter2@h/db"]),
    (error: Error) => error instanceof UsageError && /--database-url/.test(error.message) && !error.message.includes("hunter2"),
  );
});

test("stress main: a bad flag exits 2 with the message on stderr; --help exits 0", async () => {
  const out = capture();
  const err = capture();
  assert.equal(await main(["--overflow", "-1"], out, err), 2);
  assert.match(err.text, /agentpool stress: Invalid value for --overflow: "-1"/);
  assert.equal(out.text, "");
  assert.equal(await main(["--help"], out, err), 0);
  assert.match(out.text, /Usage: agentpool stress/);
});

test("stress report: Jain's index, percentiles and the concurrency target", () => {
  assert.equal(jainIndex([4, 4, 4, 4]), 1);
  assert.equal(jainIndex([1, 0, 0, 0]), 0.25);
  assert.equal(jainIndex([0, 0]), 1);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.99), 4);
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.equal(concurrencyTarget(50, 30), 20);
  assert.equal(concurrencyTarget(10, 30), 10);
  assert.equal(concurrencyTarget(50, 8), 8);
});

test("stress CLI: 10 agents for 3 s pass, print JSON and write the HTML report", async () => {
  const dir = await mkdtemp(join(tmpdir(), "agentpool-stress-test-"));
  try {
    const html = join(dir, "report.html");
    // Short think time: 10 agents then hold their 10 connections at once at some point.
    const { code, stdout, stderr } = await run([
      "stress", "--agents", "10", "--duration", "3", "--warmup", "1", "--think", "0-2", "--json",
      "--database-url", databaseUrl(), "--report", html,
    ]);
    const report = JSON.parse(stdout) as StressReport;
    assert.equal(code, 0, `exit ${code}\n${stdout.slice(0, 3000)}\n${stderr.slice(-3000)}`);
    assert.equal(report.pass, true);
    assert.deepEqual(report.criteria.map((c) => [c.name, c.pass]), [
      ["concurrent connections reached", true],
      ["zero leaks", true],
      ["acquire wait p99", true],
      ["peak server connections within cap", true],
      ["no unexpected errors", true],
    ]);
    assert.equal(report.run.agents, 10);
    assert.equal(report.run.pool.cap, 30);
    assert.ok(report.transactions > 0);
    assert.ok(report.acquireWaitMs.count > 0);
    for (const key of ["p50", "p99", "p999", "max"] as const) assert.equal(typeof report.acquireWaitMs[key], "number");
    assert.ok(report.fairness.jain > 0 && report.fairness.jain <= 1);
    assert.ok(report.peaks.serverConnections <= 30);
    assert.equal(report.leaks.usedAfterStop, 0);
    assert.equal(report.leaks.acquired, report.leaks.released);
    assert.equal(report.agents.length, 10);
    assert.ok(report.timeline.length >= 1);
    assert.equal(typeof report.heapMB.before, "number");
    assert.doesNotMatch(stdout + stderr, /:postgres@|password/i);

    const page = await readFile(html, "utf8");
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /agentpool stress report/);
    assert.ok((page.match(/<svg /g) ?? []).length >= 4, "expected 4 SVG charts");
    assert.doesNotMatch(page, /<script|https?:\/\/(?!www\.w3\.org)/, "the report must be self-contained");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("stress CLI: an invalid flag exits 2 naming it", async () => {
  const { code, stderr } = await run(["stress", "--agents", "many"]);
  assert.equal(code, 2);
  assert.match(stderr, /Invalid value for --agents: "many"/);
});
