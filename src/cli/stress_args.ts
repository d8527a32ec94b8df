/**
 * Command-line arguments of `agentpool stress`. Bad input throws {@linkcode UsageError} naming the
 * flag and the value; the command exits 2 on it.
 *
 * @module
 */

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
  help: boolean;
}

/** A bad command line (exit code 2). */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** `agentpool stress --help`. */
export const STRESS_USAGE = `Usage: agentpool stress [options]

Runs a team of agents (claim → read context → heartbeat → artifact + complete → parent progress)
against PostgreSQL through the pool, then reports and checks the product's criteria.

Options:
  --agents N            agents in the team (default 50)
  --duration S          seconds of measured load (default 60)
  --warmup S            seconds of load before measuring, not counted (default 2)
  --database-url URL    PostgreSQL to use (default: start an embedded PostgreSQL 18, removed after)
  --min N               pool minConnections (default 5)
  --max N               pool maxConnections (default 20)
  --overflow N          pool overflow above max (default 10; cap = max + overflow)
  --think MIN-MAX       think time between an agent's steps in ms (default 10-40)
  --work MIN-MAX        agent work inside a transaction, holding the connection, in ms (default 1-4)
  --long-holders N      agents that sometimes hold a transaction 100-500 ms (default 2)
  --json                print the report as JSON on stdout
  --json-file FILE      also write the JSON report to FILE
  --report FILE.html    write a self-contained HTML report with charts
  -h, --help            show this help

Exit code: 0 when every criterion passed, 1 when one failed, 2 on a bad command line.`;

const DEFAULTS: StressArgs = {
  agents: 50,
  duration: 60,
  warmup: 2,
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
  help: false,
};

function integer(flag: string, raw: string, min: number): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(value) || value < min) {
    throw new UsageError(`Invalid value for ${flag}: ${JSON.stringify(raw)} (expected an integer >= ${min})`);
  }
  return value;
}

function positive(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`Invalid value for ${flag}: ${JSON.stringify(raw)} (expected a positive number)`);
  }
  return value;
}

function nonNegative(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`Invalid value for ${flag}: ${JSON.stringify(raw)} (expected a number >= 0)`);
  }
  return value;
}

function range(flag: string, raw: string): [number, number] {
  const match = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(raw.trim());
  const lo = match ? Number(match[1]) : NaN;
  const hi = match ? Number(match[2] ?? match[1]) : NaN;
  if (!match || lo > hi) throw new UsageError(`Invalid value for ${flag}: ${JSON.stringify(raw)} (expected MIN-MAX milliseconds, e.g. 5-25)`);
  return [lo, hi];
}

function url(flag: string, raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(`Invalid value for ${flag}: not a URL (expected postgres://user@host:port/database)`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    // Never echo the URL: it may carry a password.
    throw new UsageError(`Invalid value for ${flag}: protocol ${JSON.stringify(parsed.protocol)} (expected postgres: or postgresql:)`);
  }
  return raw;
}

/**
 * Parses `argv` (after `stress`). `--flag value` and `--flag=value` both work.
 *
 * @example
 * ```ts
 * const args = parseStressArgs(["--agents", "10", "--duration=3", "--json"]);
 * args.agents; // 10
 * ```
 */
export function parseStressArgs(argv: readonly string[]): StressArgs {
  const args: StressArgs = { ...DEFAULTS, thinkMs: [...DEFAULTS.thinkMs], workMs: [...DEFAULTS.workMs] };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    const eq = token.indexOf("=");
    const flag = token.startsWith("--") && eq > 0 ? token.slice(0, eq) : token;
    const inline = token.startsWith("--") && eq > 0 ? token.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new UsageError(`Missing value for ${flag}`);
      i++;
      return next;
    };
    switch (flag) {
      case "--agents": args.agents = integer(flag, value(), 1); break;
      case "--duration": args.duration = positive(flag, value()); break;
      case "--warmup": args.warmup = nonNegative(flag, value()); break;
      case "--database-url": args.databaseUrl = url(flag, value()); break;
      case "--min": args.min = integer(flag, value(), 0); break;
      case "--max": args.max = integer(flag, value(), 1); break;
      case "--overflow": args.overflow = integer(flag, value(), 0); break;
      case "--think": args.thinkMs = range(flag, value()); break;
      case "--work": args.workMs = range(flag, value()); break;
      case "--long-holders": args.longHolders = integer(flag, value(), 0); break;
      case "--report": args.report = value(); break;
      case "--json-file": args.jsonFile = value(); break;
      case "--json": args.json = true; break;
      case "-h":
      case "--help": args.help = true; break;
      default: throw new UsageError(`Unknown option ${JSON.stringify(token)} (see 'agentpool stress --help')`);
    }
  }
  if (args.min > args.max) throw new UsageError(`Invalid value for --min: ${args.min} (must not exceed --max ${args.max})`);
  return args;
}
