/**
 * Bad command lines of the benchmark scripts exit 2 with a message naming the flag and value,
 * like the `agentpool` commands, on the runtime running the test. No database is touched: the
 * flags are checked before anything runs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runScript } from "./support/run_script.ts";

/** A database URL nobody listens on: should a bad flag slip through, the script fails otherwise than with 2. */
const run = (script: string, args: string[]) => runScript(script, args, { DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres" });

test("bench flags: end_to_end.ts, profile_e2e.ts and npm run bench name a bad flag and exit 2", async () => {
  const cases: [string, string[], RegExp][] = [
    ["benchmarks/end_to_end.ts", ["--peer", "pgbouncer"], /^end_to_end\.ts: Invalid value for --peer: "pgbouncer" \(expected one of agentpool, .*pgbench\)$/m],
    ["benchmarks/end_to_end.ts", ["--json"], /^end_to_end\.ts: Missing value for --json$/m],
    ["benchmarks/end_to_end.ts", ["--fast"], /^end_to_end\.ts: Unknown option "--fast"/m],
    ["benchmarks/profile_e2e.ts", ["--seconds", "0"], /^profile_e2e\.ts: Invalid value for --seconds: "0" \(expected an integer >= 1\)$/m],
    ["scripts/bench.ts", ["--rounds", "zero"], /^npm run bench: Invalid value for --rounds: "zero" \(expected an integer >= 1\)$/m],
    ["scripts/bench.ts", ["--runtime", "java"], /^npm run bench: Invalid value for --runtime: "java" \(expected one of node, deno, bun\)$/m],
    ["scripts/bench.ts", ["--clock", "sundial"], /^npm run bench: Invalid value for --clock: "sundial"/m],
  ];
  for (const [script, args, message] of cases) {
    const { code, stderr } = await run(script, args);
    assert.equal(code, 2, `${script} ${args.join(" ")}: exit ${code}\n${stderr}`);
    assert.match(stderr, message);
  }
});
