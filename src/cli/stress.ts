/**
 * `agentpool stress`: runs a team of agents (see `workload.ts`) against PostgreSQL through the
 * pool, shows live progress, then reports and checks the product's criteria (exit 0 pass, 1 fail,
 * 2 bad command line). Without `--database-url` it uses `DATABASE_URL`, else starts an embedded
 * PostgreSQL 18 and removes it afterwards.
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
import { runComparisonPhase } from "./stress_compare.ts";
import { renderHtmlReport } from "./stress_html.ts";
import { Pacer } from "./stress_pacer.ts";
import { bottleneckLine, type DatabaseSide, evaluate, formatReport, jainIndex, liveLine, type StressReport } from "./stress_report.ts";
import { describeError, Sampler, ServerWatch } from "./stress_sampler.ts";
import { LeaseTimeline, timeAcquires } from "./stress_split.ts";
import { AgentTeam, type TeamTotals } from "./workload.ts";

interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** How long the database may not answer before the run ends early with a report. */
const LOST_AFTER_MS = 5000;

/**
 * The database could not be reached when the run started (exit 1, with this message).
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { parseStressArgs } from "./stress_args.ts";
 * try {
 *   await runStress(parseStressArgs(["--database-url", "postgres://postgres@127.0.0.1:1/postgres"]), process.stderr);
 * } catch (e) {
 *   if (e instanceof DatabaseUnreachableError) console.error(e.message);
 * }
 * ```
 */
