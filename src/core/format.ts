/**
 * Number formatting shared by the pool's own messages, the dashboard (in the browser) and
 * `agentpool monitor` (in a terminal), so all of them show a duration the same way.
 *
 * @module
 */

/**
 * A duration for a table cell: `0 ms`, `0.42 ms`, `3.2 ms`, `140 ms`, `2.10 s`, `2m 5s`,
 * `1h 2m`; `–` for none (null, undefined, NaN, Infinity).
 *
 * @example
 * ```ts
 * import { formatDuration } from "./format.ts";
 * formatDuration(2100); // "2.10 s"
 * ```
 */
export function formatDuration(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
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
 * import { formatCount } from "./format.ts";
 * formatCount(12345); // "12,345"
 * ```
 */
export function formatCount(v: number | null | undefined): string {
  return v === undefined || v === null ? "–" : Number(v).toLocaleString("en-US");
}
