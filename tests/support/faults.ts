/**
 * Small helpers shared by the fault tests (tests/fault_*.test.ts). Runtime-neutral.
 *
 * @module
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { ConnectionFactory } from "../../src/core/factory.ts";
import { PoolError } from "../../src/core/errors.ts";

type Sql = postgres.Sql;

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` every `everyMs` until it is true; fails the test after `timeoutMs` naming `what`
 * (and the last error, when a check threw: a throw counts as "not yet").
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown = undefined;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      assert.fail(`never happened within ${timeoutMs} ms: ${what}${lastError === undefined ? "" : ` (last error: ${describe(lastError)})`}`);
    }
    await sleep(everyMs);
  }
}

/** Settles like `promise`, or with a `HUNG` error once `ms` pass first (its timer is always cleared). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`HUNG: ${what} did not settle within ${ms} ms`), { code: "HUNG" })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the next `type` event's detail of `target` (a hang guard of `ms` fails the test). */
export function nextEvent<D>(target: EventTarget, type: string, ms = 10_000): Promise<D> {
  let listener: ((event: Event) => void) | undefined;
  const seen = new Promise<D>((resolve) => {
    listener = (event) => resolve((event as CustomEvent<D>).detail);
    target.addEventListener(type, listener, { once: true });
  });
  return within(seen, ms, `a '${type}' event`).finally(() => target.removeEventListener(type, listener!));
}

/** Driver / server codes that mean "the connection or the server went away": a clear failure. */
const CONNECTION_CODES = new Set([
  "57P01", // admin_shutdown / terminated
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up / shutting down)
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
]);

/** A failure a caller can act on: a pool error with a code, or a driver connection error. */
export function isClearFailure(error: unknown): boolean {
  if (error instanceof PoolError) return typeof error.code === "string" && error.code !== "";
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08"));
}

/** A short description of an error for assertion messages. */
export function describe(error: unknown): string {
  const e = error as { name?: string; code?: string; message?: string };
  return `${e?.name ?? typeof error}${e?.code ? ` [${e.code}]` : ""}: ${e?.message ?? String(error)}`;
}

/** Backend pids of the sessions named `applicationName`, read from a separate connection. */
export async function sessionPids(observer: Sql, applicationName: string): Promise<number[]> {
  const rows = await observer<{ pid: number }[]>`
    select pid from pg_stat_activity where application_name = ${applicationName} order by pid`;
  return rows.map((r) => r.pid);
}

/** A create that was attempted, with its start time (performance.now()). */
export interface CreateAttempt {
  at: number;
  ok?: boolean;
}

/** Wraps `factory` so every `create` is recorded in `attempts`; every other hook is kept as is. */
export function countingFactory<T>(factory: ConnectionFactory<T>, attempts: CreateAttempt[]): ConnectionFactory<T> {
  const wrapped: ConnectionFactory<T> = Object.create(factory);
  wrapped.create = async (signal) => {
    const attempt: CreateAttempt = { at: performance.now() };
    attempts.push(attempt);
    try {
      const connection = await factory.create(signal);
      attempt.ok = true;
      return connection;
    } catch (error) {
      attempt.ok = false;
      throw error;
    }
  };
  return wrapped;
}
