/**
 * The pool core: runtime-neutral, driver-agnostic. Imports nothing outside this folder and uses
 * only web-standard APIs, so it runs on Node, Deno, Bun and edge runtimes alike.
 *
 * @module
 */

export { AsyncConnectionPool, type AcquireOptions } from "./pool.ts";
export { PooledConnection } from "./handle.ts";
export type { ConnectionFactory } from "./factory.ts";
export { type Clock, systemClock } from "./clock.ts";
export {
  DEFAULT_POOL_OPTIONS,
  type HoldPolicy,
  type PoolOptions,
  resolvePoolOptions,
  type ResolvedPoolOptions,
} from "./options.ts";
export { type HealthChange, healthOf, type HealthInputs, type PoolHealth } from "./health.ts";
export {
  ConnectionPoolExhaustedError,
  EXHAUSTED_CODES,
  type ExhaustedReason,
  PoolClosedError,
  PoolError,
} from "./errors.ts";
export { type LatencySummary, noopMetrics, type Percentiles, type PoolMetrics } from "./metrics.ts";
export type { ConnectionInfo, ConnectionState } from "./slot.ts";
export type { AgentInfo, HoldInfo, Holder, PoolStats } from "./snapshots.ts";
export { DEFAULT_AGENT_ID } from "./agents.ts";
export { EXPORT_BOUNDS_MS, Histogram, HISTOGRAM_BOUNDS_MS, type HistogramSnapshot } from "./histogram.ts";
export {
  AgentSeries,
  createMetrics,
  type MetricsOptions,
  type MetricsSink,
  MetricsTracker,
  OTHER_AGENT,
  trackerOf,
} from "./metrics_tracker.ts";
export { escapeLabelValue, type ObservedPool, PROMETHEUS_CONTENT_TYPE, prometheusText } from "./prometheus.ts";
