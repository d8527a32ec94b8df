/**
 * Prometheus text exposition (format 0.0.4) of a pool: the OpenTelemetry database connection pool
 * metrics under their Prometheus names (dots → underscores, unit suffix, `_total` on counters),
 * agentpool's own pool counters, and bounded per-agent series. Web-standard: runs anywhere.
 *
 * @module
 */

import type { HistogramSnapshot } from "./histogram.ts";
import { type MetricsTracker, trackerOf } from "./metrics_tracker.ts";
import type { PoolStats } from "./snapshots.ts";

/**
 * What exposition needs from a pool; an `AsyncConnectionPool` fits.
 *
 * @example
 * ```ts
 * import type { AsyncConnectionPool, ObservedPool } from "agentpool";
 * declare const pool: AsyncConnectionPool<unknown>;
 * const observed: ObservedPool = pool;
 * ```
 */
export interface ObservedPool {
  readonly options: { readonly name: string; readonly metrics?: unknown };
  stats(): PoolStats;
}

/**
 * The content type to serve {@linkcode prometheusText} with.
 *
 * @example
 * ```ts
 * import { type AsyncConnectionPool, PROMETHEUS_CONTENT_TYPE, prometheusText } from "agentpool";
 * declare const pool: AsyncConnectionPool<unknown>;
 * new Response(prometheusText(pool), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
 * ```
 */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Readonly<Record<string, string>>;

/**
 * Escapes a label value: backslash, double quote and newline, as the text format requires.
 *
 * @example
 * ```ts
 * import { escapeLabelValue } from "./prometheus.ts";
 * escapeLabelValue('say "hi"\n'); // 'say \\"hi\\"\\n'
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (ch) => (ch === "\n" ? "\\n" : `\\${ch}`));
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (ch) => (ch === "\n" ? "\\n" : "\\\\"));
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Seconds from milliseconds, without binary noise in `le` labels. */
function seconds(ms: number): number {
  return Number((ms / 1000).toPrecision(12));
}

/** Builds the exposition family by family; every family gets HELP and TYPE once. */
class Exposition {
  #lines: string[] = [];

