/**
 * What the two drivers cost the client per statement, apart from any pool: CPU and garbage
 * collection for leases of 1, 2 and 3 awaited `select 1` statements, postgres.js (20 ×
 * `postgres({ max: 1 })`, as agentpool pools it) against pg (`pg.Pool({ max: 20 })`), then
 * postgres.js again once its `Query` and `Result` classes are fastened as agentpool's factory does
 * (src/postgres/fast_classes.ts; last, because it lasts for the process), plus what constructing
 * postgres.js's per-statement `Result` costs against the same class with plain fields (before and
 * after fastening). No pool runs here: it separates the driver's share of the end-to-end gap.
 * GC pauses come from `PerformanceObserver` "gc" entries, which only Node reports; on Deno and Bun
 * those columns are null and the CPU and `Result` figures stand alone.
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
 *   node --expose-gc --import tsx benchmarks/driver_gc.ts [--seconds 2] [--json out.json]
 * ```
 *
 * @module
 */

import { PerformanceObserver } from "node:perf_hooks";
import { writeFileSync } from "node:fs";
import process from "node:process";
// @ts-ignore: pg ships no types of its own (see peers/pg_peers.ts)
import pg from "pg";
import postgres from "postgres";
import { integer, parseCommandLine, text, UsageError, valueOption } from "../src/cli/args.ts";
import { measureOps, runtimeInfo } from "./lib/harness.ts";
import { fastenDriverClasses } from "../src/postgres/fast_classes.ts";

const WORKERS = 10;
const CONNECTIONS = 20;

interface Lease {
  run(statements: number): Promise<void>;
  close(): Promise<void>;
}

async function postgresJsLeases(url: string): Promise<Lease> {
  const idle = await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    const sql = postgres(url, { max: 1, idle_timeout: 0, max_lifetime: null, onnotice: () => {} });
    await sql`select 1`;
    return sql;
  }));
  const all = [...idle];
  return {
    async run(statements) {
      const sql = idle.pop()!; // WORKERS < CONNECTIONS: never empty
      try {
        for (let i = 0; i < statements; i++) await sql`select 1`;
      } finally {
        idle.push(sql);
      }
    },
    close: async () => void (await Promise.all(all.map((sql) => sql.end()))),
  };
}

/** postgres.js after `fastenDriverClasses`, as every agentpool process runs it. */
async function fastenedLeases(url: string): Promise<Lease> {
  const probe = postgres(url, { max: 1, onnotice: () => {} });
  const query = probe`select 1`;
  fastenDriverClasses(query, await query);
  await probe.end();
  return postgresJsLeases(url);
}

