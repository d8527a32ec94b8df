/**
 * Pool options: defaults, and every invalid value rejected at construction with a TypeError or
 * RangeError whose message names the option and the value.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncConnectionPool, DEFAULT_POOL_OPTIONS, type PoolOptions } from "../src/core/mod.ts";
import { ManualClock } from "./support/manual_clock.ts";
import { makePool, type StubConnection, StubFactory } from "./support/stub_factory.ts";

type Options = PoolOptions<StubConnection>;

/** Builds a pool that creates nothing unasked; closes it if construction unexpectedly worked. */
async function construct(overrides: Record<string, unknown>): Promise<void> {
  const stub = new StubFactory();
  const options = { factory: stub.factory, minConnections: 0, clock: new ManualClock(), ...overrides };
  const pool = new AsyncConnectionPool(options as unknown as Options);
  await pool.close();
}

async function rejects(
  overrides: Record<string, unknown>,
  kind: typeof TypeError | typeof RangeError,
  option: string,
  shown: string,
): Promise<void> {
  let caught: unknown;
  try {
    await construct(overrides);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof kind, `${JSON.stringify(overrides)} should throw ${kind.name}, got ${String(caught)}`);
  const message = (caught as Error).message;
  assert.ok(message.startsWith(`Cannot create pool as '${option}' must be `), message);
  assert.ok(message.endsWith(`: current value is ${shown}`), message);
}

describe("options: invalid values throw and name the option and value", () => {
  test("the exact message format for maxConnections: 0", async () => {
    await assert.rejects(
      () => construct({ maxConnections: 0 }),
      (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.equal(error.message, "Cannot create pool as 'maxConnections' must be a positive integer: current value is 0");
        return true;
      },
    );
  });

  test("factory: missing, not an object, without create/destroy, bad hooks", async () => {
    await rejects({ factory: undefined }, TypeError, "factory", "undefined");
    await rejects({ factory: null }, TypeError, "factory", "null");
    await rejects({ factory: "pg" }, TypeError, "factory", '"pg"');
    await rejects({ factory: { create: () => Promise.resolve({}) } }, TypeError, "factory.destroy", "undefined");
    await rejects({ factory: { destroy: () => {} } }, TypeError, "factory.create", "undefined");
    await rejects({ factory: { create: 1, destroy: () => {} } }, TypeError, "factory.create", "1");
    const base = { create: () => Promise.resolve({}), destroy: () => {} };
    await rejects({ factory: { ...base, reset: "yes" } }, TypeError, "factory.reset", '"yes"');
    await rejects({ factory: { ...base, validate: 42 } }, TypeError, "factory.validate", "42");
    await rejects({ factory: { ...base, isFatal: true } }, TypeError, "factory.isFatal", "true");
  });

  test("options itself must be an object", () => {
    for (const bad of [undefined, null, 5, "x"]) {
      assert.throws(
        () => new AsyncConnectionPool(bad as unknown as Options),
        (error: unknown) => error instanceof TypeError && error.message.includes("'options'"),
      );
    }
  });

  test("integer options: negatives, zero where positive, NaN, fractions, Infinity, wrong types", async () => {
    await rejects({ maxConnections: 0 }, RangeError, "maxConnections", "0");
    await rejects({ maxConnections: -3 }, RangeError, "maxConnections", "-3");
    await rejects({ maxConnections: 2.5 }, RangeError, "maxConnections", "2.5");
    await rejects({ maxConnections: NaN }, RangeError, "maxConnections", "NaN");
    await rejects({ maxConnections: Infinity }, RangeError, "maxConnections", "Infinity");
    await rejects({ maxConnections: "20" }, TypeError, "maxConnections", '"20"');
    await rejects({ minConnections: -1 }, RangeError, "minConnections", "-1");
    await rejects({ minConnections: 1.5 }, RangeError, "minConnections", "1.5");
    await rejects({ overflow: -1 }, RangeError, "overflow", "-1");
    await rejects({ overflow: Infinity }, RangeError, "overflow", "Infinity");
    await rejects({ overflow: NaN }, RangeError, "overflow", "NaN");
    await rejects({ maxWaiting: -1 }, RangeError, "maxWaiting", "-1");
    await rejects({ maxWaiting: 0.5 }, RangeError, "maxWaiting", "0.5");
    await rejects({ maxPerAgent: 0 }, RangeError, "maxPerAgent", "0");
    await rejects({ maxPerAgent: NaN }, RangeError, "maxPerAgent", "NaN");
    await rejects({ createConcurrency: 0 }, RangeError, "createConcurrency", "0");
    await rejects({ createConcurrency: Infinity }, RangeError, "createConcurrency", "Infinity");
  });

  test("minConnections above maxConnections", async () => {
    await rejects({ minConnections: 6, maxConnections: 5 }, RangeError, "minConnections", "6");
  });

  test("durations: zero, negative, NaN, Infinity where not allowed, wrong types", async () => {
    await rejects({ acquireTimeoutMs: 0 }, RangeError, "acquireTimeoutMs", "0");
    await rejects({ acquireTimeoutMs: -5 }, RangeError, "acquireTimeoutMs", "-5");
    await rejects({ acquireTimeoutMs: NaN }, RangeError, "acquireTimeoutMs", "NaN");
    await rejects({ acquireTimeoutMs: "5s" }, TypeError, "acquireTimeoutMs", '"5s"');
    await rejects({ createTimeoutMs: Infinity }, RangeError, "createTimeoutMs", "Infinity");
    await rejects({ createTimeoutMs: 0 }, RangeError, "createTimeoutMs", "0");
    await rejects({ createRetryInitialMs: Infinity }, RangeError, "createRetryInitialMs", "Infinity");
    await rejects({ createRetryInitialMs: -1 }, RangeError, "createRetryInitialMs", "-1");
    await rejects({ createRetryMaxMs: NaN }, RangeError, "createRetryMaxMs", "NaN");
  });

  test("createRetryMaxMs below createRetryInitialMs", async () => {
    await rejects({ createRetryInitialMs: 100, createRetryMaxMs: 50 }, RangeError, "createRetryMaxMs", "50");
  });

  test("name must be a non-empty string", async () => {
    await rejects({ name: 42 }, TypeError, "name", "42");
    await rejects({ name: "" }, TypeError, "name", '""');
    await rejects({ name: ["pool"] }, TypeError, "name", "pool");
  });

  test("clock must have now(), setTimeout() and clearTimeout()", async () => {
    await rejects({ clock: 5 }, TypeError, "clock", "5");
    await rejects({ clock: { now: () => 0 } }, TypeError, "clock", "[object Object]");
    const noClear = { now: () => 0, setTimeout: () => 1 };
    await rejects({ clock: noClear }, TypeError, "clock", "[object Object]");
  });
});

