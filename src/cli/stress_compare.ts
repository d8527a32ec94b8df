/**
 * The comparison phase of `agentpool stress`: agentpool and its peers (pg-pool + pg, postgres.js's
 * own pool, agentpool's pg `Pool`) run one after another on the same neutral workload — the agent
 * loop of `workload.ts` (claim with `FOR UPDATE SKIP LOCKED` → read context → heartbeat → artifact
 * + complete → parent progress, with the same think time, in-transaction work and long holders) in
 * plain SQL, so every library runs the same statements with the same cap — and every one is timed
 * the same way from outside (see `stress_split.ts`).
 *
 * The pg-based peers live in `benchmarks/peers/stress_pg_peers.ts` (only `src/pg/` may import
 * `pg`); they are loaded when present (a repository checkout with devDependencies) and reported as
 * skipped otherwise.
 *
 * @module
 */

import { setMaxListeners } from "node:events";
import process from "node:process";
import postgres from "postgres";
import { PooledDatabaseAdapter } from "../postgres/adapter.ts";
import { createPostgresPool } from "../postgres/create_pool.ts";
import { noopMetrics } from "../core/metrics.ts";
import { quoteIdentifier } from "../postgres/identifiers.ts";
import { sleep } from "./sleep.ts";
import { Pacer } from "./stress_pacer.ts";
import { LeaseTimeline, type WaitSplit } from "./stress_split.ts";
import type { MsRange } from "./workload.ts";

/** Runs one statement with `$n` parameters and returns its rows. */
export type Query = (text: string, params?: readonly unknown[]) => Promise<readonly Record<string, unknown>[]>;

/**
 * A pool under comparison: one transaction per call; `started()` is called when the caller's code
 * runs with a connection (the end of its acquire wait), `released()` where the pool takes the
 * connection back, before it can hand it to a waiter (the start of that waiter's hand-off). A pool
 * whose release cannot be observed (a transaction helper that hands the connection on inside the
 * driver, as postgres.js's `sql.begin()` does) skips `released()`: the release then counts when
 * `transaction()` resolves, after the waiter may have run (see `LeaseTimeline.end`).
 *
 * @example
 * ```ts
 * const options: ComparisonOptions = {
 *   url: "postgres://postgres@127.0.0.1:5432/postgres", agents: 50, cap: 30, min: 5, max: 20, overflow: 10,
 *   thinkMs: [10, 40], workMs: [1, 4], longHolders: 2, warmupS: 2, durationS: 15, applicationName: "agentpool-stress-1a2b",
 * };
 * const pool: ComparisonPool = openPostgresJs(options);
 * await pool.transaction("agent-1", false, async (q) => void await q("select 1"), () => {}, () => {});
 * await pool.close();
 * ```
 */
export interface ComparisonPool {
  readonly name: string;
  /** How it is configured, for the report. */
  readonly config: string;
  transaction(agentId: string, readOnly: boolean, fn: (q: Query) => Promise<void>, started: () => void, released: () => void): Promise<void>;
  close(): Promise<void>;
}

/** A peer's module could not be used here (not installed, not landed). */
export interface SkippedPeer {
  readonly name: string;
  readonly skipped: string;
}

/** What one pool did on the comparison workload. */
export interface ComparisonResult {
  name: string;
  config: string;
  durationS: number;
  transactions: number;
  transactionsPerS: number;
  split: WaitSplit;
  /** Most connections held at once. */
  peakHeld: number;
  /**
   * This process's CPU time (user + system) per transaction in the window: the pool, its driver
   * and the workload's own code, nothing else runs meanwhile. On a machine short of CPU, the
   * pool that needs less of it per transaction gets more done.
   */
  cpuUsPerTx: number;
  errors: number;
  /** First error messages seen (at most 5). */
  errorSamples: string[];
  /** Offered load when paced (calibrated runs), transactions per second. */
  offeredTxPerS?: number;
}

