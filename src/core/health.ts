/**
 * The pool's health state: healthy, degraded or down, derived from what the filler and the open
 * connections say, with an event on every change.
 *
 * @module
 */

/**
 * - `healthy`: connections open and creates succeed.
 * - `degraded`: creates are failing but some connections still serve.
 * - `down`: creates are failing and no connection is open: acquires can only time out.
 */
export type PoolHealth = "healthy" | "degraded" | "down";

/** Inputs of the health rule. */
export interface HealthInputs {
  readonly failing: boolean;
  readonly open: number;
  readonly closed: boolean;
}

/**
 * The health rule, as a pure function.
 *
 * @example
 * ```ts
 * import { healthOf } from "./health.ts";
 * healthOf({ failing: true, open: 0, closed: false }); // "down"
 * ```
 */
export function healthOf(inputs: HealthInputs): PoolHealth {
  if (inputs.closed) return "down";
  if (inputs.failing) return inputs.open === 0 ? "down" : "degraded";
  return "healthy";
}

/** Detail of a `statechange` event. */
export interface HealthChange {
  readonly from: PoolHealth;
  readonly to: PoolHealth;
  /** The last connection failure when the change is towards down, else undefined. */
  readonly cause: unknown;
}