export class DatabaseUnreachableError extends Error {
  override readonly name = "DatabaseUnreachableError";
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

/** `promise`, or `fallback` after `ms` (for clean-up steps that must not hang when the database is gone). */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls the server until this pool's sessions are gone (closing is asynchronous), for up to 5 s; NaN when it cannot tell. */
async function serverSessionsAfterClose(watch: ServerWatch): Promise<number> {
  const read = (): Promise<number> => within(watch.read(), 2000, NaN).catch(() => NaN);
  let count = await read();
  for (let i = 0; i < 50 && count > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    count = await read();
  }
  return count;
}

/** Sleeps `ms` unless `stop` aborts or the database stops answering; resolves to why it ended early, if it did. */
async function watchWindow(ms: number, stop: AbortSignal, watch: ServerWatch, t0: number): Promise<DatabaseSide["lost"]> {
  const until = performance.now() + ms;
  while (!stop.aborted && performance.now() < until) {
    await sleep(Math.min(250, until - performance.now()), stop);
    if (watch.downForMs() >= LOST_AFTER_MS) {
      return { atS: (performance.now() - t0) / 1000 - watch.downForMs() / 1000, reason: watch.lastError ?? "no answer" };
    }
  }
  return undefined;
}

/** Runs the team without think time for `probeS` seconds (after 1 s of warm-up): the database's capacity in tx/s. */
async function probeCapacity(adapter: PooledDatabaseAdapter, args: StressArgs, log: Out, stop: AbortSignal): Promise<number> {
  log.write(`calibrating: ${args.agents} agents without think time for ${args.probe} s …\n`);
  const probe = new AgentTeam(adapter, { agents: args.agents, thinkMs: [0, 0], workMs: args.workMs, longHolders: args.longHolders, agentPrefix: "probe" });
  await probe.setup();
  probe.start();
  try {
    await sleep(1000, stop);
    const before = probe.totals().transactions;
    const t0 = performance.now();
    await sleep(args.probe * 1000, stop);
    return ((probe.totals().transactions - before) * 1000) / (performance.now() - t0);
  } finally {
    await probe.stop();
    await probe.dropSchema().catch(() => {});
  }
}

/**
 * Runs the stress test for parsed `args`; resolves to the report. `log` receives progress lines.
 * Throws {@linkcode DatabaseUnreachableError} when the database cannot be reached at the start; a
 * database that stops answering later ends the window early, and the report says so.
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
    let version: string;
    try {
      version = await watch.version();
    } catch (error) {
      throw new DatabaseUnreachableError(`cannot reach the database at ${describeUrl(url)}: ${describeError(error)}`);
    }
    const database = server ? `embedded PostgreSQL ${version}` : `PostgreSQL ${version} at ${describeUrl(url)}`;
    const metrics = createMetrics({ maxAgents: args.agents + 20 });
    const cap = args.max + args.overflow;
    const timeline = new LeaseTimeline(cap);
    metrics.forwardTo(timeline);
    pool = createPostgresPool(url, {
      name: "stress",
      minConnections: args.min,
      maxConnections: args.max,
      overflow: args.overflow,
      metrics,
      postgres: { applicationName: app, onnotice: () => {} },
    });
    timeAcquires(pool, timeline);
    const adapter = new PooledDatabaseAdapter(pool);
    const stop = interrupt ?? new AbortController().signal;
    let calibration: DatabaseSide["calibration"];
    let pacer: Pacer | undefined;
    if (args.calibrate) {
      const capacity = await probeCapacity(adapter, args, log, stop);
      pacer = new Pacer(Math.max(1, capacity * args.fraction));
      calibration = { probeS: args.probe, capacityTxPerS: capacity, fraction: args.fraction, offeredTxPerS: pacer.ratePerS };
      log.write(`calibrated: capacity ${Math.round(capacity)} tx/s; offering ${Math.round(pacer.ratePerS)} tx/s (${args.fraction})\n`);
    }
    const team = new AgentTeam(adapter, {
      agents: args.agents,
      thinkMs: args.thinkMs,
      workMs: args.workMs,
      longHolders: args.longHolders,
      ...(pacer ? { pacer } : {}),
    });
    const p = pool;
    try {
      await team.setup();
      const heapBefore = heapMB(true);
      watch.start();
      team.start();
      log.write(`${args.agents} agents on ${database}, pool ${args.min}/${args.max}+${args.overflow}; warm-up ${args.warmup} s, then ${args.duration} s measured\n`);
      await sleep(args.warmup * 1000, stop);

      // The measured window starts here.
      timeline.reset();
      watch.peak = watch.last;
      watch.peakAll = 0;
      const startedAt = new Date().toISOString();
      const base: TeamTotals = { ...team.totals() };
      const baseStats = p.stats();
      const baseAgents = team.agents().map((a) => a.completions);
      const sampler = new Sampler(() => p.stats(), () => team.totals(), timeline, watch);
      const inPlace = log.isTTY === true;
      sampler.onSecond = (s) => {
        const line = liveLine(s, p.stats(), team.totals(), args.duration);
        log.write(inPlace ? `\r\x1b[2K${line}` : `${line}\n`);
      };
      const t0 = performance.now();
      sampler.start();
      const lost = await watchWindow(args.duration * 1000, stop, watch, t0);
      sampler.stop();
      const t1 = performance.now();
      const measuredS = (t1 - t0) / 1000;
      const split = timeline.split(t1);
      const end: TeamTotals = { ...team.totals() };
      const endStats = p.stats();
      const completionsByAgent = team.agents().map((a, i) => a.completions - baseAgents[i]);
      if (inPlace) log.write("\n");
      if (lost) log.write(`the database stopped answering (${lost.reason}): ending the run\n`);

      const result = await team.stop();
      await watch.stop();
      const after = p.stats();
      const usedAfterStop = after.used;
      // The lease balance (src/core/invariants.ts): a reclaimed lease is no leak; held ones are usedAfterStop.
      const unaccounted = unaccountedLeases(after);
      // The database may be gone: clean up within bounds rather than wait on it.
      await within(team.dropSchema().catch(() => {}), lost ? 2000 : 10_000, undefined);
      const heapAfter = heapMB(true);
      await within(p.close(), 15_000, undefined);
      const serverAfterClose = await serverSessionsAfterClose(watch);

      const { use, create } = metrics.summary();
      const mean = completionsByAgent.reduce((a, b) => a + b, 0) / completionsByAgent.length;
      const active = sampler.gauges.map((g) => g.active);
      const transactions = end.transactions - base.transactions;
      const comparison = lost || stop.aborted
        ? { durationS: args.peerDuration, rounds: args.peerRounds, results: [], skipped: [] }
        : await runComparisonPhase(["agentpool", ...args.peers], {
          url,
          agents: args.agents,
          cap,
          min: args.min,
          max: args.max,
          overflow: args.overflow,
          thinkMs: args.thinkMs,
          workMs: args.workMs,
          longHolders: args.longHolders,
          // Each pool warms up (opens its connections) as long as the main run did.
          warmupS: args.warmup,
          durationS: args.peerDuration,
          rounds: args.peerRounds,
          applicationName: `${app}-compare`,
        }, args.calibrate ? { probeS: args.probe, fraction: args.fraction } : undefined, log, stop);
      const partialDb = {
        transactionsPerS: transactions / measuredS,
        allHeldShare: split.allHeldShare,
        activeMean: active.length ? active.reduce((a, b) => a + b, 0) / active.length : 0,
        activePeak: active.length ? Math.max(...active) : 0,
        ...(calibration ? { calibration } : {}),
        ...(lost ? { lost } : {}),
      };
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
        transactions,
        completions: end.completions - base.completions,
        throughput: {
          transactionsPerS: transactions / measuredS,
          completionsPerS: (end.completions - base.completions) / measuredS,
        },
        acquireWaitMs: {
          count: split.wait.count,
          p50: split.wait.p50,
          p99: split.wait.p99,
          p999: split.wait.p999,
          max: split.wait.max,
          mean: split.wait.mean,
        },
        split,
        database: { ...partialDb, bottleneck: "" },
        comparison,
        holdMs: { p50: use.p50, p99: use.p99, max: use.max },
        fairness: {
          jain: jainIndex(completionsByAgent),
          minCompletions: Math.min(...completionsByAgent),
          maxCompletions: Math.max(...completionsByAgent),
          meanCompletions: mean,
        },
        peaks: {
          concurrentHeld: timeline.peakHeld,
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
        leaks: { usedAfterStop, acquired: after.acquired, released: after.released, reclaimed: after.reclaimed, unaccounted, detected: after.leaks, serverAfterClose },
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
      partial.database.bottleneck = bottleneckLine(partial);
      const criteria = evaluate(partial);
      return { pass: criteria.every((c) => c.pass), criteria, ...partial };
    } finally {
      if (!p.closed) {
        await within(team.stop(), 20_000, undefined);
        await within(team.dropSchema().catch(() => {}), 10_000, undefined);
        await within(p.close(), 15_000, undefined);
      }
    }
  } finally {
    await within(watch.close().catch(() => {}), 10_000, undefined);
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
    args = parseStressArgs(argv, process.env);
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
    let report: StressReport;
    try {
      report = await runStress(args, live, interrupt.signal);
    } catch (error) {
      if (!(error instanceof DatabaseUnreachableError)) throw error;
      err.write(`agentpool stress: ${error.message}\n`);
      return 1;
    }
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