async function pgLeases(url: string): Promise<Lease> {
  const pool = new (pg as { Pool: new (o: object) => { connect(): Promise<{ query(t: string): Promise<unknown>; release(): void }>; end(): Promise<void> } }).Pool({ connectionString: url, max: CONNECTIONS });
  const warm = await Promise.all(Array.from({ length: CONNECTIONS }, () => pool.connect()));
  for (const client of warm) client.release();
  return {
    async run(statements) {
      const client = await pool.connect();
      try {
        for (let i = 0; i < statements; i++) await client.query("select 1");
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

interface Row {
  driver: string;
  statementsPerLease: number;
  statementsPerSec: number;
  cpuUsPerStatement: number;
  minorGcMsPer1kStatements: number | null;
  majorGcMsPer1kStatements: number | null;
}

// Deno lists "gc" among the entry types but reports none.
const GC_OBSERVABLE = runtimeInfo().name === "node";

/** `WORKERS` closed loops of leases for `ms`; GC time from the observer while they run. */
async function measureLeases(driver: string, lease: Lease, statements: number, ms: number): Promise<Row> {
  const gcMs = { minor: 0, major: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      // perf_hooks constants: 1 = minor (scavenge), 2 = major, 4 = incremental, 8 = weak callbacks
      if (kind === 1) gcMs.minor += entry.duration;
      else gcMs.major += entry.duration;
    }
  });
  const loop = async (until: number): Promise<number> => {
    let done = 0;
    await Promise.all(Array.from({ length: WORKERS }, async () => {
      while (performance.now() < until) {
        await lease.run(statements);
        done += statements;
      }
    }));
    return done;
  };
  await loop(performance.now() + 500); // warm-up
  if (GC_OBSERVABLE) observer.observe({ entryTypes: ["gc"] });
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const done = await loop(start + ms);
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  await new Promise((resolve) => setTimeout(resolve, 10)); // let the observer deliver
  observer.disconnect();
  return {
    driver,
    statementsPerLease: statements,
    statementsPerSec: (done * 1000) / elapsed,
    cpuUsPerStatement: (cpu.user + cpu.system) / done,
    minorGcMsPer1kStatements: GC_OBSERVABLE ? (gcMs.minor * 1000) / done : null,
    majorGcMsPer1kStatements: GC_OBSERVABLE ? (gcMs.major * 1000) / done : null,
  };
}

/**
 * postgres.js's `Result` (read from its source: the package exports no subpath) against the same
 * class with plain fields, and with what keeps its properties non-enumerable (as postgres.js wants:
 * `console.log` and `JSON.stringify` show only the rows) without `Object.defineProperties`.
 */
async function resultConstruction(): Promise<{ postgresJsResultNs: number; plainFieldsNs: number; privateFieldsNs: number }> {
  const url = new URL("../node_modules/postgres/src/result.js", import.meta.url);
  const { default: Result } = (await import(url.href)) as { default: new () => unknown[] };
  class PlainFields extends Array {
    count = null;
    state = null;
    command = null;
    columns = null;
    statement = null;
    static override get [Symbol.species](): ArrayConstructor {
      return Array;
    }
  }
  // The five fields postgres.js defines, each a private field behind a get/set pair on the prototype.
  class PrivateFields extends Array {
    #count: unknown = null;
    #state: unknown = null;
    #command: unknown = null;
    #columns: unknown = null;
    #statement: unknown = null;
    get count(): unknown {
      return this.#count;
    }
    set count(value: unknown) {
      this.#count = value;
    }
    get state(): unknown {
      return this.#state;
    }
    set state(value: unknown) {
      this.#state = value;
    }
    get command(): unknown {
      return this.#command;
    }
    set command(value: unknown) {
      this.#command = value;
    }
    get columns(): unknown {
      return this.#columns;
    }
    set columns(value: unknown) {
      this.#columns = value;
    }
    get statement(): unknown {
      return this.#statement;
    }
    set statement(value: unknown) {
      this.#statement = value;
    }
    static override get [Symbol.species](): ArrayConstructor {
      return Array;
    }
  }
  const OPS = 10_000;
  let keep: unknown;
  const time = (make: () => unknown) => measureOps(() => {
    for (let i = 0; i < OPS; i++) keep = make();
    return Promise.resolve(keep);
  }, OPS, false);
  const postgresJs = await time(() => new Result());
  const plain = await time(() => new PlainFields());
  const hidden = await time(() => new PrivateFields());
  return { postgresJsResultNs: postgresJs.p50NsPerOp, plainFieldsNs: plain.p50NsPerOp, privateFieldsNs: hidden.p50NsPerOp };
}

async function main(): Promise<void> {
  let values: { seconds?: number; json?: string };
  try {
    ({ values } = parseCommandLine("driver_gc", process.argv.slice(2), { seconds: valueOption(integer(1, 60)), json: valueOption(text) }));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`driver_gc.ts: ${error.message}`);
    process.exit(2);
  }
  const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const ms = (values.seconds ?? 2) * 1000;
  const rows: Row[] = [];
  const result = await resultConstruction(); // before anything fastens postgres.js's classes
  const drivers = [["postgres.js", postgresJsLeases], ["pg", pgLeases], ["postgres.js fastened", fastenedLeases]] as const;
  for (const [driver, open] of drivers) {
    for (const statements of [1, 2, 3]) {
      const lease = await open(url);
      const row = await measureLeases(driver, lease, statements, ms);
      await lease.close();
      rows.push(row);
      console.error(
        `${driver.padEnd(20)} ${statements} statement(s)/lease  ${row.statementsPerSec.toFixed(0).padStart(6)} st/s  ` +
          `CPU ${row.cpuUsPerStatement.toFixed(1)} µs/st` +
          (row.minorGcMsPer1kStatements === null ? "" : `  GC minor ${row.minorGcMsPer1kStatements.toFixed(2)} ms/1k st, major ${row.majorGcMsPer1kStatements!.toFixed(2)}`),
      );
    }
  }
  const fastened = await resultConstruction();
  console.error(`new Result(): postgres.js ${result.postgresJsResultNs.toFixed(0)} ns (fastened: ${fastened.postgresJsResultNs.toFixed(0)} ns), same class with plain fields ${result.plainFieldsNs.toFixed(0)} ns, with private fields behind prototype accessors ${result.privateFieldsNs.toFixed(0)} ns`);
  if (values.json !== undefined) {
    writeFileSync(values.json, JSON.stringify({ runtime: runtimeInfo(), at: new Date().toISOString(), rows, result, fastenedResult: fastened }, null, 2) + "\n");
  }
}

await main();
