/**
 * What `agentpool stress` measures while the team runs: every acquire wait (through the metrics
 * tracker's sink, so exact percentiles rather than histogram buckets), the pool's gauges every
 * 100 ms, the server's connections from `pg_stat_activity` on a separate connection, and a
 * per-second timeline for the live line and the HTML report.
 *
 * @module
 */

import postgres from "postgres";
import type { PoolStats } from "../core/snapshots.ts";
import type { LeaseTimeline } from "./stress_split.ts";
import type { TeamTotals } from "./workload.ts";
import { nearestRank } from "../core/percentile.ts";

/** One 100 ms sample of the pool's gauges (`t` in seconds since the start). */
export interface GaugeSample {
  t: number;
  used: number;
  idle: number;
  pending: number;
  total: number;
  /** Server sessions of the pool's application_name (last value read). */
  server: number;
  /** Of those, the ones running a statement (`state = 'active'`). */
  active: number;
}

/** One second of the run. */
export interface SecondSample {
  /** End of the second, seconds since the start. */
  t: number;
  /** Rates per second (a short last interval is scaled up). */
  transactions: number;
  completions: number;
  acquires: number;
  waitP50: number;
  waitP99: number;
  waitMax: number;
  /** p99 of the part of that second's waits that the pool added (see stress_split.ts). */
  poolAddedP99: number;
  /** Share of that second with every connection held. */
  allHeld: number;
  used: number;
  idle: number;
  pending: number;
  errors: number;
}

/**
 * Counts the server sessions named `applicationName` every `everyMs` from its own connection
 * (outside the pool, so it never competes with the agents).
 *
 * @example
 * ```ts
 * import { ServerWatch } from "./stress_sampler.ts";
 * declare const url: string; // the database the stress run uses
 * const watch = new ServerWatch(url, "agentpool-stress-1a2b");
 * watch.start();
 * // ...
 * await watch.stop(); watch.peak;
 * ```
 */
export class ServerWatch {
  peak = 0;
  last = 0;
  /** This pool's sessions running a statement, at the last read. */
  lastActive = 0;
  /** When a read last succeeded (performance.now()), and the last error since. */
  lastOkAt = performance.now();
  lastError: string | undefined;
  /** Highest count of all client backends on the server (any application). */
  peakAll = 0;
  readonly #sql: postgres.Sql;
  readonly #app: string;
  readonly #everyMs: number;
  #loop: Promise<void> | undefined;
  #stopped = false;

  constructor(url: string, applicationName: string, everyMs = 100) {
    this.#sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {}, connection: { application_name: `${applicationName}-watch` } });
    this.#app = applicationName;
    this.#everyMs = everyMs;
  }

  /** `server_version` of the database, e.g. `18.1`. */
  async version(): Promise<string> {
    const [row] = await this.#sql<{ server_version: string }[]>`show server_version`;
    return row.server_version.split(" ")[0];
  }

