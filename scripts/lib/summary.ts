/**
 * The summary printed at the end of `npm test`: a per-runtime table, the failed tests, the tests
 * not run for a missing tool, and the closing `tests: N passed, M failed` line.
 *
 * @module
 */
import type { NotRunRecord } from "../../tests/support/tools.ts";
import type { CaseCounts } from "./junit.ts";
import type { RuntimeName } from "./runtimes.ts";

/** What one runtime's run produced. */
export interface RuntimeReport {
  runtime: RuntimeName;
  /** From the runner's JUnit report; `undefined` when it wrote none (crash, kill, type-check error). */
  counts: CaseCounts | undefined;
  /** Tests a gate did not register because their tool is missing (tests/support/tools.ts). */
  notRun: NotRunRecord[];
  durationMs: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

/** Why a runtime's run counts as failed, or `undefined` when it passed. The exit code decides first. */
export function failureReason(report: RuntimeReport): string | undefined {
  if (report.timedOut) return "timed out";
  if (report.signal !== null) return `killed by ${report.signal}`;
  if (report.counts !== undefined && report.counts.failed > 0) return `${report.counts.failed} failed`;
  if (report.exitCode !== 0) return `exit code ${report.exitCode}`;
  if (report.counts === undefined) return "exit code 0 but no JUnit report";
  if (report.counts.passed === 0 && report.notRun.length === 0) return "0 tests ran";
  return undefined;
}

/** The table, the failed and not-run tests, and the closing line. */
export function formatSummary(reports: RuntimeReport[]): string {
  const header = ["runtime", "passed", "failed", "skipped", "not run", "duration", "exit", "result"];
  const rows = reports.map((r) => [
    r.runtime,
    String(r.counts?.passed ?? "?"),
    String(r.counts?.failed ?? "?"),
    String(r.counts?.skipped ?? "?"),
    String(r.notRun.length),
    `${(r.durationMs / 1000).toFixed(1)}s`,
    r.signal ?? String(r.exitCode),
    failureReason(r) === undefined ? "ok" : `FAILED: ${failureReason(r)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // Text columns left-aligned, numbers right-aligned.
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ").trimEnd();
  const sum = (pick: (r: RuntimeReport) => number): number => reports.reduce((total, r) => total + pick(r), 0);
  const passed = sum((r) => r.counts?.passed ?? 0);
  const failed = sum((r) => r.counts?.failed ?? 0);
  const skipped = sum((r) => (r.counts?.skipped ?? 0) + r.notRun.length);
  const failures = reports.flatMap((r) => (r.counts?.failures ?? []).map((name) => `  ${r.runtime}: ${name}`));
  return [
    line(header),
    ...rows.map(line),
    "(counted from each runner's JUnit report: leaf tests; bun does not run t.test subtests)",
    ...(failures.length > 0 ? ["", "failed:", ...failures] : []),
    ...formatNotRun(reports),
    `tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`,
  ].join("\n");
}

/** One line per test that was not run, naming the runtimes, the reason and the install command. */
function formatNotRun(reports: RuntimeReport[]): string[] {
  const byTest = new Map<string, { record: NotRunRecord; runtimes: RuntimeName[] }>();
  for (const report of reports) {
    for (const record of report.notRun) {
      const entry = byTest.get(record.test) ?? { record, runtimes: [] };
      entry.runtimes.push(report.runtime);
      byTest.set(record.test, entry);
    }
  }
  if (byTest.size === 0) return [];
  return [
    "",
    "not run (a tool they need is missing; under CI=true these fail):",
    ...[...byTest.values()].map(({ record, runtimes }) =>
      `  ${JSON.stringify(record.test)} [${runtimes.join(", ")}]: ${record.reason}; install: ${record.install}`
    ),
  ];
}
