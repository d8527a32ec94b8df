/**
 * How each runtime runs the test files and how its summary line is read back.
 *
 * @module
 */
import process from "node:process";

/** Bun's per-test timeout (its default is 5 s). */
const BUN_TEST_TIMEOUT_MS = 120_000;
/** Node 20 applies --test-timeout to each whole test file, not to each test. */
const NODE_FILE_TIMEOUT_MS = 600_000;

/** The runtimes `npm test` runs, in this order. */
export const RUNTIME_NAMES = ["node", "deno", "bun"] as const;

/** One of {@linkcode RUNTIME_NAMES}. */
export type RuntimeName = typeof RUNTIME_NAMES[number];

/** Test counts as one runner reports them; `undefined` when no summary was found. */
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/** A runtime's test command and summary parser. */
export interface Runtime {
  name: RuntimeName;
  /** Executable and arguments that run `files` (paths relative to the repo root). */
  command(files: string[]): { file: string; args: string[] };
  /** Extra environment for the child. */
  env: Record<string, string>;
  /** Read the counts from the runner's whole output (ANSI codes already stripped). */
  parse(output: string): TestCounts | undefined;
}

/** The three runtimes; binaries come from node_modules/.bin (not npx, which does not forward signals). */
export const RUNTIMES: Record<RuntimeName, Runtime> = {
  node: {
    name: "node",
    // Node 20 finds 0 tests given a directory, so files are listed. One file at a time: the
    // files share one database and a 2-core machine, so parallel files only add flakiness.
    // --test-force-exit: a leaked handle would otherwise hang the run (Deno's sanitizers report leaks).
    command: (files) => ({
      file: process.execPath,
      args: [
        "--import",
        "tsx",
        "--test",
        "--test-concurrency=1",
        `--test-timeout=${NODE_FILE_TIMEOUT_MS}`,
        "--test-force-exit",
        "--test-reporter=spec",
        ...files,
      ],
    }),
    env: {},
    // "ℹ pass 6" (spec reporter) or "# pass 6" (tap). Cancelled tests (timeouts, crashed files) fail.
    parse: (output) => {
      const pass = lastNumber(output, /^(?:ℹ|#) pass (\d+)$/gm);
      const fail = lastNumber(output, /^(?:ℹ|#) fail (\d+)$/gm);
      if (pass === undefined || fail === undefined) return undefined;
      const cancelled = lastNumber(output, /^(?:ℹ|#) cancelled (\d+)$/gm) ?? 0;
      const skipped = (lastNumber(output, /^(?:ℹ|#) skipped (\d+)$/gm) ?? 0) +
        (lastNumber(output, /^(?:ℹ|#) todo (\d+)$/gm) ?? 0);
      return { passed: pass, failed: fail + cancelled, skipped };
    },
  },
  deno: {
    name: "deno",
    // -A: tests start servers and child processes. Sanitizers stay on (the default).
    command: (files) => ({ file: "node_modules/.bin/deno", args: ["test", "-A", ...files] }),
    // The machine sets RUST_BACKTRACE=1, which adds an empty "Stack backtrace" to every failure.
    env: { RUST_BACKTRACE: "0" },
    // "ok | 2 passed (5 steps) | 0 failed | 1 ignored (13ms)"; describe/it become tests and steps.
    parse: (output) => {
      const matches = [...output.matchAll(
        /^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?(?: \| (\d+) ignored(?: \((\d+) steps?\))?)?/gm,
      )];
      const m = matches.at(-1);
      if (m === undefined) return undefined;
      const n = (i: number): number => Number(m[i] ?? 0);
      return { passed: n(1) + n(2), failed: n(3) + n(4), skipped: n(5) + n(6) };
    },
  },
  bun: {
    name: "bun",
    // "./" makes bun treat the arguments as paths, not as name filters. Bun's default per-test
    // timeout is 5 s and bunfig.toml cannot change it.
    command: (files) => ({
      file: "node_modules/.bin/bun",
      args: ["test", "--timeout", String(BUN_TEST_TIMEOUT_MS), ...files.map((f) => `./${f}`)],
    }),
    env: {},
    // " 4 pass", " 1 skip", " 1 fail" on their own lines.
    parse: (output) => {
      const pass = lastNumber(output, /^\s*(\d+) pass$/gm);
      const fail = lastNumber(output, /^\s*(\d+) fail$/gm);
      if (pass === undefined || fail === undefined) return undefined;
      const skipped = (lastNumber(output, /^\s*(\d+) skip$/gm) ?? 0) + (lastNumber(output, /^\s*(\d+) todo$/gm) ?? 0);
      return { passed: pass, failed: fail, skipped };
    },
  },
};

function lastNumber(text: string, pattern: RegExp): number | undefined {
  const match = [...text.matchAll(pattern)].at(-1);
  return match === undefined ? undefined : Number(match[1]);
}
