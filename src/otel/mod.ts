/**
 * `agentpool/otel`: reports a pool through an OpenTelemetry `Meter`, the same numbers as the
 * Prometheus exposition under the OTel semantic conventions for database client connection pools.
 * Its types come from `@opentelemetry/api` (an optional peer dependency, imported for types only,
 * so nothing of it is loaded at run time); a separate entry point, so users of `agentpool` who do
 * not use OpenTelemetry need neither its package nor its types.
 *
 * @example
 * ```ts
 * import { metrics } from "@opentelemetry/api";
 * import { AsyncConnectionPool, createMetrics } from "agentpool";
 * import { bindOpenTelemetry } from "agentpool/otel";
 * const tracker = createMetrics();
 * const pool = new AsyncConnectionPool({ factory: { create: () => Promise.resolve({}), destroy: () => {} }, metrics: tracker });
 * const binding = bindOpenTelemetry(pool, tracker, metrics.getMeter("agentpool"));
 * ```
 *
 * @module
 */

import type { Attributes, BatchObservableResult, Histogram, Meter, Observable } from "@opentelemetry/api";
import { invalidOption } from "../core/checks.ts";
import { EXPORT_BOUNDS_MS } from "../core/histogram.ts";
import type { AgentSeries, MetricsSink, MetricsTracker } from "../core/metrics_tracker.ts";
import type { ObservedPool } from "../core/prometheus.ts";

/**
 * The part of `@opentelemetry/api`'s `Meter` the binding uses (a whole `Meter` fits).
 *
 * @example
 * ```ts
 * import { metrics } from "@opentelemetry/api";
 * import type { MeterLike } from "agentpool/otel";
 * const meter: MeterLike = metrics.getMeter("agentpool");
 * ```
 */
export type MeterLike = Pick<
  Meter,
  "createHistogram" | "createObservableCounter" | "createObservableUpDownCounter" | "addBatchObservableCallback" | "removeBatchObservableCallback"
>;

/**
 * A live binding; `unbind()` stops reporting (idempotent).
 *
 * @example
 * ```ts
 * import type { OpenTelemetryBinding } from "agentpool/otel";
 * function stopReporting(binding: OpenTelemetryBinding): void {
 *   binding.unbind(); // a second call does nothing
 * }
 * ```
 */
export interface OpenTelemetryBinding {
  unbind(): void;
}

/**
 * OTel attribute for the pool name (semantic conventions 1.26+).
 *
 * @example
 * ```ts
 * import { OTEL_POOL_NAME } from "agentpool/otel";
 * OTEL_POOL_NAME; // "db.client.connection.pool.name"
 * ```
 */
export const OTEL_POOL_NAME = "db.client.connection.pool.name";
/**
 * OTel attribute for the connection state (`idle` | `used`) of `db.client.connection.count`.
 *
 * @example
 * ```ts
 * import { OTEL_STATE } from "agentpool/otel";
 * OTEL_STATE; // "db.client.connection.state"
 * ```
 */
export const OTEL_STATE = "db.client.connection.state";
/**
 * OTel attribute for the agent of per-agent series (the GenAI conventions' agent id).
 *
 * @example
 * ```ts
 * import { OTEL_AGENT } from "agentpool/otel";
 * OTEL_AGENT; // "gen_ai.agent.id"
 * ```
 */
export const OTEL_AGENT = "gen_ai.agent.id";

const SECONDS_BOUNDS = EXPORT_BOUNDS_MS.map((ms) => Number((ms / 1000).toPrecision(12)));

/**
 * Reports `pool` and `tracker` through an OpenTelemetry `meter`: observable
 * `db.client.connection.count` (by state), `.idle.max`, `.idle.min`, `.max`,
 * `.pending_requests` and `.timeouts`, histograms `.create_time`, `.wait_time`, `.use_time` (in
 * seconds), and per-agent `agentpool.agent.*` series with the `gen_ai.agent.id` attribute, bounded
 * like the tracker's. A tracker forwards to one binding at a time.
 *
 * @example
 * ```ts
 * import { metrics } from "@opentelemetry/api";
 * import { AsyncConnectionPool, createMetrics } from "agentpool";
 * import { bindOpenTelemetry } from "agentpool/otel";
 * const tracker = createMetrics();
 * const factory = { create: () => Promise.resolve({}), destroy: () => {} };
 * const pool = new AsyncConnectionPool({ factory, metrics: tracker, name: "main" });
 * const binding = bindOpenTelemetry(pool, tracker, metrics.getMeter("agentpool"));
 * // later
 * binding.unbind();
 * ```
 */
