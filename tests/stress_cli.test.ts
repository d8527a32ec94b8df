/**
 * `agentpool stress`: argument errors (exit 2), the report's arithmetic, and a real 3-second run
 * as a child process on the runtime running the test, with `--json` and `--report FILE.html`.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../src/cli/stress.ts";
import { parseStressArgs, UsageError } from "../src/cli/stress_args.ts";
import { runScript } from "./support/run_script.ts";
import { startTcpProxy } from "./support/tcp_proxy.ts";
import { concurrencyTarget, jainIndex, type StressReport } from "../src/cli/stress_report.ts";
import { nearestRank as percentile } from "../src/core/percentile.ts";
import { databaseUrl, freePort } from "./support/db.ts";


function capture(): { write(text: string): boolean; text: string } {
  return {
    text: "",
    write(text: string): boolean {
      this.text += text;
      return true;
    },
  };
}

const run = (args: string[]) => runScript("src/cli/main.ts", args);

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
  assert.throws(() => parseStressArgs(["--max", "--json"]), { message: "Missing value for --max" });
  assert.throws(() => parseStressArgs(["--peers", "pgbouncer"]), { message: 'Invalid value for --peers: "pgbouncer" (expected one of pg-pool, postgres.js, agentpool-pg, none)' });
  assert.throws(() => parseStressArgs(["--peers", "none,pg-pool"]), { message: /--peers: "none,pg-pool" \(none cannot be combined/ });
  assert.throws(() => parseStressArgs(["--fraction", "0.5"]), { message: /--fraction: it applies only with --calibrate/ });
  assert.throws(() => parseStressArgs(["--calibrate", "--fraction", "1.5"]), { message: 'Invalid value for --fraction: "1.5" (expected a number in (0, 1])' });
  assert.throws(() => parseStressArgs(["--peer-duration", "0"]), { message: 'Invalid value for --peer-duration: "0" (expected a positive number)' });
  assert.throws(() => parseStressArgs(["--json=yes"]), { message: 'Option --json takes no value: current value is "yes"' });
  assert.throws(() => parseStressArgs(["extra"]), { message: /Unexpected argument "extra"/ });
  const peers = parseStressArgs(["--peers", "pg-pool", "--duration", "40", "--calibrate", "--fraction", "0.5"]);
  assert.deepEqual([peers.peers, peers.peerDuration, peers.calibrate, peers.fraction, peers.probe], [["pg-pool"], 15, true, 0.5, 5]);
  assert.deepEqual(parseStressArgs(["--peers", "none", "--duration", "4"]).peers, []);
  assert.equal(parseStressArgs(["--duration", "4"]).peerDuration, 4);
  // The URL may carry a password: the message names the flag, never the value.
  assert.throws(
    () => parseStressArgs(["--database-url", "mysql://u:hunter2@h/db"]),
    (error: Error) => error instanceof UsageError && /--database-url/.test(error.message) && !error.message.includes("hunter2"),
  );
  // DATABASE_URL names the database when --database-url does not (as for npm start / npm test).
  const pg15 = "postgres://postgres@127.0.0.1:5432/postgres";
  assert.equal(parseStressArgs([], { DATABASE_URL: pg15 }).databaseUrl, pg15);
  assert.equal(parseStressArgs(["--database-url", "postgres://u@h:1/d"], { DATABASE_URL: pg15 }).databaseUrl, "postgres://u@h:1/d");
  assert.equal(parseStressArgs([], { DATABASE_URL: "" }).databaseUrl, undefined, "empty: the embedded server");
  assert.throws(
    () => parseStressArgs([], { DATABASE_URL: "mysql://u:hunter2@h/db" }),
    (error: Error) => error instanceof UsageError && /DATABASE_URL/.test(error.message) && !error.message.includes("hunter2"),
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
      "--peer-duration", "2", "--database-url", databaseUrl(), "--report", html,
    ]);
    const report = JSON.parse(stdout) as StressReport;
    assert.equal(code, 0, `exit ${code}\n${stdout.slice(0, 3000)}\n${stderr.slice(-3000)}`);
    assert.equal(report.pass, true);
    assert.deepEqual(report.criteria.map((c) => c.name), [
      "concurrent connections reached",
      "zero leaks",
      "acquire wait the pool adds, p99",
      "pool adds p99 vs the best peer",
      "peak server connections within cap",
      "no unexpected errors",
      "database available throughout",
    ]);
    // The split adds up: every wait is the pool's part plus the all-held part.
    const split = report.split;
    assert.equal(split.wait.count, report.acquireWaitMs.count);
    assert.equal(split.poolAdded.count, split.wait.count);
    assert.ok(split.poolAdded.p99 <= split.wait.p99 + 1e-9 && split.busyWait.p99 <= split.wait.p99 + 1e-9);
    assert.ok(split.busyShareOfWaiting >= 0 && split.busyShareOfWaiting <= 1);
    assert.ok(split.allHeldShare >= 0 && split.allHeldShare <= 1);
    assert.ok(split.handoff !== undefined && split.handoff.count <= split.wait.count);
    assert.equal(typeof report.database.bottleneck, "string");
    assert.ok(report.database.transactionsPerS > 0);
    assert.equal(report.database.lost, undefined);
    // Peers on the same workload: agentpool first, then pg-pool and postgres.js; agentpool-pg runs once src/pg exists.
    const names = report.comparison.results.map((c) => c.name);
    assert.deepEqual(names.slice(0, 3), ["agentpool", "pg-pool", "postgres.js"]);
    assert.deepEqual([...names.slice(3), ...report.comparison.skipped.map((c) => c.name)], ["agentpool-pg"]);
    for (const c of report.comparison.results) {
      assert.ok(c.transactions > 0, `${c.name} ran transactions`);
      assert.equal(c.errors, 0, `${c.name}: ${c.errorSamples.join("; ")}`);
      assert.ok(c.split.wait.count > 0);
    }
    assert.equal(report.run.agents, 10);
    assert.equal(report.run.pool.cap, 30);
    assert.ok(report.transactions > 0);
    assert.ok(report.acquireWaitMs.count > 0);
    for (const key of ["p50", "p99", "p999", "max"] as const) assert.equal(typeof report.acquireWaitMs[key], "number");
    assert.ok(report.fairness.jain > 0 && report.fairness.jain <= 1);
    assert.ok(report.peaks.serverConnections <= 30);
    assert.equal(report.leaks.usedAfterStop, 0);
    assert.equal(report.leaks.acquired, report.leaks.released + report.leaks.reclaimed);
    assert.equal(report.agents.length, 10);
    assert.ok(report.timeline.length >= 1);
    assert.equal(typeof report.heapMB.before, "number");
    assert.doesNotMatch(stdout + stderr, /:postgres@|password/i);

    const page = await readFile(html, "utf8");
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /agentpool stress report/);
    assert.ok((page.match(/<svg /g) ?? []).length >= 5, "expected 5 SVG charts");
    assert.match(page, /What the pool adds, what the database costs/);
    assert.match(page, /Peers on the same workload[\s\S]*pg-pool[\s\S]*postgres\.js/);
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

test("stress CLI: a calibrated run probes the capacity and offers the stated fraction of it", async () => {
  const { code, stdout, stderr } = await run([
    "stress", "--agents", "10", "--duration", "3", "--warmup", "0.5", "--json", "--peers", "none",
    "--calibrate", "--probe", "1.5", "--fraction", "0.5", "--database-url", databaseUrl(),
  ]);
  assert.ok(code === 0 || code === 1, `exit ${code}\n${stderr.slice(-3000)}`);
  const report = JSON.parse(stdout) as StressReport;
  const c = report.database.calibration;
  assert.ok(c !== undefined && c.capacityTxPerS > 0);
  assert.equal(c.fraction, 0.5);
  assert.equal(c.offeredTxPerS, Math.max(1, c.capacityTxPerS * 0.5));
  // Paced: never more than offered (plus the transactions already started when the window opened).
  assert.ok(report.throughput.transactionsPerS <= c.offeredTxPerS * 1.1 + 10 / 3, `${report.throughput.transactionsPerS} > ${c.offeredTxPerS}`);
  assert.match(report.database.bottleneck, /^Below saturation by design: offered|^The database was the bottleneck/);
  assert.deepEqual(report.comparison.results, []);
});

test("stress CLI: an unreachable database exits 1 at once with a message naming it", async () => {
  const port = await freePort();
  const { code, stdout, stderr } = await run(["stress", "--agents", "2", "--duration", "2", "--database-url", `postgres://postgres:secret@127.0.0.1:${port}/postgres`]);
  assert.equal(code, 1, stderr);
  assert.equal(stdout, "");
  assert.match(stderr, new RegExp(`agentpool stress: cannot reach the database at 127\\.0\\.0\\.1:${port}/postgres: .*ECONNREFUSED`));
  assert.doesNotMatch(stderr, /secret/);
});

test("stress CLI: a database that goes away mid-run ends the run early with a report (exit 1)", async () => {
  const target = new URL(databaseUrl());
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  try {
    const running = run([
      "stress", "--agents", "5", "--duration", "60", "--warmup", "0.5", "--json", "--peers", "none",
      "--database-url", proxy.urlFor(databaseUrl()),
    ]);
    // Once the run is under way (its sessions came through the proxy), the database goes away.
    while (proxy.accepted < 3) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 2000));
    await proxy.close();
    const { code, signal, stdout, stderr } = await running;
    assert.equal(code, 1, `exit ${code}, signal ${signal}\n${stderr.slice(-3000)}`);
    const report = JSON.parse(stdout) as StressReport;
    assert.ok(report.database.lost !== undefined, "the report says the database went away");
    assert.ok(report.run.durationS < 60, "the window ended early");
    assert.match(report.database.bottleneck, /^The database stopped answering at/);
    const available = report.criteria.find((c) => c.name === "database available throughout");
    assert.equal(available?.pass, false);
    assert.equal(report.pass, false);
    assert.equal(report.leaks.usedAfterStop, 0);
  } finally {
    await proxy.close();
  }
});
