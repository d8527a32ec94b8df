/**
 * The stress HTML report's charts, drawn by agentpool's one chart module (`src/admin/chart.ts`,
 * which also draws the dashboard's): a line chart with its legend, and a bar chart. Inline SVG,
 * no scripts, no external assets.
 *
 * @module
 */

import { type Bar, barChart as bars, chartLegend, lineChart as lines, type RefLine, type Series } from "../admin/chart.ts";
import { escapeMarkup } from "../admin/markup.ts";

export type { Bar, RefLine, Series };

/**
 * Escapes text for HTML and SVG.
 *
 * @example
 * ```ts
 * import { esc } from "./stress_svg.ts";
 * esc("p99 < 10 ms"); // "p99 &#60; 10 ms"
 * ```
 */
export const esc: (text: string) => string = escapeMarkup;

/**
 * A line chart over `x` (seconds) with its legend, as HTML.
 *
 * @example
 * ```ts
 * import { lineChart } from "./stress_svg.ts";
 * lineChart([{ name: "tx/s", color: "#2563eb", points: [[1, 900], [2, 950]] }], { yUnit: "tx/s" });
 * ```
 */
export function lineChart(
  series: readonly Series[],
  options: { yUnit: string; xUnit?: string; refs?: readonly RefLine[]; yMaxAtLeast?: number },
): string {
  return chartLegend(series) + lines(series, { ...options, xUnit: options.xUnit ?? "seconds" });
}

/**
 * A vertical bar chart (one bar per agent) as an SVG string, with a dashed mean line.
 *
 * @example
 * ```ts
 * import { barChart } from "./stress_svg.ts";
 * barChart([{ label: "agent-1", value: 120, color: "#2563eb" }], { yUnit: "tasks" });
 * ```
 */
export function barChart(data: readonly Bar[], options: { yUnit: string; mean?: number }): string {
  return bars(data, options);
}