  family(name: string, type: "gauge" | "counter" | "histogram" | "summary", help: string): this {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Labels, value: number): this {
    this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  histogram(name: string, help: string, labels: Labels, h: HistogramSnapshot): this {
    this.family(name, "histogram", help);
    h.boundsMs.forEach((ms, i) => this.sample(`${name}_bucket`, { ...labels, le: formatValue(seconds(ms)) }, h.cumulative[i]));
    this.sample(`${name}_bucket`, { ...labels, le: "+Inf" }, h.count);
    this.sample(`${name}_sum`, labels, h.sumMs / 1000);
    return this.sample(`${name}_count`, labels, h.count);
  }

  text(): string {
    return `${this.#lines.join("\n")}\n`;
  }
}

/**
 * Renders `pool`'s metrics in the Prometheus text format. Gauges and pool counters come from
 * `pool.stats()`; histograms, failures by reason and per-agent series from `tracker` (default: the
 * pool's `metrics` option when it is a {@linkcode MetricsTracker}), and are left out without one.
 *
 * @example Serve it
 * ```ts
 * import { AsyncConnectionPool, type ConnectionFactory, createMetrics } from "agentpool";
 * import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "agentpool";
 * declare const factory: ConnectionFactory<unknown>;
 * const pool = new AsyncConnectionPool({ factory, metrics: createMetrics(), name: "main" });
 * const response = new Response(prometheusText(pool), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
 * // db_client_connection_count{state="idle",pool_name="main"} 5
 * ```
 */
export function prometheusText(pool: ObservedPool, tracker: MetricsTracker | undefined = trackerOf(pool)): string {
  const s = pool.stats();
  const pool_name = pool.options.name;
  const p = { pool_name };
  const out = new Exposition();

  out.family("db_client_connection_count", "gauge", "The number of connections that are currently in the state described by the state label.")
    .sample("db_client_connection_count", { state: "idle", pool_name }, s.idle)
    .sample("db_client_connection_count", { state: "used", pool_name }, s.used)
    .family("db_client_connection_idle_max", "gauge", "The maximum number of idle open connections allowed.")
    .sample("db_client_connection_idle_max", p, s.maxConnections)
    .family("db_client_connection_idle_min", "gauge", "The minimum number of idle open connections allowed.")
    .sample("db_client_connection_idle_min", p, s.minConnections)
    .family("db_client_connection_max", "gauge", "The maximum number of open connections allowed (maxConnections + overflow).")
    .sample("db_client_connection_max", p, s.cap)
    .family("db_client_connection_pending_requests", "gauge", "The number of current pending requests for an open connection.")
    .sample("db_client_connection_pending_requests", p, s.pending)
    .family("db_client_connection_timeouts_total", "counter", "The number of connection timeouts that have occurred trying to obtain a connection from the pool.")
    .sample("db_client_connection_timeouts_total", p, s.timeouts);

  if (tracker !== undefined) {
    out.histogram("db_client_connection_create_time_seconds", "The time it took to create a new connection.", p, tracker.create.snapshot())
      .histogram("db_client_connection_wait_time_seconds", "The time it took to obtain an open connection from the pool.", p, tracker.wait.snapshot())
      .histogram("db_client_connection_use_time_seconds", "The time between borrowing a connection and returning it to the pool.", p, tracker.use.snapshot());
  }

  const gauges: [string, number, string][] = [
    ["agentpool_up", s.closed ? 0 : 1, "1 while the pool is open, 0 after close()."],
    ["agentpool_connections_creating", s.creating, "Connections being opened."],
    ["agentpool_connections_closing", s.closing, "Connections being closed."],
    ["agentpool_connections_overflow", s.overflow, "Open connections above maxConnections."],
    ["agentpool_active_agents", s.activeAgents, "Agents holding or waiting for a connection."],
  ];
  const counters: [string, number, string][] = [
    ["agentpool_acquires_total", s.acquired, "Connections handed out."],
    ["agentpool_releases_total", s.released, "Connections returned."],
    ["agentpool_rejections_total", s.rejected, "Acquires refused at once (queue full, nested acquire, revoked)."],
    ["agentpool_aborts_total", s.aborted, "Acquires abandoned through their AbortSignal."],
    ["agentpool_connections_created_total", s.created, "Connections opened."],
    ["agentpool_connections_closed_total", s.destroyed, "Connections closed."],
    ["agentpool_connection_create_errors_total", s.createErrors, "Failed attempts to open a connection."],
  ];
  for (const [name, value, help] of gauges) out.family(name, "gauge", help).sample(name, p, value);
  for (const [name, value, help] of counters) out.family(name, "counter", help).sample(name, p, value);

  if (tracker !== undefined) agentFamilies(out, tracker, pool_name);
  return out.text();
}

function agentFamilies(out: Exposition, tracker: MetricsTracker, pool_name: string): void {
  out.family("agentpool_acquire_failures_total", "counter", "Acquires that failed without a connection, by reason.");
  for (const [reason, count] of Object.entries(tracker.rejectionsByReason())) {
    out.sample("agentpool_acquire_failures_total", { pool_name, reason }, count);
  }
  const series = tracker.agentSeries();
  const per = (name: string, type: "gauge" | "counter", help: string, value: (a: (typeof series)[number]) => number): void => {
    out.family(name, type, help);
    for (const a of series) out.sample(name, { pool_name, agent: a.agent }, value(a));
  };
  per("agentpool_agent_connections_held", "gauge", `Connections each agent holds now (agents beyond maxAgents=${tracker.maxAgents} fold into agent="__other__").`, (a) => a.acquires - a.releases);
  per("agentpool_agent_acquires_total", "counter", "Connections handed to each agent.", (a) => a.acquires);
  per("agentpool_agent_timeouts_total", "counter", "Acquires by each agent that failed at their deadline.", (a) => a.timeouts);
  per("agentpool_agent_rejections_total", "counter", "Acquires by each agent refused at once.", (a) => a.rejections);
  per("agentpool_agent_leaks_total", "counter", "Connections each agent was reported to leak.", (a) => a.leaks);
  per("agentpool_agent_errors_total", "counter", "Errors on connections each agent held.", (a) => a.errors);
  per("agentpool_agent_wait_max_seconds", "gauge", "Longest wait of each agent for a connection.", (a) => a.waitMaxMs / 1000);
  per("agentpool_agent_hold_max_seconds", "gauge", "Longest hold of a connection by each agent.", (a) => a.holdMaxMs / 1000);
  out.family("agentpool_agent_wait_seconds", "summary", "Time each agent waited for connections.");
  for (const a of series) {
    out.sample("agentpool_agent_wait_seconds_sum", { pool_name, agent: a.agent }, a.waitSumMs / 1000)
      .sample("agentpool_agent_wait_seconds_count", { pool_name, agent: a.agent }, a.acquires);
  }
  out.family("agentpool_agent_hold_seconds", "summary", "Time each agent held connections.");
  for (const a of series) {
    out.sample("agentpool_agent_hold_seconds_sum", { pool_name, agent: a.agent }, a.holdSumMs / 1000)
      .sample("agentpool_agent_hold_seconds_count", { pool_name, agent: a.agent }, a.releases);
  }
}