  /** Reads the current count once. */
  async read(): Promise<number> {
    const [row] = await this.#sql<{ mine: number; active: number; all: number }[]>`
      select count(*) filter (where mine)::integer as mine,
             count(*) filter (where mine and state = 'active')::integer as active,
             count(*) filter (where backend_type = 'client backend')::integer as all
      -- Inside a transaction a pooled session is named '<app>:<agent>' (the per-transaction agent tag).
      from (select *, application_name = ${this.#app} or starts_with(application_name, ${this.#app + ":"}) as mine
            from pg_stat_activity) as sessions`;
    this.lastOkAt = performance.now();
    this.lastError = undefined;
    this.last = row.mine;
    this.lastActive = row.active;
    if (row.mine > this.peak) this.peak = row.mine;
    if (row.all > this.peakAll) this.peakAll = row.all;
    return row.mine;
  }

  /** How long the database has not answered (0 while it does). */
  downForMs(): number {
    return this.lastError === undefined && performance.now() - this.lastOkAt < 2 * this.#everyMs + 1000 ? 0 : performance.now() - this.lastOkAt;
  }

  start(): void {
    this.lastOkAt = performance.now();
    this.#loop = (async () => {
      while (!this.#stopped) {
        // A read that hangs (the database went away) must not stop the loop: it is abandoned after 2 s.
        const read = this.read();
        read.catch((error) => void (this.lastError = describeError(error)));
        await settledWithin(read, 2000).catch((error) => void (this.lastError ??= describeError(error)));
        await new Promise((r) => setTimeout(r, this.#everyMs));
      }
    })();
  }

  /** Stops sampling (the connection stays open for a final `read()`); waits at most 2 s for a read in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await settledWithin(this.#loop ?? Promise.resolve(), 2000).catch(() => {});
  }

  async close(): Promise<void> {
    await this.stop();
    await settledWithin(this.#sql.end({ timeout: 1 }), 3000).catch(() => {});
  }
}

/** `promise`, or a rejection after `ms`. */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** An error's code or message, without a URL (never a password). */
export function describeError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : undefined;
  const message = typeof e?.message === "string" ? e.message.replace(/postgres(ql)?:\/\/\S+/g, "<url>") : String(error);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Peaks of the pool's gauges over the run. */
export interface Peaks {
  used: number;
  total: number;
  pending: number;
}

/**
 * Samples the pool every 100 ms and closes a {@linkcode SecondSample} every 10 samples.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool } from "agentpool";
 * import { Sampler, type ServerWatch } from "./stress_sampler.ts";
 * import { LeaseTimeline } from "./stress_split.ts";
 * import type { AgentTeam } from "./workload.ts";
 * declare const pool: AsyncConnectionPool<unknown>, team: AgentTeam, watch: ServerWatch;
 * const sampler = new Sampler(() => pool.stats(), () => team.totals(), new LeaseTimeline(30), watch);
 * sampler.start(); // …
 * sampler.stop();
 * ```
 */
export class Sampler {
  readonly gauges: GaugeSample[] = [];
  readonly seconds: SecondSample[] = [];
  readonly peaks: Peaks = { used: 0, total: 0, pending: 0 };
  /** Called after each closed second. */
  onSecond: ((s: SecondSample) => void) | undefined;
  readonly #stats: () => PoolStats;
  readonly #totals: () => Readonly<TeamTotals>;
  readonly #waits: LeaseTimeline;
  readonly #server: ServerWatch;
  #timer: ReturnType<typeof setInterval> | undefined;
  #start = 0;
  #lastClose = 0;
  #ticks = 0;
  #last = { transactions: 0, completions: 0, errors: 0 };

  #lastBusy = 0;

  constructor(stats: () => PoolStats, totals: () => Readonly<TeamTotals>, waits: LeaseTimeline, server: ServerWatch) {
    this.#stats = stats;
    this.#totals = totals;
    this.#waits = waits;
    this.#server = server;
  }

  start(): void {
    this.#start = performance.now();
    this.#lastClose = this.#start;
    // Rates count from here: the warm-up's transactions are not the first second's.
    const totals = this.#totals();
    this.#last = { transactions: totals.transactions, completions: totals.completions, errors: totals.expectedErrors + totals.unexpectedErrors };
    this.#lastBusy = this.#waits.busyIntegral();
    this.#timer = setInterval(() => this.#tick(), 100);
  }

  /** Stops sampling and closes the partial last second. */
  stop(): void {
    clearInterval(this.#timer);
    if (this.#ticks % 10 !== 0) this.#closeSecond();
  }

  #tick(): void {
    const s = this.#stats();
    const t = (performance.now() - this.#start) / 1000;
    this.gauges.push({ t, used: s.used, idle: s.idle, pending: s.pending, total: s.total, server: this.#server.last, active: this.#server.lastActive });
    this.peaks.used = Math.max(this.peaks.used, s.used);
    this.peaks.total = Math.max(this.peaks.total, s.total);
    this.peaks.pending = Math.max(this.peaks.pending, s.pending);
    if (++this.#ticks % 10 === 0) this.#closeSecond();
  }

  #closeSecond(): void {
    const now = performance.now();
    const dt = (now - this.#lastClose) / 1000;
    this.#lastClose = now;
    const { waits, poolAdded, busyIntegral } = this.#waits.takeSecond();
    const allHeld = Math.min(1, (busyIntegral - this.#lastBusy) / Math.max(1, dt * 1000));
    this.#lastBusy = busyIntegral;
    const totals = this.#totals();
    const errors = totals.expectedErrors + totals.unexpectedErrors;
    const recent = this.gauges.slice(-10);
    const avg = (key: "used" | "idle" | "pending"): number => recent.reduce((sum, g) => sum + g[key], 0) / Math.max(1, recent.length);
    const second: SecondSample = {
      t: (now - this.#start) / 1000,
      transactions: (totals.transactions - this.#last.transactions) / dt,
      completions: (totals.completions - this.#last.completions) / dt,
      acquires: waits.length / dt,
      waitP50: waits.length ? nearestRank(waits, 0.5) : 0,
      waitP99: waits.length ? nearestRank(waits, 0.99) : 0,
      waitMax: waits.length ? waits[waits.length - 1] : 0,
      poolAddedP99: poolAdded.length ? nearestRank(poolAdded, 0.99) : 0,
      allHeld,
      used: avg("used"),
      idle: avg("idle"),
      pending: avg("pending"),
      errors: errors - this.#last.errors,
    };
    this.#last = { transactions: totals.transactions, completions: totals.completions, errors };
    // A last sliver shorter than half a second says more about timers than about the pool.
    if (dt < 0.5) return;
    this.seconds.push(second);
    this.onSecond?.(second);
  }
}
