/**
 * `agentpool stress`: runs a team of agents (see `workload.ts`) against PostgreSQL through the
 * pool, shows live progress, then reports and checks the product's criteria (exit 0 pass, 1 fail,
 * 2 bad command line). Without `--database-url` it starts an embedded PostgreSQL 18 and removes it
 * afterwards.
 *
 * ```sh
 * node --import tsx src/cli/main.ts stress --agents 50 --duration 60 --report stress.html
 * ```
 *
 * @module
 */

import { writeFile } from "node:fs/promises";
import process from "node:process";
import { createMetrics } from "../core/metrics_tracker.ts";
import { unaccountedLeases } from "../core/invariants.ts";
import type { AsyncConnectionPool } from "../core/pool.ts";
import { PooledDatabaseAdapter } from "../postgres/adapter.ts";
import type { Sql } from "../postgres/connection_state.ts";
import { createPostgresPool } from "../postgres/create_pool.ts";
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from "./embedded_postgres.ts";
import { withoutNewSignalHooks } from "./signals.ts";
import { sleep } from "./sleep.ts";
import { heapMB, machineName, runtimeName } from "./runtime_info.ts";
import { parseStressArgs, type StressArgs, STRESS_USAGE, UsageError } from "./stress_args.ts";
import { renderHtmlReport } from "./stress_html.ts";
import { evaluate, formatReport, jainIndex, liveLine, type StressReport } from "./stress_report.ts";
import { percentile, Sampler, ServerWatch, WaitRecorder } from "./stress_sampler.ts";
import { AgentTeam, type TeamTotals } from "./workload.ts";

interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** `postgres://user@host:port/db` without the password. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "<database>";
  }
}

/** Polls the server until this pool's sessions are gone (closing is asynchronous), for up to 5 s. */
async function serverSessionsAfterClose(watch: ServerWatch): Promise<number> {
  let count = await watch.read();
  for (let i = 0; i < 50 && count > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    count = await watch.read();
  }
  return count;
}

/**
 * Runs the stress test for parsed `args`; resolves to the report. `log` receives progress lines.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { runStress } from "./stress.ts";
 * import { parseStressArgs } from "./stress_args.ts";
 * const report = await runStress(parseStressArgs(["--agents", "10", "--duration", "3"]), process.stderr);
 * console.log(report.pass);
 * ```
 */