/** Settings shared by every pool of the phase. */
export interface ComparisonOptions {
  url: string;
  agents: number;
  cap: number;
  min: number;
  max: number;
  overflow: number;
  thinkMs: MsRange;
  workMs: MsRange;
  longHolders: number;
  warmupS: number;
  durationS: number;
  applicationName: string;
  /** Offered load (calibrated runs): before each transaction an agent waits for its slot. */
  pacer?: { wait(signal: AbortSignal): Promise<void>; readonly ratePerS: number };
  /** Phase only: the pools take turns this many times, `durationS / rounds` each (default 1). */
  rounds?: number;
}

const NOTICE = { onnotice: (): void => {} };
const PREPARED = { prepare: true } as const;

/**
 * The workload's {@linkcode Query} on a postgres.js connection (a reserved `sql` or a transaction's
 * `tx`), run the way postgres.js runs a tagged template: prepared once per connection. `unsafe()`
 * alone is unprepared, and with parameters it is described first (a second round trip that pg's
 * `client.query(text, params)` does not make).
 */
function preparedQuery(sql: Pick<postgres.Sql, "unsafe">): Query {
  return (text, params) => sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], PREPARED) as unknown as Promise<Record<string, unknown>[]>;
}

/**
 * agentpool with the stress run's pool settings, through `PooledDatabaseAdapter.transaction`. Its
 * releases are reported by the pool's metrics sink, inside `release()` (the adapter releases
 * inside `transaction()`); an agent has one transaction at a time, so its id finds the call.
 *
 * @example
 * ```ts
 * declare const options: ComparisonOptions;
 * const pool = openAgentpool(options);
 * await pool.close();
 * ```
 */
export function openAgentpool(o: ComparisonOptions): ComparisonPool {
  const releases = new Map<string, () => void>();
  const pool = createPostgresPool(o.url, {
    name: "stress-compare",
    minConnections: o.min,
    maxConnections: o.max,
    overflow: o.overflow,
    metrics: { ...noopMetrics, released: (agentId) => releases.get(agentId)?.() },
    postgres: { applicationName: o.applicationName, ...NOTICE },
  });
  const adapter = new PooledDatabaseAdapter(pool);
  return {
    name: "agentpool",
    config: `createPostgresPool min ${o.min} / max ${o.max} / overflow ${o.overflow}; adapter.transaction()`,
    transaction: (agentId, readOnly, fn, started, released) => {
      releases.set(agentId, released);
      return adapter.transaction((tx) => {
        started();
        return fn(preparedQuery(tx));
      }, { agentId, readOnly }) as Promise<void>;
    },
    close: () => pool.close(),
  };
}

/**
 * postgres.js's own pool (`max` = the cap): a connection from `sql.reserve()`, BEGIN, the
 * statements, COMMIT (ROLLBACK on an error), `release()`. Reserved, not `sql.begin()`: the
 * release is then the caller's, and reported right before it, like pg-pool's; `sql.begin()` hands
 * its connection on inside the driver, where no caller sees it.
 *
 * @example
 * ```ts
 * declare const options: ComparisonOptions;
 * const pool = openPostgresJs(options);
 * await pool.close();
 * ```
 */
