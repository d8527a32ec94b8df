/**
 * `npm test`'s summary (scripts/lib/junit.ts, summary.ts): the JUnit reports that Node, Deno and
 * Bun really wrote for one sample file (tests/support/junit/, made from the same five tests:
 * a describe with a passing and a failing test, a test with a subtest, a failing test, a skipped
 * one) count the same on all three, and the closing line is the plain one CI reads.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { countCases, readJUnit } from "../scripts/lib/junit.ts";
import { formatSummary, type RuntimeReport } from "../scripts/lib/summary.ts";

const sample = (runtime: string): string =>
  readFileSync(new URL(`./support/junit/${runtime}.xml`, import.meta.url), "utf8");

test("runner summary: the three runners' JUnit reports of one file count alike", () => {
  for (const runtime of ["node", "deno", "bun"]) {
    const counts = countCases(readJUnit(sample(runtime)));
    assert.equal(counts.passed, 2, `${runtime} passed`);
    assert.equal(counts.failed, 2, `${runtime} failed`);
    assert.equal(counts.skipped, 1, `${runtime} skipped`);
    assert.deepEqual(counts.failures.toSorted(), ["suite A > a2 fails", "top fails"], `${runtime} failures`);
  }
});

test("runner summary: attributes are decoded, '>' inside them is no end of tag", () => {
  const xml = `<testsuites><testsuite name="a &amp; b"><testcase name="x &lt;y> &quot;z&quot; &#233;">` +
    `<failure message="at TestContext.&lt;anonymous> (file.ts:1)">...</failure></testcase></testsuite></testsuites>`;
  assert.deepEqual(readJUnit(xml), [{ name: `a & b > x <y> "z" é`, status: "failed" }]);
});

test("runner summary: a failed container counts only when none of its children failed", () => {
  // Deno reports a describe block as a test case too: a failed before() hook fails it alone.
  const hook = countCases([{ name: "s", status: "failed" }, { name: "s > t", status: "passed" }]);
  assert.deepEqual(hook, { passed: 1, failed: 1, skipped: 0, failures: ["s"] });
  const child = countCases([{ name: "s", status: "failed" }, { name: "s > t", status: "failed" }]);
  assert.deepEqual(child, { passed: 0, failed: 1, skipped: 0, failures: ["s > t"] });
});

test("runner summary: Node's stand-in for a file with no tests counts only when it failed", () => {
  const counts = countCases([
    { name: "/repo/tests/pgbouncer_multiprocess.test.ts", status: "passed" },
    { name: "/repo/tests/broken.test.ts", status: "failed" },
  ]);
  assert.deepEqual(counts, { passed: 0, failed: 1, skipped: 0, failures: ["/repo/tests/broken.test.ts"] });
});

test("runner summary: lists failed and not-run tests and closes with the plain line", () => {
  const notRun = [{ test: "PgBouncer suite", tool: "pgbouncer" as const, reason: "not installed", install: "apt-get install -y pgbouncer" }];
  const base = { durationMs: 1000, signal: null, timedOut: false };
  const reports: RuntimeReport[] = [
    { ...base, runtime: "node", exitCode: 1, notRun, counts: { passed: 5, failed: 1, skipped: 0, failures: ["a > b"] } },
    { ...base, runtime: "bun", exitCode: 0, notRun, counts: { passed: 6, failed: 0, skipped: 0, failures: [] } },
  ];
  const lines = formatSummary(reports).split("\n");
  assert.equal(lines.at(-1), "tests: 11 passed, 1 failed, 2 skipped");
  assert.ok(lines.includes("  node: a > b"), "the failed test by runtime and name");
  assert.ok(
    lines.includes('  "PgBouncer suite" [node, bun]: not installed; install: apt-get install -y pgbouncer'),
    "the not-run test once, with its runtimes, reason and install command",
  );
  assert.match(lines.find((l) => l.startsWith("node"))!, /FAILED: 1 failed$/);
  const clean = formatSummary([{ ...reports[1]!, notRun: [] }]).split("\n").at(-1);
  assert.equal(clean, "tests: 6 passed, 0 failed");
});
