/**
 * The one option checker: every bad option in the package throws from here, so every message has
 * the same shape, `Cannot <subject> as '<option>' must be <rule>: current value is <value>`, with a
 * `TypeError` for a value of the wrong type and a `RangeError` for one of the right type out of
 * range.
 *
 * @module
 */

/** `"type"`: the value has the wrong type (`TypeError`); `"range"`: right type, out of range (`RangeError`). */
export type CheckKind = "type" | "range";

/**
 * Throws the `TypeError` (`kind` "type") or `RangeError` (`kind` "range") for a bad option. Strings
 * are shown quoted, everything else as `String(value)`; pass a redacted value for secrets.
 *
 * @example
 * ```ts
 * import { invalidOption } from "./checks.ts";
 * try {
 *   invalidOption("range", "create pool", "maxConnections", "a positive integer", 0);
 * } catch (e) {
 *   console.log((e as Error).message); // Cannot create pool as 'maxConnections' must be a positive integer: current value is 0
 * }
 * ```
 */
export function invalidOption(kind: CheckKind, subject: string, option: string, rule: string, value: unknown): never {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  const message = `Cannot ${subject} as '${option}' must be ${rule}: current value is ${shown}`;
  throw kind === "type" ? new TypeError(message) : new RangeError(message);
}

/** The bounds of {@linkcode checkInteger}: `min` defaults to 0, `max` to none. */
export interface IntegerRange {
  readonly min?: number;
  readonly max?: number;
  /** `Infinity` passes (as "no limit"). Default false. */
  readonly allowInfinity?: boolean;
}

/**
 * Checks an integer option: a number, whole, within `range` (default: at least 0). Returns it.
 *
 * @example
 * ```ts
 * import { checkInteger } from "./checks.ts";
 * checkInteger("create adapter", "maxRetries", 3); // 3
 * checkInteger("create pool", "maxWaiting", Infinity, { allowInfinity: true }); // Infinity
 * checkInteger("list", "limit", -1); // RangeError: ... 'limit' must be a non-negative integer ...
 * ```
 */
export function checkInteger(subject: string, option: string, value: unknown, range: IntegerRange = {}): number {
  const { min = 0, max = Infinity, allowInfinity = false } = range;
  const base = integerRule(min, max);
  const rule = allowInfinity ? `${base} or Infinity` : base;
  if (typeof value !== "number") invalidOption("type", subject, option, rule, value);
  if (value === Infinity && allowInfinity) return value;
  if (!Number.isInteger(value) || value < min || value > max) invalidOption("range", subject, option, rule, value);
  return value;
}

/**
 * Checks a duration option: a positive number of milliseconds; `Infinity` only when allowed.
 * Returns it.
 *
 * @example
 * ```ts
 * import { checkDuration } from "./checks.ts";
 * checkDuration("create postgres factory", "connectTimeoutMs", 5000); // 5000
 * checkDuration("acquire", "timeoutMs", Infinity, true); // Infinity
 * ```
 */
export function checkDuration(subject: string, option: string, value: unknown, allowInfinity = false): number {
  const rule = `a positive number of milliseconds${allowInfinity ? " or Infinity" : ""}`;
  if (typeof value !== "number") invalidOption("type", subject, option, rule, value);
  if (value === Infinity && allowInfinity) return value;
  if (!Number.isFinite(value) || value <= 0) invalidOption("range", subject, option, rule, value);
  return value;
}

function integerRule(min: number, max: number): string {
  if (max !== Infinity) return `an integer from ${min} to ${max}`;
  if (min === 0) return "a non-negative integer";
  if (min === 1) return "a positive integer";
  return `an integer of at least ${min}`;
}
