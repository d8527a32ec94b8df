/**
 * The pool's lifetime counters, shared by the modules that bump them.
 *
 * @module
 */

/** Lifetime counters of one pool; every field only grows. */
export interface PoolCounters {
  acquired: number;
  released: number;
  timeouts: number;
  rejected: number;
  aborted: number;
  created: number;
  destroyed: number;
  createErrors: number;
  validations: number;
  validationFailures: number;
  fatalErrors: number;
  leaks: number;
  reclaimed: number;
}

/**
 * Fresh, all-zero counters.
 *
 * @example
 * ```ts
 * const counters = newCounters();
 * counters.acquired; // 0
 * ```
 */
export function newCounters(): PoolCounters {
  return {
    acquired: 0,
    released: 0,
    timeouts: 0,
    rejected: 0,
    aborted: 0,
    created: 0,
    destroyed: 0,
    createErrors: 0,
    validations: 0,
    validationFailures: 0,
    fatalErrors: 0,
    leaks: 0,
    reclaimed: 0,
  };
}