describe("options: defaults and accepted edge values", () => {
  test("DEFAULT_POOL_OPTIONS documents the contract values", () => {
    assert.equal(DEFAULT_POOL_OPTIONS.minConnections, 5);
    assert.equal(DEFAULT_POOL_OPTIONS.maxConnections, 20);
    assert.equal(DEFAULT_POOL_OPTIONS.overflow, 10);
    assert.equal(DEFAULT_POOL_OPTIONS.acquireTimeoutMs, 5000);
    assert.equal(DEFAULT_POOL_OPTIONS.maxWaiting, 1000);
    assert.ok(Object.isFrozen(DEFAULT_POOL_OPTIONS));
  });

  test("a pool built with only a factory uses the defaults and fills to 5", async () => {
    const clock = new ManualClock();
    const stub = new StubFactory({ cap: 30 });
    const pool = new AsyncConnectionPool({ factory: stub.factory, clock });
    const o = pool.options;
    assert.deepEqual(
      [o.minConnections, o.maxConnections, o.overflow, o.acquireTimeoutMs, o.maxWaiting, o.maxPerAgent, o.name],
      [5, 20, 10, 5000, 1000, Infinity, "agentpool"],
    );
    assert.ok(Object.isFrozen(o));
    await clock.advance(0);
    const s = pool.stats();
    assert.equal(s.total, 5);
    assert.equal(s.idle, 5);
    assert.equal(s.cap, 30);
    assert.equal(stub.created, 5);
    await pool.close();
  });

  test("minConnections defaults to maxConnections when that is below 5", async () => {
    const { pool, clock, stub } = makePool({ maxConnections: 3, minConnections: undefined });
    assert.equal(pool.options.minConnections, 3);
    await clock.advance(0);
    assert.equal(stub.created, 3);
    await pool.close();
  });

  test("Infinity where allowed, zero where allowed", async () => {
    const { pool } = makePool({ acquireTimeoutMs: Infinity, maxWaiting: Infinity, maxPerAgent: Infinity, overflow: 0 });
    assert.equal(pool.options.acquireTimeoutMs, Infinity);
    assert.equal(pool.options.maxWaiting, Infinity);
    assert.equal(pool.stats().cap, 20);
    await pool.close();
    const zero = makePool({ maxWaiting: 0, minConnections: 0 });
    assert.equal(zero.pool.options.maxWaiting, 0);
    await zero.pool.close();
  });

  test("minConnections equal to maxConnections is fine; a fractional duration is fine", async () => {
    const { pool, clock, stub } = makePool({ minConnections: 4, maxConnections: 4, acquireTimeoutMs: 0.5 });
    await clock.advance(0);
    assert.equal(stub.created, 4);
    assert.equal(pool.options.acquireTimeoutMs, 0.5);
    await pool.close();
  });
});
