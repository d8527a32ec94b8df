/**
 * The pool core: runtime-neutral, driver-agnostic. Imports nothing outside this folder and uses
 * only web-standard APIs, so it runs on Node, Deno, Bun and edge runtimes alike. Exports what an
 * application uses; internals (option resolution, the health rule, histograms, label escaping,
 * the invariants) stay importable from their own files for the package's other folders.
 *
 * @module
 */

export { type AcquireOptions, AsyncConnectionPool } from "./pool.ts";
export { PooledConnection } from "./handle.ts";
export type { ConnectionFactory } from "./factory.ts";
export type { AgentContext, AgentFrame, LeaseLink } from "./context.ts";
export { type Clock, systemClock } from "./clock.ts";
export { DEFAULT_POOL_OPTIONS, type HoldPolicy, type PoolOptions, type ResolvedPoolOptions } from "./options.ts";
export type { HealthChange, PoolHealth } from "./health.ts";
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
export type { HistogramSnapshot } from "./histogram.ts";
export { createMetrics, type MetricsOptions, type MetricsSink, MetricsTracker } from "./metrics_tracker.ts";
export { type ObservedPool, PROMETHEUS_CONTENT_TYPE, prometheusText } from "./prometheus.ts";