export function bindOpenTelemetry(pool: ObservedPool, tracker: MetricsTracker, meter: MeterLike): OpenTelemetryBinding {
  if (typeof meter?.createHistogram !== "function" || typeof meter.addBatchObservableCallback !== "function") {
    invalidOption("type", "bind OpenTelemetry", "meter", "an @opentelemetry/api Meter", meter);
  }
  const pool_ = { [OTEL_POOL_NAME]: pool.options.name };
  const histogram = (name: string, description: string): Histogram =>
    meter.createHistogram(name, { description, unit: "s", advice: { explicitBucketBoundaries: SECONDS_BOUNDS } });
  const createTime = histogram("db.client.connection.create_time", "The time it took to create a new connection.");
  const waitTime = histogram("db.client.connection.wait_time", "The time it took to obtain an open connection from the pool.");
  const useTime = histogram("db.client.connection.use_time", "The time between borrowing a connection and returning it to the pool.");
  const agentWait = histogram("agentpool.agent.wait_time", "The time each agent waited for a connection.");
  const agentHold = histogram("agentpool.agent.use_time", "The time each agent held a connection.");

  const attributesOf = (series: AgentSeries): Attributes =>
    series.attributes ??= Object.freeze({ ...pool_, [OTEL_AGENT]: series.agent });
  const sink: MetricsSink = {
    acquired(series, waitMs) {
      waitTime.record(waitMs / 1000, pool_);
      agentWait.record(waitMs / 1000, attributesOf(series));
    },
    released(series, holdMs) {
      useTime.record(holdMs / 1000, pool_);
      agentHold.record(holdMs / 1000, attributesOf(series));
    },
    created(createMs) {
      createTime.record(createMs / 1000, pool_);
    },
  };

  const upDown = (name: string, description: string, unit: string): Observable =>
    meter.createObservableUpDownCounter(name, { description, unit });
  const counter = (name: string, description: string, unit: string): Observable =>
    meter.createObservableCounter(name, { description, unit });
  const count = upDown("db.client.connection.count", "The number of connections that are currently in the state described by the state attribute.", "{connection}");
  const idleMax = upDown("db.client.connection.idle.max", "The maximum number of idle open connections allowed.", "{connection}");
  const idleMin = upDown("db.client.connection.idle.min", "The minimum number of idle open connections allowed.", "{connection}");
  const max = upDown("db.client.connection.max", "The maximum number of open connections allowed.", "{connection}");
  const pending = upDown("db.client.connection.pending_requests", "The number of current pending requests for an open connection.", "{request}");
  const timeouts = counter("db.client.connection.timeouts", "The number of connection timeouts that have occurred trying to obtain a connection from the pool.", "{timeout}");
  const acquires = counter("agentpool.agent.acquires", "Connections handed to each agent.", "{acquire}");
  const agentTimeouts = counter("agentpool.agent.timeouts", "Acquires by each agent that failed at their deadline.", "{timeout}");
  const rejections = counter("agentpool.agent.rejections", "Acquires by each agent refused at once.", "{rejection}");
  const observables = [count, idleMax, idleMin, max, pending, timeouts, acquires, agentTimeouts, rejections];

  const callback = (result: BatchObservableResult): void => {
    const s = pool.stats();
    result.observe(count, s.idle, { ...pool_, [OTEL_STATE]: "idle" });
    result.observe(count, s.used, { ...pool_, [OTEL_STATE]: "used" });
    result.observe(idleMax, s.maxConnections, pool_);
    result.observe(idleMin, s.minConnections, pool_);
    result.observe(max, s.cap, pool_);
    result.observe(pending, s.pending, pool_);
    result.observe(timeouts, s.timeouts, pool_);
    for (const series of tracker.agentSeries()) {
      const attributes = attributesOf(series);
      result.observe(acquires, series.acquires, attributes);
      result.observe(agentTimeouts, series.timeouts, attributes);
      result.observe(rejections, series.rejections, attributes);
    }
  };
  const stopForwarding = tracker.forwardTo(sink);
  meter.addBatchObservableCallback(callback, observables);
  let bound = true;
  return {
    unbind(): void {
      if (!bound) return;
      bound = false;
      stopForwarding();
      meter.removeBatchObservableCallback(callback, observables);
    },
  };
}
