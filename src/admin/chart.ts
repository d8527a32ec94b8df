/**
 * agentpool's one chart module: a line/area chart and a bar chart as SVG strings, pure functions
 * with no imports beyond markup escaping, so the same code draws the dashboard's charts (bundled
 * into its browser script) and the stress report's (inline in a static HTML file).
 *
 * Styling is the caller's: each element carries a class (`grid`, `tick`, `axis`, `axisline`,
 * `ref`, `empty`, plus a series' or bar's own `className`), and a `color` becomes a plain
 * fill/stroke attribute where given.
 *
 * @module
 */

import { escapeMarkup } from "./markup.ts";

/** A point of a series: `[x, y]`. */
export type Point = readonly [x: number, y: number];

/** One line of a {@linkcode lineChart}. */
export interface Series {
  readonly name: string;
  readonly points: readonly Point[];
  /** Stroke (and area fill) colour; without it, style the `className` in CSS. */
  readonly color?: string;
  /** Added to the series' `path` elements (`area` / `line` tell the two apart). */
  readonly className?: string;
  /** Fill the area under the line, down to `base` (or 0). */
  readonly area?: boolean;
  /** The area's lower edge per point (same length as `points`): stacks one area on another. */
  readonly base?: readonly number[];
  readonly dashed?: boolean;
}

/** A horizontal reference line (a limit, the cap). */
export interface RefLine {
  readonly y: number;
  readonly label?: string;
  readonly color?: string;
  readonly className?: string;
}

/** A labelled tick on the x axis. */
export interface AxisTick {
  readonly at: number;
  readonly label: string;
  readonly anchor?: "start" | "middle" | "end";
}

/** Inner margins of a chart, in SVG units. */
export interface Padding {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/** Size and frame shared by both charts. */
export interface ChartFrame {
  /** Default 1080. */
  readonly width?: number;
  /** Default 250. */
  readonly height?: number;
  /** Default `{ left: 64, right: 20, top: 16, bottom: 40 }`. */
  readonly padding?: Padding;
  /** Rotated label of the y axis. */
  readonly yUnit?: string;
  /** Shown in the middle instead of a chart when there is nothing to draw. */
  readonly emptyText?: string;
}

/** Options of {@linkcode lineChart}. */
export interface LineChartOptions extends ChartFrame {
  /** Label at the right end of the x axis. */
  readonly xUnit?: string;
  readonly refs?: readonly RefLine[];
  /** The y axis reaches at least this high (and 15 % above every reference line). */
  readonly yMaxAtLeast?: number;
  /** A fixed y axis: it ends at the round value at or above this, and higher values are drawn at the top. */
  readonly yMax?: number;
  /** About this many y gridlines. Default 5. */
  readonly yTicks?: number;
  /** The x domain and its ticks; default 0 to a round value above the last point, with round ticks. */
  readonly x?: { readonly min: number; readonly max: number; readonly ticks: readonly AxisTick[] };
}

/** One bar of a {@linkcode barChart}. */
export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly color?: string;
  readonly className?: string;
  /** Tooltip; default `label: value`. */
  readonly title?: string;
  /** Small text above the bar (a share, a count). */
  readonly note?: string;
}

/** Options of {@linkcode barChart}. */
export interface BarChartOptions extends ChartFrame {
  /** A dashed line at this value, labelled `mean …`. */
  readonly mean?: number;
  /** Heights on a log(1 + value) scale, for counts spanning orders of magnitude; no y axis then. */
  readonly logScale?: boolean;
  /** Centred text under the x labels. */
  readonly caption?: string;
  /** At most this many bar labels (every k-th bar is labelled). Default 25. */
  readonly maxLabels?: number;
}

const WIDTH = 1080;
const HEIGHT = 250;
const PADDING: Padding = { left: 64, right: 20, top: 16, bottom: 40 };

/**
 * A round axis maximum for `max` and its step (1, 2, 2.5, 5 × 10^n), for about `ticks` steps.
 *
 * @example
 * ```ts
 * import { niceScale } from "./chart.ts";
 * niceScale(23); // { top: 25, step: 5 }
 * ```
 */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 1 / ticks };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

/**
 * A short axis label: `0`, `0.25`, `12`, `1.5k`.
 *
 * @example
 * ```ts
 * import { tickLabel } from "./chart.ts";
 * tickLabel(1500); // "1.5k"
 * ```
 */
export function tickLabel(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}

/** A coordinate with at most one decimal. */
const n = (v: number): string => String(Math.round(v * 10) / 10);
const cls = (...names: (string | undefined)[]): string => names.filter((name) => name).join(" ");

