/**
 * The metrics tracker: a {@linkcode PoolMetrics} that keeps fixed-bucket histograms of wait, use
 * (hold) and create time, counters, and per-agent series with bounded cardinality. Every
 * observation is a few array and field bumps; nothing allocates except the first sight of an agent.
 *
 * @module
 */

import { EXHAUSTED_CODES, type ExhaustedReason } from "./errors.ts";
import { Histogram } from "./histogram.ts";
import type { LatencySummary, PoolMetrics } from "./metrics.ts";

/**
 * The agent label that series beyond `maxAgents` fold into.
 *
 * @example
 * ```ts
 * import { createMetrics } from "agentpool";
 * import { OTHER_AGENT } from "./metrics_tracker.ts";
 * const m = createMetrics({ maxAgents: 0 });
 * m.acquired("planner-1", 0);
 * m.agentSeries()[0].agent === OTHER_AGENT; // true
 * ```
 */
export const OTHER_AGENT = "__other__";

/**
 * Options of {@linkcode createMetrics}.
 *
 * @example
 * ```ts
 * import { createMetrics, type MetricsOptions } from "agentpool";
 * const options: MetricsOptions = { maxAgents: 50 };
 * const metrics = createMetrics(options);
 * ```
 */
export interface MetricsOptions {
  /**
   * Distinct agent labels tracked; agents seen after that fold into `agent="__other__"`, so an
   * agent-id flood cannot explode the series count. Default 100; 0 folds every agent.
   */
  maxAgents?: number;
}

/**
 * One agent label's counters (times in milliseconds). Read-only outside the tracker.
 *
 * @example
 * ```ts
 * import { createMetrics } from "agentpool";
 * const m = createMetrics();
 * m.acquired("planner-1", 12);
 * const [series] = m.agentSeries();
 * series.acquires; // 1
 * series.waitSumMs; // 12
 * ```
 */
export class AgentSeries {
  /** The agent id, or {@linkcode OTHER_AGENT}. */
  readonly agent: string;
  acquires = 0;
  releases = 0;
  waitSumMs = 0;
  waitMaxMs = 0;
  holdSumMs = 0;
  holdMaxMs = 0;
  /** Acquires that failed at their deadline (reasons `timeout`, `agent_quota`, `unavailable`, `at_capacity`). */
  timeouts = 0;
  /** Acquires refused at once (`queue_full`, `nested_acquire`, `revoked`). */
  rejections = 0;
  /** Connections reported leaked (see {@linkcode MetricsTracker.leaked}). */
  leaks = 0;
  /** Errors reported on its connections (see {@linkcode MetricsTracker.errored}). */
  errors = 0;
  /** Cached attributes for an OpenTelemetry binding, built once per label. */
  attributes: Readonly<Record<string, string>> | undefined = undefined;

  constructor(agent: string) {
    this.agent = agent;
  }
}

/**
 * Receives every observation after the tracker counted it; an OpenTelemetry binding uses it to
 * record into OTel histograms. Installed with {@linkcode MetricsTracker.forwardTo}.
 *
 * @example Log slow waits
 * ```ts
 * import { createMetrics } from "agentpool";
 * const metrics = createMetrics();
 * const stop = metrics.forwardTo({
 *   acquired: (series, waitMs) => waitMs > 1000 && console.warn(`${series.agent} waited ${waitMs} ms`),
 *   released: () => {},
 *   created: () => {},
 * });
 * ```
 */
export interface MetricsSink {
  acquired(series: AgentSeries, waitMs: number): void;
  released(series: AgentSeries, holdMs: number): void;
  created(createMs: number): void;
}

const NOOP_SINK: MetricsSink = Object.freeze({ acquired(): void {}, released(): void {}, created(): void {} });

/** Reasons the pool counts as timeouts (the wait reached its deadline); the rest are refusals. */
const REFUSED_AT_DEADLINE: ReadonlySet<ExhaustedReason> = new Set(["timeout", "agent_quota", "unavailable", "at_capacity"]);

/**
 * Collects pool measurements; pass it as the pool's `metrics` option, then read it through
 * `pool.stats().latency`, {@linkcode prometheusText} or an OpenTelemetry binding. One tracker
 * per pool.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool, type ConnectionFactory, createMetrics } from "agentpool";
 * declare const factory: ConnectionFactory<unknown>;
 * const metrics = createMetrics({ maxAgents: 50 });
 * const pool = new AsyncConnectionPool({ factory, metrics });
 * await pool.use(() => {}, { agentId: "planner-1" });
 * pool.stats().latency?.wait.p99; // ms
 * metrics.agentSeries(); // [{ agent: "planner-1", acquires: 1, ... }]
 * ```
 */
export class MetricsTracker implements PoolMetrics {
  /** Time from acquire() to getting a connection. */
  readonly wait: Histogram = new Histogram();
  /** Time a connection was held (OTel `use_time`). */
  readonly use: Histogram = new Histogram();
  /** Time to open a connection. */
  readonly create: Histogram = new Histogram();
  /** The cap on distinct agent labels. */
  readonly maxAgents: number;
  #agents = new Map<string, AgentSeries>();
  #other = new AgentSeries(OTHER_AGENT);
  // One counter per reason the pool knows, so a new reason shows up without a change here.
  #rejections = Object.fromEntries(Object.keys(EXHAUSTED_CODES).map((reason) => [reason, 0])) as Record<ExhaustedReason, number>;
  #createFailures = 0;
  #destroyed = 0;
  #sink: MetricsSink = NOOP_SINK;

