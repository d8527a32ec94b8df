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
export { DEFAULT_POOL_OPTIONS, type PoolOptions, type ResolvedPoolOptions } from "./options.ts";
export {
  ConnectionPoolExhaustedError,
  EXHAUSTED_CODES,
  type ExhaustedReason,
  PoolClosedError,
  PoolError,
} from "./errors.ts";
export { type LatencySummary, noopMetrics, type Percentiles, type PoolMetrics } from "./metrics.ts";
export type { ConnectionInfo, ConnectionState } from "./slot.ts";
export type { AgentInfo, Holder, PoolStats } from "./snapshots.ts";
export { DEFAULT_AGENT_ID } from "./agents.ts";
