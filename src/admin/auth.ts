/**
 * Bearer-token checks for the admin router. Tokens are compared in constant time on their UTF-8
 * bytes with plain web-standard code (no node:crypto), so the router stays portable.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Compares two strings in time that depends only on the length of `expected`, never on where they
 * differ. Use it for secrets.
 *
 * @example
 * ```ts
 * import { timingSafeEqual } from "agentpool/hono";
 * timingSafeEqual("given-token", "expected-token"); // false
 * ```
 */
export function timingSafeEqual(given: string, expected: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  let diff = a.length ^ b.length;
  // Walk `expected` fully; read `given` at an index that is always in bounds.
  for (let i = 0; i < b.length; i++) diff |= a[i < a.length ? i : 0] ^ b[i];
  // `given` empty and `expected` non-empty: the lengths differ, so diff is already non-zero.
  return diff === 0;
}

/** The access a route needs. */
export type Access = "read" | "write";

/** What a request may do, from its Authorization header. */
export interface AuthPolicy {
  /** The bearer token, or undefined when none was configured (writes are then refused). */
  readonly token: string | undefined;
  /** Reads need no token. */
  readonly publicReads: boolean;
}

/**
 * Why `authorization` (the header value) may not do `access`, or undefined when it may.
 *
 * @example
 * ```ts
 * import { denyReason } from "./auth.ts";
 * denyReason({ token: "t0k", publicReads: false }, "read", "Bearer t0k"); // undefined
 * ```
 */
export function denyReason(policy: AuthPolicy, access: Access, authorization: string | undefined): string | undefined {
  if (access === "read" && policy.publicReads) return undefined;
  if (policy.token === undefined) {
    return "This admin router has no 'token' option, so its mutating routes are disabled";
  }
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? "");
  if (match === null) return "Missing bearer token: send 'Authorization: Bearer <token>'";
  return timingSafeEqual(match[1], policy.token) ? undefined : "Invalid bearer token";
}
