/// <reference lib="dom" />
/**
 * Number formatting for the dashboard's cells.
 *
 * @module
 */

/**
 * A duration for a table cell: `0.25 ms`, `3.2 ms`, `140 ms`, `2.50 s`, `3m 5s`, `1h 2m`; `–` for none.
 *
 * @example
 * ```ts
 * import { ms } from "./format.ts";
 * ms(2500); // "2.50 s"
 * ```
 */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (v === 0) return "0 ms";
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
  if (v < 3600000) return `${Math.floor(v / 60000)}m ${Math.round((v % 60000) / 1000)}s`;
  return `${Math.floor(v / 3600000)}h ${Math.round((v % 3600000) / 60000)}m`;
}

/**
 * A count with thousands separators; `–` for none.
 *
 * @example
 * ```ts
 * import { count } from "./format.ts";
 * count(12345); // "12,345"
 * ```
 */
export function count(v: number | null | undefined): string {
  return v === undefined || v === null ? "–" : Number(v).toLocaleString("en-US");
}
