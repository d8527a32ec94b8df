/**
 * Command-line arguments of `agentpool stress`. Bad input throws {@linkcode UsageError} naming the
 * flag and the value; the command exits 2 on it.
 *
 * @module
 */

import {
  flagOption,
  integer,
  listOption,
  msRange,
  number,
  oneOf,
  parseCommandLine,
  postgresUrl,
  text,
  UsageError,
  valueOption,
} from "./args.ts";

/** Parsed `agentpool stress` options. */
export interface StressArgs {
  agents: number;
  /** Seconds of load, measured. */
  duration: number;
  /** Seconds of load before measuring (the pool opens its connections meanwhile). */
  warmup: number;
  /** PostgreSQL URL; undefined starts an embedded PostgreSQL. */
  databaseUrl: string | undefined;
  min: number;
  max: number;
  overflow: number;
  /** Think time between an agent's steps, [min, max] ms. */
  thinkMs: [number, number];
  /** Agent work inside a transaction, [min, max] ms. */
  workMs: [number, number];
  longHolders: number;
  json: boolean;
  /** Path of the HTML report, if asked for. */
  report: string | undefined;
  /** Path of a JSON copy of the report, if asked for. */
  jsonFile: string | undefined;
  /** Peers run on the comparison workload after the main run (empty: none). */
  peers: StressPeerName[];
  /** Seconds each pool (agentpool and every peer) runs the comparison workload, in all. */
  peerDuration: number;
  /** Turns the pools take on the comparison workload (each `peerDuration / peerRounds`). */
  peerRounds: number;
  /** Probe the database's capacity first, then offer `fraction` of it. */
  calibrate: boolean;
  /** With `calibrate`: the fraction of the probed capacity to offer, in (0, 1]. */
  fraction: number;
  /** With `calibrate`: seconds of the capacity probe. */
  probe: number;
  help: boolean;
}

export { UsageError };

/** The peers `--peers` can name: pg-pool + pg, postgres.js's own pool, and agentpool's pg `Pool` (once src/pg exists). */
export const STRESS_PEERS = ["pg-pool", "postgres.js", "agentpool-pg"] as const;
export type StressPeerName = typeof STRESS_PEERS[number];

/** `agentpool stress --help`. */
export const STRESS_USAGE = `Usage: agentpool stress [options]

Runs a team of agents (claim → read context → heartbeat → artifact + complete → parent progress)
against PostgreSQL through the pool, then reports and checks the product's criteria.

Options:
  --agents N            agents in the team (default 50)
  --duration S          seconds of measured load (default 60)
  --warmup S            seconds of load before measuring, not counted (default 5)
  --database-url URL    PostgreSQL to use (default: DATABASE_URL when set, else an embedded
                        PostgreSQL 18, started for the run and removed after)
  --min N               pool minConnections (default 5)
  --max N               pool maxConnections (default 20)
  --overflow N          pool overflow above max (default 10; cap = max + overflow)
  --think MIN-MAX       think time between an agent's steps in ms (default 10-40)
  --work MIN-MAX        agent work inside a transaction, holding the connection, in ms (default 1-4)
  --long-holders N      agents that sometimes hold a transaction 100-500 ms (default 2)
  --peers LIST          peers run on the comparison workload: pg-pool, postgres.js, agentpool-pg
                        (agentpool's pg Pool, skipped until src/pg exists), or none
                        (default pg-pool,postgres.js,agentpool-pg)
  --peer-duration S     seconds per pool on the comparison workload (default: --duration, at most 15)
  --peer-rounds N       the pools take N turns of peer-duration/N each (default 2), so a change in
                        machine load hits them alike
  --calibrate           probe the database's capacity first (--probe S, default 5), then offer
                        --fraction F of it (default 0.6) instead of using --think
  --json                print the report as JSON on stdout
  --json-file FILE      also write the JSON report to FILE
  --report FILE.html    write a self-contained HTML report with charts
  -h, --help            show this help

Exit code: 0 when every criterion passed, 1 when one failed, 2 on a bad command line.`;