  /** Prefer {@linkcode createMetrics}; throws like it on bad options. */
  constructor(options: MetricsOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Cannot create metrics as 'options' must be an object: current value is ${String(options)}`);
    }
    const maxAgents = options.maxAgents ?? 100;
    if (typeof maxAgents !== "number") {
      throw new TypeError(`Cannot create metrics as 'maxAgents' must be a non-negative integer: current value is ${String(maxAgents)}`);
    }
    if (!Number.isInteger(maxAgents) || maxAgents < 0) {
      throw new RangeError(`Cannot create metrics as 'maxAgents' must be a non-negative integer: current value is ${maxAgents}`);
    }
    this.maxAgents = maxAgents;
  }

  /** @inheritdoc */
  acquired(agentId: string, waitMs: number): void {
    this.wait.record(waitMs);
    const series = this.#series(agentId);
    series.acquires++;
    if (waitMs > 0) {
      series.waitSumMs += waitMs;
      if (waitMs > series.waitMaxMs) series.waitMaxMs = waitMs;
    }
    this.#sink.acquired(series, waitMs);
  }

  /** @inheritdoc */
  released(agentId: string, holdMs: number): void {
    this.use.record(holdMs);
    const series = this.#series(agentId);
    series.releases++;
    series.holdSumMs += holdMs;
    if (holdMs > series.holdMaxMs) series.holdMaxMs = holdMs;
    this.#sink.released(series, holdMs);
  }

  /** @inheritdoc */
  rejected(agentId: string, reason: ExhaustedReason): void {
    this.#rejections[reason] = (this.#rejections[reason] ?? 0) + 1;
    const series = this.#series(agentId);
    if (REFUSED_AT_DEADLINE.has(reason)) series.timeouts++;
    else series.rejections++;
  }

  /** @inheritdoc */
  created(createMs: number): void {
    this.create.record(createMs);
    this.#sink.created(createMs);
  }

  /** @inheritdoc */
  createFailed(_error: unknown): void {
    this.#createFailures++;
  }

  /** @inheritdoc */
  destroyed(): void {
    this.#destroyed++;
  }

  /** A connection held by `agentId` was reported leaked (for the leak detector to call). */
  leaked(agentId: string): void {
    this.#series(agentId).leaks++;
  }

  /** An error happened on a connection held by `agentId` (for the pool's error paths to call). */
  errored(agentId: string): void {
    this.#series(agentId).errors++;
  }

  /** Wait / use / create percentiles in milliseconds; fills `pool.stats().latency`. */
  summary(): LatencySummary {
    return { wait: this.wait.summary(), use: this.use.summary(), create: this.create.summary() };
  }

  /** Failed acquires by reason, since the tracker was created. */
  rejectionsByReason(): Readonly<Record<ExhaustedReason, number>> {
    return { ...this.#rejections };
  }

  /** Failed creates, since the tracker was created. */
  get createFailures(): number {
    return this.#createFailures;
  }

  /** Connections closed, since the tracker was created. */
  get destroyedCount(): number {
    return this.#destroyed;
  }

  /** The per-agent series: at most `maxAgents` labels, then `__other__` when anything folded. */
  agentSeries(): readonly AgentSeries[] {
    const all = [...this.#agents.values()];
    const o = this.#other;
    if (o.acquires + o.releases + o.timeouts + o.rejections + o.leaks + o.errors > 0) all.push(o);
    return all;
  }

  /**
   * Forwards every observation to `sink` too (one sink at a time); returns a function that stops it.
   * Throws when another sink is installed.
   */
  forwardTo(sink: MetricsSink): () => void {
    if (this.#sink !== NOOP_SINK) throw new Error("Cannot forward metrics as this tracker already forwards to another sink");
    this.#sink = sink;
    return () => {
      if (this.#sink === sink) this.#sink = NOOP_SINK;
    };
  }

  #series(agentId: string): AgentSeries {
    if (agentId === OTHER_AGENT) return this.#other;
    const found = this.#agents.get(agentId);
    if (found !== undefined) return found;
    if (this.#agents.size >= this.maxAgents) return this.#other;
    const series = new AgentSeries(agentId);
    this.#agents.set(agentId, series);
    return series;
  }
}

/**
 * Creates a {@linkcode MetricsTracker}. Throws `TypeError` / `RangeError` naming a bad option.
 *
 * @example Fill `pool.stats().latency`
 * ```ts
 * import { AsyncConnectionPool, type ConnectionFactory, createMetrics } from "agentpool";
 * declare const factory: ConnectionFactory<unknown>;
 * const pool = new AsyncConnectionPool({ factory, metrics: createMetrics() });
 * console.log(pool.stats().latency?.wait); // { count, p50, p99, p999, max, mean }
 * ```
 */
export function createMetrics(options?: MetricsOptions): MetricsTracker {
  return new MetricsTracker(options);
}

/**
 * The pool's tracker when its `metrics` option is a {@linkcode MetricsTracker}, else undefined.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool, type ConnectionFactory, createMetrics } from "agentpool";
 * import { trackerOf } from "./metrics_tracker.ts";
 * declare const factory: ConnectionFactory<unknown>;
 * const pool = new AsyncConnectionPool({ factory, metrics: createMetrics() });
 * trackerOf(pool)?.agentSeries();
 * ```
 */
export function trackerOf(pool: { readonly options: { readonly metrics?: unknown } }): MetricsTracker | undefined {
  const metrics = pool.options.metrics;
  return metrics instanceof MetricsTracker ? metrics : undefined;
}
