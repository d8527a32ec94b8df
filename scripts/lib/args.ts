/**
 * Command-line arguments of `npm test`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RUNTIME_NAMES, type RuntimeName } from "./runtimes.ts";

/** What `npm test -- ...` asked for. */
export interface TestArgs {
  /** Runtimes to run, in the fixed order node, deno, bun. */
  runtimes: RuntimeName[];
  /** Test files or directories given on the command line; empty means all of tests/. */
  paths: string[];
  /** Kill a runtime's test run after this long. */
  timeoutMs: number;
  /** Print usage and exit. */
  help: boolean;
}

/** Usage text for `npm test -- --help`. */
export const USAGE: string = `Usage: npm test -- [--runtime node|deno|bun]... [--timeout-minutes N] [FILE|DIR]...

Runs tests/**/*.test.ts (or the given files/directories) on Node, Deno and Bun in turn,
against DATABASE_URL or, when it is unset, a temporary embedded PostgreSQL 18.

  --runtime, -r NAME     only this runtime; repeatable or comma-separated (default: all three)
  --timeout-minutes N    kill a runtime's run after N minutes (default 20, env TEST_TIMEOUT_MINUTES)
  --help, -h             this text`;

/**
 * Parse `argv` (without the node and script entries).
 *
 * @throws {TypeError} on unknown options or runtime names, or a bad timeout.
 */
export function parseTestArgs(argv: string[], env: Record<string, string | undefined>): TestArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runtime: { type: "string", short: "r", multiple: true },
      "timeout-minutes": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const asked = (values.runtime ?? []).flatMap((value) => value.split(",")).map((v) => v.trim());
  for (const name of asked) {
    if (!(RUNTIME_NAMES as readonly string[]).includes(name)) {
      throw new TypeError(`Unknown runtime ${JSON.stringify(name)}: expected one of ${RUNTIME_NAMES.join(", ")}`);
    }
  }
  const minutes = Number(values["timeout-minutes"] ?? env.TEST_TIMEOUT_MINUTES ?? 20);
  if (!Number.isFinite(minutes) || minutes <= 0) {
    throw new TypeError(`Cannot run tests as the timeout must be a positive number of minutes: current value is ${minutes}`);
  }
  return {
    runtimes: RUNTIME_NAMES.filter((name) => asked.length === 0 || asked.includes(name)),
    paths: positionals,
    timeoutMs: minutes * 60_000,
    help: values.help ?? false,
  };
}