export function openPostgresJs(o: ComparisonOptions): ComparisonPool {
  const sql = postgres(o.url, { max: o.cap, idle_timeout: 0, max_lifetime: null, connection: { application_name: o.applicationName }, ...NOTICE });
  return {
    name: "postgres.js",
    config: `postgres({ max: ${o.cap} }); sql.reserve(), BEGIN, statements, COMMIT`,
    async transaction(_agentId, readOnly, fn, started, released) {
      const reserved = await sql.reserve();
      started();
      try {
        await reserved.unsafe(readOnly ? "begin read only" : "begin");
        try {
          await fn(preparedQuery(reserved));
        } catch (error) {
          await reserved.unsafe("rollback").catch(() => {});
          throw error;
        }
        await reserved.unsafe("commit");
      } finally {
        released();
        reserved.release();
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** The peers of `benchmarks/peers/stress_pg_peers.ts`, or why they cannot run. */
async function loadPgPeers(): Promise<{ open(name: string, o: ComparisonOptions): Promise<ComparisonPool | SkippedPeer> } | string> {
  const url = new URL("../../benchmarks/peers/stress_pg_peers.ts", import.meta.url).href;
  try {
    return await import(url);
  } catch (error) {
    return `needs a repository checkout with devDependencies (benchmarks/peers/stress_pg_peers.ts and pg): ${(error as Error)?.message ?? error}`;
  }
}

/**
 * Opens the pool `name` for the comparison: agentpool, postgres.js, pg-pool, agentpool-pg.
 *
 * @example
 * ```ts
 * const options: ComparisonOptions = {
 *   url: "postgres://postgres@127.0.0.1:5432/postgres", agents: 50, cap: 30, min: 5, max: 20, overflow: 10,
 *   thinkMs: [10, 40], workMs: [1, 4], longHolders: 2, warmupS: 2, durationS: 15, applicationName: "agentpool-stress-1a2b",
 * };
 * const pool = await openComparisonPool("pg-pool", options);
 * if (!("skipped" in pool)) await runComparison(pool, options, "agentpool_cmp_1a2b", new AbortController().signal);
 * ```
 */
export async function openComparisonPool(name: string, o: ComparisonOptions): Promise<ComparisonPool | SkippedPeer> {
  if (name === "agentpool") return openAgentpool(o);
  if (name === "postgres.js") return openPostgresJs(o);
  const peers = await loadPgPeers();
  if (typeof peers === "string") return { name, skipped: peers };
  return await peers.open(name, o);
}

/**
 * Creates the comparison tables in `schema` with `4 × agents` tasks (every 5th the parent of the next 4).
 *
 * @example
 * ```ts
 * await setupComparisonSchema("postgres://postgres@127.0.0.1:5432/postgres", "agentpool_cmp_1a2b", 50);
 * ```
 */
export async function setupComparisonSchema(url: string, schema: string, agents: number): Promise<void> {
  const s = quoteIdentifier("schema", schema);
  const sql = postgres(url, { max: 1, ...NOTICE });
  try {
    await sql.unsafe(`create schema ${s};
      create table ${s}.tasks (id integer primary key, parent integer, status text not null default 'pending', owner text,
        heartbeat timestamptz, rounds integer not null default 0);
      create index on ${s}.tasks (status, rounds, id);
      create index on ${s}.tasks (parent);
      create table ${s}.artifacts (id bigserial primary key, task integer not null, body jsonb not null);
      create index on ${s}.artifacts (task);
      insert into ${s}.tasks (id, parent) select i, case when i % 5 = 0 then null else i - i % 5 end from generate_series(1, ${Math.max(20, agents * 4)}) i;`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Drops `schema` (never throws: the database may be gone).
 *
 * @example
 * ```ts
 * await dropComparisonSchema("postgres://postgres@127.0.0.1:5432/postgres", "agentpool_cmp_1a2b");
 * ```
 */
export async function dropComparisonSchema(url: string, schema: string): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, ...NOTICE });
  try {
    await sql.unsafe(`drop schema if exists ${quoteIdentifier("schema", schema)} cascade`);
  } catch {
    // best effort
  } finally {
    await sql.end({ timeout: 2 }).catch(() => {});
  }
}

function draw([min, max]: MsRange): number {
  return min + Math.random() * (max - min);
}

/**
 * Runs the neutral agent workload on `pool` for the warm-up plus `durationS`; resolves to what
 * was measured in the window.
 *
 * @example
 * ```ts
 * declare const options: ComparisonOptions;
 * const schema = "agentpool_cmp_1a2b";
 * await setupComparisonSchema(options.url, schema, options.agents);
 * const result = await runComparison(openAgentpool(options), options, schema, new AbortController().signal);
 * result.split.wait.p99;
 * ```
 */
export async function runComparison(
  pool: ComparisonPool,
  o: ComparisonOptions,
  schema: string,
  interrupt: AbortSignal,
  timeline: LeaseTimeline = new LeaseTimeline(o.cap, undefined, false),
): Promise<ComparisonResult> {
  const s = quoteIdentifier("schema", schema);
  const stop = new AbortController();
  const hard = new AbortController();
  // Every agent's think time listens to these: by design, not a leak.
  setMaxListeners(0, stop.signal, hard.signal);
  const onInterrupt = (): void => stop.abort();
  interrupt.addEventListener("abort", onInterrupt, { once: true });
  let transactions = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const pace = (): Promise<void> => stop.signal.aborted ? Promise.resolve() : o.pacer ? o.pacer.wait(stop.signal) : sleep(draw(o.thinkMs), stop.signal);
  const work = (): Promise<void> => o.workMs[1] === 0 ? Promise.resolve() : sleep(draw(o.workMs), hard.signal);
  const tx = async (agentId: string, readOnly: boolean, fn: (q: Query) => Promise<void>): Promise<void> => {
    const token = timeline.request();
    let started = false;
    let ended = false;
    const released = (): void => {
      if (!started || ended) return; // a handle given back before the caller's code ran (a swap), or twice
      ended = true;
      timeline.end();
    };
    try {
      await pool.transaction(agentId, readOnly, fn, () => {
        started = true;
        timeline.resume(token);
      }, released);
      transactions++;
    } finally {
      if (!started) timeline.abandon();
      else released(); // a pool that could not report its release
    }
  };
  const agent = async (index: number): Promise<void> => {
    const id = `agent-${index + 1}`;
    const longHolder = index < o.longHolders;
    await sleep(Math.random() * o.thinkMs[1], stop.signal);
    while (!stop.signal.aborted) {
      try {
        if (o.pacer) await pace();
        let task: { id: number; parent: number | null } | undefined;
        await tx(id, false, async (q) => {
          const rows = await q(
            `update ${s}.tasks set status = 'claimed', owner = $1, heartbeat = now() where id = (select id from ${s}.tasks
             where status = 'pending' order by rounds, id limit 1 for update skip locked) returning id, parent`,
            [id],
          );
          task = rows[0] as typeof task;
        });
        if (task === undefined) {
          await sleep(Math.max(20, o.thinkMs[1]), stop.signal);
          continue;
        }
        const { id: taskId, parent } = task;
        await pace();
        await tx(id, true, async (q) => {
          if (parent !== null) await q(`select id, status, owner from ${s}.tasks where id = $1`, [parent]);
          await q(`select count(*)::integer as n from ${s}.artifacts where task = $1`, [taskId]);
          await work();
        });
        await pace();
        await tx(id, false, async (q) => void await q(`update ${s}.tasks set heartbeat = now() where id = $1 and owner = $2`, [taskId, id]));
        await pace();
        const hold = longHolder && !stop.signal.aborted && Math.random() < 0.25;
        await tx(id, false, async (q) => {
          await work();
          await q(`insert into ${s}.artifacts (task, body) values ($1, $2::jsonb)`, [taskId, JSON.stringify({ by: id, at: Date.now() })]);
          if (hold) await sleep(draw([100, 500]), hard.signal);
          await q(`update ${s}.tasks set status = 'pending', owner = null, rounds = rounds + 1 where id = $1 and owner = $2`, [taskId, id]);
        });
        if (parent !== null) {
          await pace();
          await tx(id, true, async (q) => void await q(`select count(*) filter (where rounds > 0)::integer as done from ${s}.tasks where parent = $1`, [parent]));
        }
      } catch (error) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? error}`);
        await sleep(50 + Math.random() * 100, stop.signal);
      }
    }
  };
  const running = Array.from({ length: o.agents }, (_, i) => agent(i));
  try {
    await sleep(o.warmupS * 1000, stop.signal);
    timeline.openWindow();
    const base = { transactions, errors };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(o.durationS * 1000, stop.signal);
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    timeline.closeWindow(t1);
    const split = timeline.split(t1);
    const measured = { transactions: transactions - base.transactions, errors: errors - base.errors, peakHeld: timeline.peakHeld };
    stop.abort();
    const grace = setTimeout(() => hard.abort(), 5000);
    await Promise.all(running);
    clearTimeout(grace);
    const durationS = (t1 - t0) / 1000;
    return {
      name: pool.name,
      config: pool.config,
      durationS,
      transactions: measured.transactions,
      transactionsPerS: measured.transactions / durationS,
      split,
      peakHeld: measured.peakHeld,
      cpuUsPerTx: (cpu.user + cpu.system) / Math.max(1, measured.transactions),
      errors: measured.errors,
      errorSamples,
      ...(o.pacer ? { offeredTxPerS: o.pacer.ratePerS } : {}),
    };
  } finally {
    stop.abort();
    hard.abort();
    interrupt.removeEventListener("abort", onInterrupt);
    await Promise.all(running);
  }
}

/**
 * Runs `names` (agentpool first) one after another on the comparison workload in one fresh
 * schema. With `calibrate`, agentpool first runs the workload without think time for
 * `probeS` seconds and every pool is then offered `fraction` of that capacity.
 *
 * @example
 * ```ts
 * declare const options: ComparisonOptions;
 * import process from "node:process";
 * const phase = await runComparisonPhase(["agentpool", "pg-pool", "postgres.js"], options, undefined, process.stderr, new AbortController().signal);
 * ```
 */
export async function runComparisonPhase(
  names: readonly string[],
  options: ComparisonOptions,
  calibrate: { probeS: number; fraction: number } | undefined,
  log: { write(text: string): unknown },
  interrupt: AbortSignal,
): Promise<{ durationS: number; rounds: number; results: ComparisonResult[]; skipped: SkippedPeer[] }> {
  const results: ComparisonResult[] = [];
  const skipped: SkippedPeer[] = [];
  const rounds = Math.max(1, options.rounds ?? 1);
  if (names.length <= 1) return { durationS: options.durationS, rounds, results, skipped };
  const schema = `agentpool_cmp_${crypto.randomUUID().slice(0, 8)}`;
  await setupComparisonSchema(options.url, schema, options.agents);
  try {
    let o = options;
    if (calibrate !== undefined) {
      const probe = openAgentpool(o);
      try {
        log.write(`comparison: calibrating on agentpool for ${calibrate.probeS} s …\n`);
        const r = await runComparison(probe, { ...o, thinkMs: [0, 0], warmupS: 1, durationS: calibrate.probeS }, schema, interrupt);
        o = { ...o, pacer: new Pacer(Math.max(1, r.transactionsPerS * calibrate.fraction)) };
      } finally {
        await probe.close();
      }
    }
    // Rounds interleave the pools, so a change of machine load hits them alike.
    const slot = { ...o, durationS: o.durationS / rounds };
    const timelines = new Map<string, LeaseTimeline>();
    const merged = new Map<string, ComparisonResult>();
    for (let round = 1; round <= rounds; round++) {
      for (const name of names) {
        if (interrupt.aborted || skipped.some((x) => x.name === name)) continue;
        const pool = await openComparisonPool(name, slot);
        if ("skipped" in pool) {
          skipped.push(pool);
          log.write(`comparison: ${name} skipped: ${pool.skipped}\n`);
          continue;
        }
        const timeline = timelines.get(name) ?? new LeaseTimeline(o.cap, undefined, false);
        timelines.set(name, timeline);
        try {
          log.write(`comparison: ${name} for ${slot.durationS.toFixed(1)} s (round ${round} of ${rounds}) …\n`);
          const r = await runComparison(pool, slot, schema, interrupt, timeline);
          const before = merged.get(name);
          merged.set(name, before === undefined ? r : {
            ...r,
            durationS: before.durationS + r.durationS,
            transactions: before.transactions + r.transactions,
            transactionsPerS: (before.transactions + r.transactions) / (before.durationS + r.durationS),
            peakHeld: Math.max(before.peakHeld, r.peakHeld),
            cpuUsPerTx: (before.cpuUsPerTx * before.transactions + r.cpuUsPerTx * r.transactions) / Math.max(1, before.transactions + r.transactions),
            errors: before.errors + r.errors,
            errorSamples: [...before.errorSamples, ...r.errorSamples].slice(0, 5),
          });
          log.write(`comparison: ${name} ${Math.round(r.transactionsPerS)} tx/s, acquire p99 so far ${r.split.wait.p99.toFixed(3)} ms, pool adds p99 ${r.split.poolAdded.p99.toFixed(3)} ms\n`);
        } finally {
          await pool.close().catch(() => {});
        }
      }
    }
    results.push(...names.flatMap((name) => merged.get(name) ?? []));
  } finally {
    await dropComparisonSchema(options.url, schema);
  }
  return { durationS: options.durationS, rounds, results, skipped };
}
