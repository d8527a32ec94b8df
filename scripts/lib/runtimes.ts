/**
 * How each runtime runs the test files: its own console output for people, plus a JUnit XML
 * report for the summary (see junit.ts).
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

/** A runtime's test command. */
export interface Runtime {
  name: RuntimeName;
  /** Executable and arguments that run `files` (paths relative to the repo root) and write JUnit XML to `report`. */
  command(files: string[], report: string): { file: string; args: string[] };
  /** Extra environment for the child. */
  env: Record<string, string>;
}

/** The three runtimes; binaries come from node_modules/.bin (not npx, which does not forward signals). */
export const RUNTIMES: Record<RuntimeName, Runtime> = {
  node: {
    name: "node",
    // Node 20 finds 0 tests given a directory, so files are listed. One file at a time: the
    // files share one database and a 2-core machine, so parallel files only add flakiness.
    // No --test-force-exit: on Node 20 it exits before the JUnit reporter has written its file.
    // A file that leaks a handle hangs until --test-timeout (Deno's sanitizers name such leaks).
    command: (files, report) => ({
      file: process.execPath,
      args: [
        "--import",
        "tsx",
        "--test",
        "--test-concurrency=1",
        `--test-timeout=${NODE_FILE_TIMEOUT_MS}`,
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=junit",
        `--test-reporter-destination=${report}`,
        ...files,
      ],
    }),
    env: {},
  },
  deno: {
    name: "deno",
    // -A: tests start servers and child processes. Sanitizers stay on (the default).
    command: (files, report) => ({
      file: "node_modules/.bin/deno",
      args: ["test", "-A", `--junit-path=${report}`, ...files],
    }),
    // The machine sets RUST_BACKTRACE=1, which adds an empty "Stack backtrace" to every failure.
    env: { RUST_BACKTRACE: "0" },
  },
  bun: {
    name: "bun",
    // "./" makes bun treat the arguments as paths, not as name filters. Bun's default per-test
    // timeout is 5 s and bunfig.toml cannot change it.
    command: (files, report) => ({
      file: "node_modules/.bin/bun",
      args: [
        "test",
        "--timeout",
        String(BUN_TEST_TIMEOUT_MS),
        "--reporter=junit",
        `--reporter-outfile=${report}`,
        ...files.map((f) => `./${f}`),
      ],
    }),
    env: {},
  },
};
