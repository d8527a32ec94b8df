/**
 * The measurement interface the pool reports through. With metrics off the pool calls a frozen
 * no-op object, so the hot path pays one monomorphic call and no branch.
 *
 * @module
 */

import type { ExhaustedReason } from "./errors.ts";

/**
 * Receives the pool's measurements as they happen. Gauges (idle, used, pending) are read from
 * `pool.stats()` instead, so nothing here runs per state change.
 *
 * @example Count acquires per agent
 * ```ts
 * import { noopMetrics, type PoolMetrics } from "agentpool";
 * const perAgent = new Map<string, number>();
 * const metrics: PoolMetrics = {
 *   ...noopMetrics,
 *   acquired: (agentId) => perAgent.set(agentId, (perAgent.get(agentId) ?? 0) + 1),
 * };
 * ```
 */
export interface PoolMetrics {
  /** A connection was handed to `agentId` after waiting `waitMs` (0 on the fast path). */
  acquired(agentId: string, waitMs: number): void;
  /** `agentId` returned a connection it held for `holdMs`. */
  released(agentId: string, holdMs: number): void;
  /** An acquire by `agentId` failed without a connection. */
  rejected(agentId: string, reason: ExhaustedReason): void;
  /** A connection was opened in `createMs`. */
  created(createMs: number): void;
  /** Opening a connection failed. */
  createFailed(error: unknown): void;
  /** A connection was closed. */
  destroyed(): void;
  /** A lease of `agentId` passed `leakDetectionMs`. Optional. */
  leaked?(agentId: string, heldMs: number): void;
  /** Work of `agentId` failed with `error` on a pooled connection (passed to `release(error)`). Optional. */
  errored?(agentId: string, error: unknown): void;
  /** Latency percentiles, included in `pool.stats().latency` when present. */
  summary?(): LatencySummary;
}

/** Percentiles of one latency series, in milliseconds. */
export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** The pool-wide latency series a metrics tracker keeps. */
export interface LatencySummary {
  /** Time from acquire() to getting a connection. */
  readonly wait: Percentiles;
  /** Time a connection was held. */
  readonly use: Percentiles;
  /** Time to open a connection. */
  readonly create: Percentiles;
}

/**
 * The tracker used when metrics are off: every method does nothing.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool, type ConnectionFactory, noopMetrics } from "agentpool";
 * declare const factory: ConnectionFactory<unknown>;
 * const pool = new AsyncConnectionPool({ factory, metrics: noopMetrics });
 * ```
 */
export const noopMetrics: PoolMetrics = Object.freeze({
  acquired(): void {},
  released(): void {},
  rejected(): void {},
  created(): void {},
  createFailed(): void {},
  destroyed(): void {},
});
