/**
 * Tests that need a program `npm install` may not provide. Runs on Node (tsx), Deno and Bun.
 *
 * Wrap such tests with a gate instead of calling `test`/`describe` directly:
 *
 * ```ts
 * import { it } from "node:test";
 * const pgbouncer = requireTool("pgbouncer");
 * pgbouncer.describe("PgBouncer in front of the pool", () => {
 *   it("commits through it", () => {}); // startPgBouncer() runs the PgBouncer the gate found
 * });
 * ```
 *
 * When the tool is there, the gate is plain `describe`/`test`. When it is missing:
 * - normally the tests are **not run**: none is registered, a line naming each test, the reason
 *   and the one command that installs the tool goes to stderr, and (under `npm test`) a record
 *   goes to the file named by `AGENTPOOL_NOT_RUN_FILE`, which the runner lists in its summary.
 *   This works alike on node:test, `deno test` and `bun test`, whose skip support differs;
 * - under `CI=true` a test of that name is registered that fails with the same message, because
 *   CI installs every tool (see `.ci/run`) and must run everything.
 *
 * `AGENTPOOL_HIDE_TOOLS=pgbouncer,chromium` hides the system-wide (apt, PATH) copies of the named
 * tools, so a machine that has them can act like a fresh one (CI's new-user step does). A tool that
 * ships inside an npm package (the Chromium of `@sparticuz/chromium`) is part of `npm install` and
 * is not hidden.
 *
 * @module
 */
import { accessSync, appendFileSync, constants, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { describe as nodeDescribe, test as nodeTest, type TestContext } from "node:test";

/** The tools some tests need. */
export type ToolName = "pgbouncer" | "chromium";

/** Where a tool was found: a system executable, or the npm package that ships it. */
export interface ToolLocation {
  kind: "system" | "npm";
  /** The executable (system) or the package's directory (npm). */
  path: string;
}

/** One test the runner did not run, as recorded in `AGENTPOOL_NOT_RUN_FILE` (one JSON object per line). */
export interface NotRunRecord {
  test: string;
  tool: ToolName;
  reason: string;
  install: string;
}

/** The env switch that hides system tools, comma-separated. */
export const HIDE_TOOLS_ENV = "AGENTPOOL_HIDE_TOOLS";
/** Where `npm test` wants the not-run records. */
export const NOT_RUN_FILE_ENV = "AGENTPOOL_NOT_RUN_FILE";

interface ToolSpec {
  /** What a reader is told is missing. */
  description: string;
  /** The one command that installs it. */
  install: string;
  locate(hidden: boolean): ToolLocation | undefined;
}

const TOOLS: Record<ToolName, ToolSpec> = {
  pgbouncer: {
    description: "PgBouncer (no npm package ships it)",
    install: "apt-get install -y pgbouncer",
    locate: (hidden) => (hidden ? undefined : systemExecutable("pgbouncer", ["/usr/sbin/pgbouncer"])),
  },
  chromium: {
    description: "a headless Chromium",
    install: process.platform === "linux" && process.arch === "x64"
      ? "npm install (it ships @sparticuz/chromium)"
      : "apt-get install -y chromium (npm's @sparticuz/chromium is for Linux x64 only)",
    locate: (hidden) => npmChromium() ?? (hidden ? undefined : systemExecutable("chromium", ["/usr/bin/chromium"])),
  },
};

/** A tool gate: `describe`/`test` that run when the tool is there, see the module doc otherwise. */
export interface ToolGate {
  readonly name: ToolName;
  /** Where the tool is, or `undefined` when it is missing. */
  readonly location: ToolLocation | undefined;
  /** Why it is missing plus the install command, or `undefined` when it is there. */
  readonly missing: string | undefined;
  test(name: string, fn: TestFn): void;
  test(name: string, options: TestOptions, fn: TestFn): void;
  describe(name: string, fn: () => void): void;
}

/** A test body, as node:test takes it. */
export type TestFn = (t: TestContext) => void | Promise<void>;
/** The test options a gate passes on (those all three runtimes honour). */
export interface TestOptions {
  timeout?: number;
}

const gates = new Map<ToolName, ToolGate>();

/**
 * The gate for `name`, found once per process.
 *
 * @example
 * ```ts
 * const pgbouncer = requireTool("pgbouncer");
 * pgbouncer.test("a pool behind PgBouncer commits", async () => {
 *   // ... startPgBouncer(...) ...
 * });
 * ```
 */
export function requireTool(name: ToolName): ToolGate {
  let gate = gates.get(name);
  if (gate === undefined) {
    gate = makeGate(name);
    gates.set(name, gate);
  }
  return gate;
}

function makeGate(name: ToolName): ToolGate {
  const spec = TOOLS[name];
  const hidden = hiddenTools().has(name);
  const location = spec.locate(hidden);
  const reason = `${spec.description} is not installed${hidden ? ` (hidden by ${HIDE_TOOLS_ENV})` : ""}`;
  const missing = location === undefined ? `needs ${name}: ${reason}; install it with: ${spec.install}` : undefined;
  const ci = process.env.CI === "true";

  const gated = (kind: "test" | "describe", testName: string, register: () => void): void => {
    if (missing === undefined) return register();
    if (ci) {
      // CI installs every tool: a missing one is a failure, under the test's own name.
      nodeTest(testName, () => {
        throw new Error(`${missing} (CI=true runs every test)`);
      });
      return;
    }
    recordNotRun({ test: testName, tool: name, reason, install: spec.install });
    process.stderr.write(`not run: ${kind} ${JSON.stringify(testName)}: ${missing}\n`);
  };

  return {
    name,
    location,
    missing,
    test(testName: string, optionsOrFn: TestOptions | TestFn, maybeFn?: TestFn): void {
      gated("test", testName, () => {
        if (maybeFn === undefined) nodeTest(testName, optionsOrFn as TestFn);
        else nodeTest(testName, optionsOrFn as TestOptions, maybeFn);
      });
    },
    describe(testName: string, fn: () => void): void {
      gated("describe", testName, () => void nodeDescribe(testName, fn));
    },
  };
}

function hiddenTools(): Set<string> {
  return new Set((process.env[HIDE_TOOLS_ENV] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== ""));
}

function recordNotRun(record: NotRunRecord): void {
  const file = process.env[NOT_RUN_FILE_ENV];
  if (file !== undefined && file !== "") appendFileSync(file, `${JSON.stringify(record)}\n`);
}

/** `name` on PATH, else the first of `fallbacks` that is executable. */
function systemExecutable(name: string, fallbacks: string[]): ToolLocation | undefined {
  const dirs = (process.env.PATH ?? "").split(":").filter((d) => d !== "");
  for (const candidate of [...dirs.map((dir) => join(dir, name)), ...fallbacks]) {
    try {
      accessSync(candidate, constants.X_OK);
      return { kind: "system", path: candidate };
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The `@sparticuz/chromium` package directory, on the one platform it ships a binary for. */
function npmChromium(): ToolLocation | undefined {
  if (process.platform !== "linux" || process.arch !== "x64") return undefined;
  try {
    // The entry point's depth differs between versions: walk up to the package's own directory.
    let dir = dirname(createRequire(import.meta.url).resolve("@sparticuz/chromium"));
    while (!existsSync(join(dir, "bin", "chromium.br"))) {
      if (dirname(dir) === dir || basename(dir) === "node_modules") return undefined;
      dir = dirname(dir);
    }
    return { kind: "npm", path: dir };
  } catch {
    return undefined;
  }
}