function text(x: number, y: number, className: string, content: string, anchor = "middle", extra = ""): string {
  return `<text x="${n(x)}" y="${n(y)}" text-anchor="${anchor}" class="${className}"${extra}>${escapeMarkup(content)}</text>`;
}

function hline(x1: number, x2: number, y: number, attributes: string): string {
  return `<line x1="${n(x1)}" x2="${n(x2)}" y1="${n(y)}" y2="${n(y)}" ${attributes}/>`;
}

function svg(width: number, height: number, parts: readonly string[]): string {
  return `<svg viewBox="0 0 ${n(width)} ${n(height)}" role="img" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}

function frameOf(options: ChartFrame): { width: number; height: number; pad: Padding; iw: number; ih: number } {
  const width = options.width ?? WIDTH;
  const height = options.height ?? HEIGHT;
  const pad = options.padding ?? PADDING;
  return { width, height, pad, iw: width - pad.left - pad.right, ih: height - pad.top - pad.bottom };
}

function yUnitLabel(unit: string | undefined, top: number, ih: number): string {
  if (unit === undefined) return "";
  const cy = n(top + ih / 2);
  return `<text x="14" y="${cy}" transform="rotate(-90 14 ${cy})" text-anchor="middle" class="axis">${escapeMarkup(unit)}</text>`;
}

function yGrid(f: ReturnType<typeof frameOf>, top: number, step: number, y: (v: number) => number): string[] {
  const parts: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(hline(f.pad.left, f.width - f.pad.right, y(v), `class="grid"`));
    parts.push(text(f.pad.left - 6, y(v) + 4, "tick", tickLabel(Number(v.toPrecision(12))), "end"));
  }
  return parts;
}

/**
 * The legend of `series` as HTML (a `div.legend` of `span.key` entries with a colour swatch).
 *
 * @example
 * ```ts
 * import { chartLegend } from "./chart.ts";
 * chartLegend([{ name: "tx/s", color: "#2563eb", points: [] }]);
 * ```
 */
export function chartLegend(series: readonly Series[]): string {
  const keys = series.map((s) =>
    `<span class="key"><i style="background:${escapeMarkup(s.color ?? "currentColor")}${s.dashed ? ";opacity:.6" : ""}"></i>${escapeMarkup(s.name)}</span>`
  );
  return `<div class="legend">${keys.join("")}</div>`;
}

/**
 * A line chart (optionally with filled and stacked areas) as an SVG string.
 *
 * @example Throughput over a run
 * ```ts
 * import { lineChart } from "./chart.ts";
 * const svg = lineChart([{ name: "tx/s", color: "#2563eb", points: [[1, 900], [2, 950]], area: true }], { yUnit: "tx/s", xUnit: "seconds" });
 * ```
 */
export function lineChart(series: readonly Series[], options: LineChartOptions = {}): string {
  const f = frameOf(options);
  const all = series.flatMap((s) => s.points);
  const refs = options.refs ?? [];
  const yData = options.yMax ?? Math.max(options.yMaxAtLeast ?? 0, ...all.map((p) => p[1]), ...refs.map((r) => r.y * 1.15));
  const { top, step } = niceScale(yData, options.yTicks ?? 5);
  // A last sample at 60.01 s keeps a 60 s axis.
  const xScale = niceScale(Math.max(1, ...all.map((p) => p[0])) * 0.999, 10);
  const xDomain: NonNullable<LineChartOptions["x"]> = options.x ?? {
    min: 0,
    max: xScale.top,
    ticks: Array.from({ length: Math.round(xScale.top / xScale.step) + 1 }, (_, i) => ({ at: i * xScale.step, label: tickLabel(Number((i * xScale.step).toPrecision(12))) })),
  };
  const span = xDomain.max - xDomain.min || 1;
  const x = (v: number): number => f.pad.left + (f.iw * Math.max(0, v - xDomain.min)) / span;
  const y = (v: number): number => f.pad.top + f.ih - (Math.min(v, top) / top) * f.ih;

  const parts = yGrid(f, top, step, y);
  for (const tick of xDomain.ticks) parts.push(text(x(tick.at), f.height - f.pad.bottom + 18, "tick", tick.label, tick.anchor));
  if (options.xUnit !== undefined) parts.push(text(f.width - f.pad.right, f.height - 4, "axis", options.xUnit, "end"));
  parts.push(yUnitLabel(options.yUnit, f.pad.top, f.ih));
  for (const r of refs) {
    const stroke = r.color === undefined ? "" : ` stroke="${escapeMarkup(r.color)}" stroke-width="1.5" stroke-dasharray="6 4"`;
    parts.push(hline(f.pad.left, f.width - f.pad.right, y(r.y), `class="${cls("ref", r.className)}"${stroke}`));
    if (r.label !== undefined) {
      const fill = r.color === undefined ? "" : ` fill="${escapeMarkup(r.color)}"`;
      parts.push(text(f.width - f.pad.right - 4, y(r.y) - 5, "ref", r.label, "end", fill));
    }
  }
  parts.push(hline(f.pad.left, f.width - f.pad.right, y(0), `class="axisline"`));
  const drawn = series.filter((s) => s.points.length >= 2);
  if (drawn.length === 0 && options.emptyText !== undefined) {
    parts.push(text((f.pad.left + f.width - f.pad.right) / 2, f.pad.top + f.ih / 2, "empty", options.emptyText));
    return svg(f.width, f.height, parts);
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const line = s.points.map(([px, py], i) => `${i === 0 ? "M" : "L"}${n(x(px))},${n(y(py))}`).join("");
    if (s.area) {
      const lower = s.points.map(([px], i) => `L${n(x(px))},${n(y(s.base?.[i] ?? 0))}`).reverse().join("");
      const fill = s.color === undefined ? "" : ` fill="${escapeMarkup(s.color)}" fill-opacity="0.12" stroke="none"`;
      parts.push(`<path class="${cls("area", s.className)}" d="${line}${lower}Z"${fill}/>`);
    }
    const stroke = s.color === undefined ? "" : ` stroke="${escapeMarkup(s.color)}" stroke-width="2"`;
    const dash = s.dashed ? ` stroke-dasharray="5 4"` : "";
    parts.push(`<path class="${cls("line", s.className)}" d="${line}" fill="none"${stroke}${dash} stroke-linejoin="round"/>`);
  }
  return svg(f.width, f.height, parts);
}

/**
 * A vertical bar chart as an SVG string: linear with a y axis (and an optional mean line), or log
 * scaled for counts that span orders of magnitude.
 *
 * @example Completions per agent
 * ```ts
 * import { barChart } from "./chart.ts";
 * const svg = barChart([{ label: "agent-1", value: 120, color: "#2563eb" }], { yUnit: "tasks", mean: 120 });
 * ```
 */
export function barChart(bars: readonly Bar[], options: BarChartOptions = {}): string {
  const f = frameOf(options);
  const max = Math.max(0, ...bars.map((b) => b.value));
  if (max === 0 && options.emptyText !== undefined) {
    return svg(f.width, f.height, [text(f.width / 2, f.height / 2, "empty", options.emptyText)]);
  }
  const { top, step } = niceScale(Math.max(1, max));
  const base = f.pad.top + f.ih;
  const height = options.logScale
    ? (v: number): number => (v <= 0 ? 0 : Math.max(2, (f.ih * Math.log1p(v)) / Math.log1p(max)))
    : (v: number): number => (Math.min(v, top) / top) * f.ih;
  const parts = options.logScale ? [] : yGrid(f, top, step, (v) => base - height(v));
  const slot = f.iw / Math.max(1, bars.length);
  const bw = Math.max(1, slot * 0.72);
  const labelEvery = Math.max(1, Math.ceil(bars.length / (options.maxLabels ?? 25)));
  bars.forEach((b, i) => {
    const bx = f.pad.left + i * slot + (slot - bw) / 2;
    const h = height(b.value);
    const fill = b.color === undefined ? "" : ` fill="${escapeMarkup(b.color)}"`;
    const tip = escapeMarkup(b.title ?? `${b.label}: ${b.value}`);
    parts.push(`<rect class="${cls("bar", b.className)}" x="${n(bx)}" y="${n(base - h)}" width="${n(bw)}" height="${n(h)}" rx="2"${fill}><title>${tip}</title></rect>`);
    if (b.note !== undefined && b.note !== "" && h > 0) parts.push(text(bx + bw / 2, base - h - 4, "note", b.note));
    if (i % labelEvery === 0) parts.push(text(bx + bw / 2, base + 16, "tick", b.label));
  });
  if (options.mean !== undefined) {
    const my = base - height(options.mean);
    parts.push(hline(f.pad.left, f.width - f.pad.right, my, `class="ref" stroke="#111827" stroke-width="1.5" stroke-dasharray="6 4"`));
    parts.push(text(f.width - f.pad.right - 4, my - 5, "ref", `mean ${options.mean.toFixed(1)}`, "end"));
  }
  if (options.caption !== undefined) parts.push(text(f.width / 2, f.height - 6, "axis", options.caption));
  parts.push(yUnitLabel(options.yUnit, f.pad.top, f.ih));
  parts.push(hline(f.pad.left, f.width - f.pad.right, base, `class="axisline"`));
  return svg(f.width, f.height, parts);
}