export async function runStress(args: StressArgs, log: Out, interrupt?: AbortSignal): Promise<StressReport> {
  let server: EmbeddedPostgresServer | undefined;
  let url = args.databaseUrl;
  if (url === undefined) {
    log.write("starting embedded PostgreSQL 18 …\n");
    server = await withoutNewSignalHooks(() => startEmbeddedPostgres({ persistent: false }));
    url = server.url;
  }
  const app = `agentpool-stress-${crypto.randomUUID().slice(0, 8)}`;
  const watch = new ServerWatch(url, app);
  let pool: AsyncConnectionPool<Sql> | undefined;
  try {
    const version = await watch.version();
    const database = server ? `embedded PostgreSQL ${version}` : `PostgreSQL ${version} at ${describeUrl(url)}`;
    const metrics = createMetrics({ maxAgents: args.agents + 10 });
    const recorder = new WaitRecorder();
    metrics.forwardTo(recorder);
    const cap = args.max + args.overflow;
    pool = createPostgresPool(url, {
      name: "stress",
      minConnections: args.min,
      maxConnections: args.max,
      overflow: args.overflow,
      metrics,
      postgres: { applicationName: app, onnotice: () => {} },
    });
    const adapter = new PooledDatabaseAdapter(pool);
    const team = new AgentTeam(adapter, {
      agents: args.agents,
      thinkMs: args.thinkMs,
      workMs: args.workMs,
      longHolders: args.longHolders,
    });
    const p = pool;
    try {
      await team.setup();
      const heapBefore = heapMB(true);
      const stop = interrupt ?? new AbortController().signal;
      watch.start();
      team.start();
      log.write(`${args.agents} agents on ${database}, pool ${args.min}/${args.max}+${args.overflow}; warm-up ${args.warmup} s, then ${args.duration} s measured\n`);
      await sleep(args.warmup * 1000, stop);

      // The measured window starts here.
      recorder.reset();
      watch.peak = watch.last;
      watch.peakAll = 0;
      const startedAt = new Date().toISOString();
      const base: TeamTotals = { ...team.totals() };
      const baseStats = p.stats();
      const baseAgents = team.agents().map((a) => a.completions);
      const sampler = new Sampler(() => p.stats(), () => team.totals(), recorder, watch);
      const inPlace = log.isTTY === true;
      sampler.onSecond = (s) => {
        const line = liveLine(s, p.stats(), team.totals(), args.duration);
        log.write(inPlace ? `\r\x1b[2K${line}` : `${line}\n`);
      };
      const t0 = performance.now();
      sampler.start();
      await sleep(args.duration * 1000, stop);
      sampler.stop();
      const measuredS = (performance.now() - t0) / 1000;
      const end: TeamTotals = { ...team.totals() };
      const endStats = p.stats();
      const completionsByAgent = team.agents().map((a, i) => a.completions - baseAgents[i]);
      if (inPlace) log.write("\n");

      const result = await team.stop();
      await watch.stop();
      const after = p.stats();
      const usedAfterStop = after.used;
      // The lease balance (src/core/invariants.ts): a reclaimed lease is no leak; held ones are usedAfterStop.
      const unaccounted = unaccountedLeases(after);
      await team.dropSchema().catch(() => {});
      const heapAfter = heapMB(true);
      await p.close();
      const serverAfterClose = await serverSessionsAfterClose(watch);

      const waits = recorder.sortedAll();
      const sum = waits.reduce((a, b) => a + b, 0);
      const { use, create } = metrics.summary();
      const mean = completionsByAgent.reduce((a, b) => a + b, 0) / completionsByAgent.length;
      const partial: Omit<StressReport, "criteria" | "pass"> = {
        run: {
          runtime: runtimeName(),
          machine: machineName(),
          database,
          startedAt,
          durationS: measuredS,
          agents: args.agents,
          pool: { min: args.min, max: args.max, overflow: args.overflow, cap },
          thinkMs: args.thinkMs,
          workMs: args.workMs,
          longHolders: args.longHolders,
        },
        transactions: end.transactions - base.transactions,
        completions: end.completions - base.completions,
        throughput: {
          transactionsPerS: (end.transactions - base.transactions) / measuredS,
          completionsPerS: (end.completions - base.completions) / measuredS,
        },
        acquireWaitMs: {
          count: waits.length,
          p50: percentile(waits, 0.5),
          p99: percentile(waits, 0.99),
          p999: percentile(waits, 0.999),
          max: waits.length ? waits[waits.length - 1] : NaN,
          mean: waits.length ? sum / waits.length : NaN,
        },
        holdMs: { p50: use.p50, p99: use.p99, max: use.max },
        fairness: {
          jain: jainIndex(completionsByAgent),
          minCompletions: Math.min(...completionsByAgent),
          maxCompletions: Math.max(...completionsByAgent),
          meanCompletions: mean,
        },
        peaks: {
          concurrentHeld: recorder.peakHeld,
          poolOpen: sampler.peaks.total,
          pending: sampler.peaks.pending,
          serverConnections: watch.peak,
          serverAllClients: watch.peakAll,
        },
        churn: {
          created: endStats.created - baseStats.created,
          destroyed: endStats.destroyed - baseStats.destroyed,
          createMsP50: create.p50,
          createMsP99: create.p99,
        },
        leaks: { usedAfterStop, acquired: after.acquired, released: after.released, unaccounted, detected: after.leaks, serverAfterClose },
        errors: { expected: result.totals.expectedErrors, unexpected: result.totals.unexpectedErrors, samples: result.errors },
        heapMB: { before: heapBefore.mb, after: heapAfter.mb, afterGc: heapAfter.collected },
        agents: result.agents.map((a, i) => ({
          agentId: a.agentId,
          completions: completionsByAgent[i],
          transactions: a.transactions,
          longHolder: a.longHolder,
          longHolds: a.longHolds,
        })),
        timeline: sampler.seconds,
        gauges: sampler.gauges,
      };
      const criteria = evaluate(partial);
      return { pass: criteria.every((c) => c.pass), criteria, ...partial };
    } finally {
      if (!p.closed) {
        await team.stop();
        await team.dropSchema().catch(() => {});
        await p.close();
      }
    }
  } finally {
    await watch.close().catch(() => {});
    await server?.remove();
  }
}

/**
 * `agentpool stress [options]`; resolves to the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await main(["--agents", "50", "--duration", "60"]);
 * ```
 */
export async function main(argv: string[], out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  let args: StressArgs;
  try {
    args = parseStressArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err.write(`agentpool stress: ${error.message}\n`);
    return 2;
  }
  if (args.help) {
    out.write(`${STRESS_USAGE}\n`);
    return 0;
  }
  // Ctrl-C ends the measured window early; the report still comes.
  const interrupt = new AbortController();
  const onSignal = (): void => interrupt.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const live = process.stdout.isTTY && !args.json ? out : err;
    const report = await runStress(args, live, interrupt.signal);
    const json = JSON.stringify(report, null, 2);
    if (args.json) out.write(`${json}\n`);
    else out.write(`${formatReport(report)}\n`);
    if (args.jsonFile !== undefined) await writeFile(args.jsonFile, `${json}\n`);
    if (args.report !== undefined) {
      await writeFile(args.report, renderHtmlReport(report));
      err.write(`HTML report written to ${args.report}\n`);
    }
    return report.pass ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
