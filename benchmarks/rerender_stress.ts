/**
 * Re-renders saved `agentpool stress` reports (the `--json-file` copies) with the current
 * criteria, diagnosis, text and HTML: each `<name>.json` → `<name>.txt` and `<name>.html` next to
 * it. Useful when the report's wording or criteria changed after a run; the measurements are not
 * touched.
 *
 * ```sh
 * node --import tsx benchmarks/rerender_stress.ts benchmarks/results/stress/2026-12-01-*.json
 * ```
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { renderHtmlReport } from "../src/cli/stress_html.ts";
import { bottleneckLine, evaluate, formatReport, type StressReport } from "../src/cli/stress_report.ts";

for (const file of process.argv.slice(2)) {
  const report = JSON.parse(readFileSync(file, "utf8")) as StressReport;
  report.database.bottleneck = bottleneckLine(report);
  report.criteria = evaluate(report);
  report.pass = report.criteria.every((c) => c.pass);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(file.replace(/\.json$/, ".txt"), `${formatReport(report)}\n`);
  writeFileSync(file.replace(/\.json$/, ".html"), renderHtmlReport(report));
  console.error(`${file}: ${report.pass ? "PASS" : "FAIL"}`);
}
