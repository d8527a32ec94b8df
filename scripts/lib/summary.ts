/**
 * The per-runtime summary table printed at the end of `npm test`.
 *
 * @module
 */
import type { RuntimeName, TestCounts } from "./runtimes.ts";

/** What one runtime's run produced. */
export interface RuntimeReport {
  runtime: RuntimeName;
  /** Undefined when the runner printed no summary (crash, kill, type-check error). */
  counts: TestCounts | undefined;
  durationMs: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

/** Why a runtime's run counts as failed, or `undefined` when it passed. */
export function failureReason(report: RuntimeReport): string | undefined {
  if (report.timedOut) return "timed out";
  if (report.signal !== null) return `killed by ${report.signal}`;
  if (report.counts !== undefined && report.counts.failed > 0) return `${report.counts.failed} failed`;
  if (report.counts === undefined) return `no test summary, exit code ${report.exitCode} (type-check or load error?)`;
  if (report.exitCode !== 0) return `exit code ${report.exitCode}`;
  if (report.counts.passed === 0) return "0 tests ran";
  return undefined;
}

/** The table plus the final `tests: N passed, M failed` line. */
export function formatSummary(reports: RuntimeReport[]): string {
  const header = ["runtime", "passed", "failed", "skipped", "duration", "exit", "result"];
  const rows = reports.map((r) => [
    r.runtime,
    String(r.counts?.passed ?? "?"),
    String(r.counts?.failed ?? "?"),
    String(r.counts?.skipped ?? "?"),
    `${(r.durationMs / 1000).toFixed(1)}s`,
    r.signal ?? String(r.exitCode),
    failureReason(r) === undefined ? "ok" : `FAILED: ${failureReason(r)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // Text columns left-aligned, numbers right-aligned.
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ").trimEnd();
  const passed = reports.reduce((sum, r) => sum + (r.counts?.passed ?? 0), 0);
  const failed = reports.reduce((sum, r) => sum + (r.counts?.failed ?? 0), 0);
  return [
    line(header),
    ...rows.map(line),
    "(each runner counts its own way: deno counts describe blocks and steps, bun skips t.test subtests)",
    `tests: ${passed} passed, ${failed} failed`,
  ].join("\n");
}
