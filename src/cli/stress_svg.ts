/**
 * Small inline-SVG charts for the stress HTML report: a line chart with axes, grid, legend and
 * reference lines, and a bar chart. No scripts, no external assets.
 *
 * @module
 */

/** One line of a {@linkcode lineChart}. */
export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  /** Draw as a filled area under the line. */
  area?: boolean;
  dashed?: boolean;
}

/** A horizontal reference line (a limit). */
export interface RefLine {
  y: number;
  label: string;
  color: string;
}

const W = 1080;
const H = 250;
const PAD = { left: 64, right: 20, top: 16, bottom: 40 };

/** Escapes text for HTML and SVG. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A "nice" axis maximum and step (1, 2, 5 × 10^n) for `max`. */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step, step };
}

function tickLabel(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}

/**
 * A line chart over `x` (seconds) as an SVG string.
 *
 * @example
 * ```ts
 * lineChart([{ name: "tx/s", color: "#2563eb", points: [[1, 900], [2, 950]] }], { yUnit: "tx/s" });
 * ```
 */
export function lineChart(
  series: readonly Series[],
  options: { yUnit: string; xUnit?: string; refs?: readonly RefLine[]; yMin?: number; yMaxAtLeast?: number },
): string {
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yData = Math.max(options.yMaxAtLeast ?? 0, ...all.map((p) => p[1]), ...(options.refs ?? []).map((r) => r.y * 1.15));
  const { top, step } = niceScale(yData);
  const xScale = niceScale(xMax * 0.999, 10); // a last sample at 60.01 s keeps a 60 s axis
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const x = (v: number): number => PAD.left + (v / xScale.top) * iw;
  const y = (v: number): number => PAD.top + ih - (Math.min(v, top) / top) * ih;
  const parts: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${PAD.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${tickLabel(v)}</text>`);
  }
  for (let v = 0; v <= xScale.top + xScale.step / 2; v += xScale.step) {
    parts.push(`<text x="${x(v).toFixed(1)}" y="${H - PAD.bottom + 18}" text-anchor="middle" class="tick">${tickLabel(v)}</text>`);
  }
  parts.push(`<text x="${W - PAD.right}" y="${H - 4}" text-anchor="end" class="axis">${esc(options.xUnit ?? "seconds")}</text>`);
  parts.push(`<text x="14" y="${PAD.top + ih / 2}" transform="rotate(-90 14 ${PAD.top + ih / 2})" text-anchor="middle" class="axis">${esc(options.yUnit)}</text>`);
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    if (s.area) {
      const first = s.points[0][0];
      const last = s.points[s.points.length - 1][0];
      parts.push(`<path d="${d}L${x(last).toFixed(1)},${y(0)}L${x(first).toFixed(1)},${y(0)}Z" fill="${s.color}" fill-opacity="0.12" stroke="none"/>`);
    }
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ""} stroke-linejoin="round"/>`);
  }
  for (const r of options.refs ?? []) {
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(r.y).toFixed(1)}" y2="${y(r.y).toFixed(1)}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${W - PAD.right - 4}" y="${(y(r.y) - 5).toFixed(1)}" text-anchor="end" class="ref" fill="${r.color}">${esc(r.label)}</text>`);
  }
  parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0)}" y2="${y(0)}" class="axisline"/>`);
  const legend = series.map((s) =>
    `<span class="key"><i style="background:${s.color}${s.dashed ? ";opacity:.6" : ""}"></i>${esc(s.name)}</span>`
  ).join("");
  return `<div class="legend">${legend}</div><svg viewBox="0 0 ${W} ${H}" role="img" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}

/** One bar of a {@linkcode barChart}. */
export interface Bar {
  label: string;
  value: number;
  color: string;
  title?: string;
}

/**
 * A vertical bar chart (one bar per agent) as an SVG string, with a dashed mean line.
 *
 * @example
 * ```ts
 * barChart([{ label: "agent-1", value: 120, color: "#2563eb" }], { yUnit: "tasks" });
 * ```
 */
export function barChart(bars: readonly Bar[], options: { yUnit: string; mean?: number }): string {
  const { top, step } = niceScale(Math.max(1, ...bars.map((b) => b.value)));
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const y = (v: number): number => PAD.top + ih - (v / top) * ih;
  const slot = iw / Math.max(1, bars.length);
  const bw = Math.max(1, slot * 0.72);
  const labelEvery = Math.ceil(bars.length / 25);
  const parts: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${PAD.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${tickLabel(v)}</text>`);
  }
  bars.forEach((b, i) => {
    const bx = PAD.left + i * slot + (slot - bw) / 2;
    parts.push(`<rect x="${bx.toFixed(1)}" y="${y(b.value).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(0) - y(b.value)).toFixed(1)}" fill="${b.color}" rx="1.5"><title>${esc(b.title ?? `${b.label}: ${b.value}`)}</title></rect>`);
    if (i % labelEvery === 0) {
      parts.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle" class="tick">${esc(b.label)}</text>`);
    }
  });
  if (options.mean !== undefined) {
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(options.mean).toFixed(1)}" y2="${y(options.mean).toFixed(1)}" stroke="#111827" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${W - PAD.right - 4}" y="${(y(options.mean) - 5).toFixed(1)}" text-anchor="end" class="ref">mean ${options.mean.toFixed(1)}</text>`);
  }
  parts.push(`<text x="14" y="${PAD.top + ih / 2}" transform="rotate(-90 14 ${PAD.top + ih / 2})" text-anchor="middle" class="axis">${esc(options.yUnit)}</text>`);
  parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0)}" y2="${y(0)}" class="axisline"/>`);
  return `<svg viewBox="0 0 ${W} ${H}" role="img" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}
