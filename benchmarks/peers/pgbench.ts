/**
 * The machine's ceiling beside the pools: PostgreSQL's own `pgbench` (C, libpq, one connection
 * per client, no pool) on the end-to-end workload — `begin; select 1; commit`, three round trips,
 * prepared statements — with as many clients as the pools have connections. Whatever a JS pool
 * reaches is a share of this.
 *
 * Found on PATH or in /usr/lib/postgresql/<version>/bin (Debian's postgresql-client /
 * postgresql-contrib packages); reported as skipped, by name, when missing.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** What one pgbench run measured. */
export interface PgbenchResult {
  txPerSec: number;
  /** Average latency per transaction that pgbench reports, ms. */
  latencyMs: number;
  transactions: number;
  /** How it was invoked (no password), for the report. */
  config: string;
}

/**
 * The pgbench binary, or undefined when it is not installed.
 *
 * @example
 * ```ts
 * const binary = findPgbench(); // "/usr/bin/pgbench"
 * ```
 */
export function findPgbench(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir !== "" && existsSync(join(dir, "pgbench"))) return join(dir, "pgbench");
  }
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "pgbench"))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0], "bin", "pgbench") : undefined;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs pgbench with `clients` connections for `seconds` (whole seconds, at least 1) against `url`.
 * The password (if any) goes through PGPASSWORD, never the command line or the report.
 *
 * @example
 * ```ts
 * const ceiling = await runPgbench(findPgbench()!, "postgres://postgres@127.0.0.1:5432/postgres", 20, 3);
 * ceiling.txPerSec;
 * ```
 */
export async function runPgbench(binary: string, url: string, clients: number, seconds: number): Promise<PgbenchResult> {
  const target = new URL(url);
  const password = decodeURIComponent(target.password);
  target.password = "";
  const dir = mkdtempSync(join(tmpdir(), "agentpool-pgbench-"));
  const script = join(dir, "tx.sql");
  writeFileSync(script, "begin;\nselect 1;\ncommit;\n");
  const threads = Math.min(2, clients);
  const duration = Math.max(1, Math.round(seconds));
  const args = ["-n", "-c", String(clients), "-j", String(threads), "-M", "prepared", "-T", String(duration), "-f", script, target.href];
  try {
    const { code, stdout, stderr } = await run(binary, args, { PGAPPNAME: "agentpool-bench-pgbench", ...(password ? { PGPASSWORD: password } : {}) });
    if (code !== 0) throw new Error(`pgbench exited with ${code}: ${stderr.trim().split("\n").pop()}`);
    const tps = /tps = ([\d.]+)/.exec(stdout);
    const latency = /latency average = ([\d.]+) ms/.exec(stdout);
    const count = /number of transactions actually processed: (\d+)/.exec(stdout);
    if (tps === null) throw new Error(`pgbench printed no tps line: ${stdout.slice(-300)}`);
    return {
      txPerSec: Number(tps[1]),
      latencyMs: latency ? Number(latency[1]) : NaN,
      transactions: count ? Number(count[1]) : NaN,
      config: `pgbench -n -c ${clients} -j ${threads} -M prepared -T ${duration}, script begin; select 1; commit (no pool: ${clients} libpq connections)`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