const DEFAULTS: Omit<StressArgs, "peerDuration"> = {
  agents: 50,
  duration: 60,
  warmup: 5,
  databaseUrl: undefined,
  min: 5,
  max: 20,
  overflow: 10,
  thinkMs: [10, 40],
  workMs: [1, 4],
  longHolders: 2,
  json: false,
  report: undefined,
  jsonFile: undefined,
  peers: [...STRESS_PEERS],
  peerRounds: 2,
  calibrate: false,
  fraction: 0.6,
  probe: 5,
  help: false,
};

const SPEC = {
  agents: valueOption(integer(1)),
  duration: valueOption(number("positive")),
  warmup: valueOption(number("non-negative")),
  "database-url": valueOption(postgresUrl),
  min: valueOption(integer(0)),
  max: valueOption(integer(1)),
  overflow: valueOption(integer(0)),
  think: valueOption(msRange),
  work: valueOption(msRange),
  "long-holders": valueOption(integer(0)),
  report: valueOption(text),
  "json-file": valueOption(text),
  json: flagOption(),
  peers: listOption(oneOf([...STRESS_PEERS, "none"])),
  "peer-duration": valueOption(number("positive")),
  "peer-rounds": valueOption(integer(1)),
  calibrate: flagOption(),
  fraction: valueOption(number("fraction")),
  probe: valueOption(number("positive")),
  help: flagOption("h"),
};

/**
 * Parses `argv` (after `stress`). `--flag value` and `--flag=value` both work. Without
 * `--database-url`, `env.DATABASE_URL` (when set) names the database, as for `npm start` and
 * `npm test`.
 *
 * @example
 * ```ts
 * const args = parseStressArgs(["--agents", "10", "--duration=3", "--json"]);
 * args.agents; // 10
 * parseStressArgs([], { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres" }).databaseUrl; // that URL
 * ```
 */
export function parseStressArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): StressArgs {
  const { values: v } = parseCommandLine("agentpool stress", argv, SPEC);
  const duration = v.duration ?? DEFAULTS.duration;
  const peers = v.peers ?? DEFAULTS.peers;
  if (peers.includes("none") && peers.length > 1) throw new UsageError(`Invalid value for --peers: ${JSON.stringify(peers.join(","))} (none cannot be combined with peers)`);
  const args: StressArgs = {
    agents: v.agents ?? DEFAULTS.agents,
    duration,
    warmup: v.warmup ?? DEFAULTS.warmup,
    databaseUrl: v["database-url"] ?? (env.DATABASE_URL ? postgresUrl("DATABASE_URL", env.DATABASE_URL) : undefined),
    min: v.min ?? DEFAULTS.min,
    max: v.max ?? DEFAULTS.max,
    overflow: v.overflow ?? DEFAULTS.overflow,
    thinkMs: v.think ?? [...DEFAULTS.thinkMs],
    workMs: v.work ?? [...DEFAULTS.workMs],
    longHolders: v["long-holders"] ?? DEFAULTS.longHolders,
    json: v.json ?? false,
    report: v.report,
    jsonFile: v["json-file"],
    peers: peers.filter((p): p is StressPeerName => p !== "none"),
    peerDuration: v["peer-duration"] ?? Math.min(duration, 15),
    peerRounds: v["peer-rounds"] ?? DEFAULTS.peerRounds,
    calibrate: v.calibrate ?? false,
    fraction: v.fraction ?? DEFAULTS.fraction,
    probe: v.probe ?? DEFAULTS.probe,
    help: v.help ?? false,
  };
  if (args.min > args.max) throw new UsageError(`Invalid value for --min: ${args.min} (must not exceed --max ${args.max})`);
  if (!args.calibrate && (v.fraction !== undefined || v.probe !== undefined)) {
    throw new UsageError(`Invalid value for ${v.fraction !== undefined ? "--fraction" : "--probe"}: it applies only with --calibrate`);
  }
  return args;
}
