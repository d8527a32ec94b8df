/**
 * Helpers of tests/budget_pgbouncer.test.ts: worker processes (tests/support/budget_worker.ts)
 * that can be killed, stopped and resumed, and an observer that samples the upstream server
 * every 50 ms: the hot agent's non-idle transactions in pg_stat_activity and Σgranted in the
 * lease table.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type postgres from "postgres";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** What a worker prints at the end. */
export interface WorkerResult {
  proc: string;
  /** Transactions whose fenced first statement found the lease lapsed (they did nothing and queued again). */
  fenced: number;
  committed: Record<string, number>;
  failures: number;
  startsWithoutLease: number;
  unhandledRejections: number;
  errors: Record<string, number>;
  budget: { renewals: number; renewFailures: number; expiries: number; maxRenewMs: number };
}

/** A running worker. `done` rejects when it exits non-zero (not when the test killed it). */
export interface Worker {
  readonly proc: string;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly done: Promise<WorkerResult | undefined>;
  signal(name: NodeJS.Signals): void;
  /** Ends its open-ended work (OPEN_ENDED): it finishes the tasks it has, prints its result and exits. */
  finish(): void;
}

/** Starts one worker with `node --import tsx` (the real node, whichever runtime runs the test). */
export function startWorker(env: Record<string, string>): Worker {
  const node = process.versions.bun || "Deno" in globalThis ? "node" : process.execPath;
  const child = spawn(node, ["--import", "tsx", join(ROOT, "tests", "support", "budget_worker.ts")], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin!.on("error", () => {}); // a killed worker's closed pipe
  let out = "";
  let err = "";
  let killed = false;
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    if (out.includes("ready\n")) onReady();
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => void (err += s));
  // process.kill, not child.kill: Deno's ChildProcess sends only the first signal (a SIGCONT after
  // a SIGSTOP would be dropped).
  const send = (name: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, name);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => send("SIGKILL"), 60_000);
  const done = new Promise<WorkerResult | undefined>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      onReady();
      if (killed && signal === "SIGKILL") return resolve(undefined);
      if (code !== 0) return reject(new Error(`worker ${env.PROC} exited with ${code ?? signal}:\n${err}\n${out}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "") as WorkerResult);
      } catch {
        reject(new Error(`worker ${env.PROC} printed no result:\n${out}\n${err}`));
      }
    });
  });
  return {
    proc: env.PROC,
    child,
    ready,
    done,
    signal(name) {
      if (name === "SIGKILL") killed = true;
      send(name);
    },
    finish() {
      if (child.exitCode === null && child.signalCode === null && child.stdin?.writable) child.stdin.end("finish\n");
    },
  };
}

/** One observer sample. */
export interface Sample {
  /** Milliseconds since the observer started. */
  readonly at: number;
  /** The hot agent's transactions running (not idle) on the server, over every process, in both of two reads. */
  readonly hot: number;
  /** The same from the first read alone (not atomic across backends: may count a successor twice). */
  readonly hotSingleRead: number;
  /** Σgranted of the hot agent over live leases. */
  readonly granted: number;
  /** Live grants by holder. */
  readonly byHolder: Readonly<Record<string, number>>;
  /** Live leases' wants (held + pending at their last renewal) by holder. */
  readonly wants: Readonly<Record<string, number>>;
  /** The database's clock when the lease table was read, epoch ms. */
  readonly dbNowMs: number;
  /** When each live lease expires by the database's clock (renewed_at + ttl_ms), epoch ms. */
  readonly expiresAtMs: Readonly<Record<string, number>>;
  /** The hot agent's running transactions by process (from application_name), with their states. */
  readonly running: Readonly<Record<string, string[]>>;
}

/** Samples every 50 ms until `stop()`; resolves with every sample. */
export function observe(
  admin: postgres.Sql,
  options: { role: string; hotAgent: string; leaseTable: string; budget: string },
): { samples: Sample[]; stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  const started = performance.now();
  let sampling = true;
  // pg_stat_activity is read backend by backend, not atomically: on a loaded machine one read can
  // show a transaction that has just committed next to its successor. Two reads back to back, and
  // only transactions present in both (same pid and xact_start) count: each of those was running
  // during the whole gap between the reads, so they truly ran at the same time.
  const running = async (): Promise<{ key: string; name: string; state: string }[]> =>
    await admin.unsafe(
      `select pid || '/' || xact_start as key, application_name as name, state from pg_stat_activity
        where usename = $1 and state <> 'idle' and application_name like $2 and xact_start is not null`,
      [options.role, `budget:%:${options.hotAgent}`],
    );
  const loop = (async () => {
    while (sampling) {
      const first = await running();
      const second = await running();
      const before = new Set(first.map((r) => r.key));
      const both = second.filter((r) => before.has(r.key));
      const [row] = await admin.unsafe<
        { leases: Record<string, number> | null; wants: Record<string, number> | null; expires: Record<string, number> | null; now_ms: number }[]
      >(
        `select json_object_agg(holder, granted) filter (where holder is not null) as leases,
                json_object_agg(holder, wants) filter (where holder is not null) as wants,
                json_object_agg(holder, extract(epoch from renewed_at + ttl_ms * interval '1 ms') * 1000)
                  filter (where holder is not null) as expires,
                (extract(epoch from now.t) * 1000)::float8 as now_ms
           from (select clock_timestamp() as t) now
           left join ${options.leaseTable}
             on budget = $1 and agent_id = $2 and renewed_at + ttl_ms * interval '1 ms' >= now.t
          group by now.t`,
        [options.budget, options.hotAgent],
      );
      const byHolder = row.leases ?? {};
      const granted = Object.values(byHolder).reduce((a, b) => a + b, 0);
      const byProcess: Record<string, string[]> = {};
      for (const r of both) (byProcess[r.name] ??= []).push(r.state);
      samples.push({ at: performance.now() - started, hot: both.length, hotSingleRead: first.length, granted,
        byHolder,
        wants: row.wants ?? {},
        dbNowMs: Number(row.now_ms),
        expiresAtMs: Object.fromEntries(Object.entries(row.expires ?? {}).map(([k, v]) => [k, Number(v)])),
        running: byProcess,
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    samples,
    async stop() {
      sampling = false;
      await loop;
      return samples;
    },
  };
}

/** Waits until `predicate()` holds (polling every 25 ms) or `timeoutMs` passed; returns whether it held. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return await predicate();
}
