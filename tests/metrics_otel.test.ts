/**
 * OpenTelemetry binding (`agentpool/otel`): the semantic-convention instrument names, units and
 * attributes, values equal to the tracker's, unbind; and a real @opentelemetry/api Meter binds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Attributes, type BatchObservableResult, createNoopMeter, type Meter, type MetricOptions } from "@opentelemetry/api";
import { AsyncConnectionPool, createMetrics } from "../mod.ts";
import { bindOpenTelemetry, type MeterLike, OTEL_AGENT, OTEL_POOL_NAME, OTEL_STATE } from "../src/otel/mod.ts";

interface Instrument {
  kind: "histogram" | "counter" | "updown";
  name: string;
  options?: MetricOptions;
  records: [number, Attributes | undefined][];
  addCallback(): void;
  removeCallback(): void;
}

/** A Meter that remembers instruments, records and batch callbacks. */
function recordingMeter(): MeterLike & { instruments: Map<string, Instrument>; collect(): Map<string, [number, Attributes | undefined][]>; callbacks: number } {
  const instruments = new Map<string, Instrument>();
  const callbacks = new Set<(result: BatchObservableResult) => void>();
  const make = (kind: Instrument["kind"], name: string, options?: MetricOptions): Instrument => {
    assert.ok(!instruments.has(name), `${name} created once`);
    const instrument: Instrument = { kind, name, options, records: [], addCallback: () => {}, removeCallback: () => {} };
    instruments.set(name, instrument);
    return instrument;
  };
  return {
    instruments,
    get callbacks() {
      return callbacks.size;
    },
    createHistogram(name, options) {
      const instrument = make("histogram", name, options);
      return { record: (value, attributes) => void instrument.records.push([value, attributes]) };
    },
    createObservableCounter: (name, options) => make("counter", name, options),
    createObservableUpDownCounter: (name, options) => make("updown", name, options),
    addBatchObservableCallback(callback, observables) {
      assert.ok(observables.length > 0);
      callbacks.add(callback);
    },
    removeBatchObservableCallback(callback) {
      callbacks.delete(callback);
    },
    collect() {
      const observed = new Map<string, [number, Attributes | undefined][]>();
      for (const callback of callbacks) {
        callback({
          observe(observable, value, attributes) {
            const name = (observable as Instrument).name;
            observed.set(name, [...(observed.get(name) ?? []), [value, attributes]]);
          },
        });
      }
      return observed;
    },
  };
}

test("otel: a real @opentelemetry/api Meter binds (the no-op meter)", async () => {
  const meter: Meter = createNoopMeter();
  const tracker = createMetrics();
  const pool = new AsyncConnectionPool({ factory: { create: () => Promise.resolve({}), destroy: () => {} }, minConnections: 1, metrics: tracker });
  try {
    const binding = bindOpenTelemetry(pool, tracker, meter);
    await pool.use(() => {}, { agentId: "a" });
    binding.unbind();
    binding.unbind(); // idempotent
  } finally {
    await pool.close();
  }
});

test("otel: instruments follow the DB connection pool semantic conventions and report the same numbers", async () => {
  const meter = recordingMeter();
  const tracker = createMetrics();
  const pool = new AsyncConnectionPool({
    factory: { create: () => Promise.resolve({}), destroy: () => {} },
    minConnections: 1,
    maxConnections: 2,
    overflow: 0,
    metrics: tracker,
    name: "main",
  });
  try {
    const binding = bindOpenTelemetry(pool, tracker, meter);
    assert.equal(meter.callbacks, 1);
    const names = [...meter.instruments.keys()];
    for (const name of [
      "db.client.connection.count",
      "db.client.connection.idle.max",
      "db.client.connection.idle.min",
      "db.client.connection.max",
      "db.client.connection.pending_requests",
      "db.client.connection.timeouts",
      "db.client.connection.create_time",
      "db.client.connection.wait_time",
      "db.client.connection.use_time",
    ]) assert.ok(names.includes(name), name);
    const wait = meter.instruments.get("db.client.connection.wait_time")!;
    assert.equal(wait.kind, "histogram");
    assert.equal(wait.options?.unit, "s");
    assert.deepEqual(wait.options?.advice?.explicitBucketBoundaries?.slice(0, 3), [0.0001, 0.0005, 0.001]);
    assert.equal(meter.instruments.get("db.client.connection.count")!.kind, "updown");
    assert.equal(meter.instruments.get("db.client.connection.count")!.options?.unit, "{connection}");
    assert.equal(meter.instruments.get("db.client.connection.timeouts")!.kind, "counter");

    await pool.use(() => {}, { agentId: "critic" });
    const held = [await pool.acquire({ agentId: "planner" }), await pool.acquire({ agentId: "coder" })];
    await assert.rejects(pool.acquire({ agentId: "critic", timeoutMs: 5 }), { code: "ACQUIRE_TIMEOUT" });

    const waits = wait.records;
    assert.equal(waits.length, tracker.wait.count);
    assert.ok(waits.every(([, attributes]) => attributes?.[OTEL_POOL_NAME] === "main"));
    const agentWaits = meter.instruments.get("agentpool.agent.wait_time")!.records;
    assert.deepEqual(agentWaits.map(([, a]) => a?.[OTEL_AGENT]), ["critic", "planner", "coder"]);
    const created = meter.instruments.get("db.client.connection.create_time")!.records;
    assert.ok(created.length >= 1 && created.every(([seconds]) => seconds >= 0));

    const observed = meter.collect();
    const count = observed.get("db.client.connection.count")!;
    const s = pool.stats();
    assert.deepEqual(count, [
      [s.idle, { [OTEL_POOL_NAME]: "main", [OTEL_STATE]: "idle" }],
      [s.used, { [OTEL_POOL_NAME]: "main", [OTEL_STATE]: "used" }],
    ]);
    assert.deepEqual(observed.get("db.client.connection.max"), [[2, { [OTEL_POOL_NAME]: "main" }]]);
    assert.deepEqual(observed.get("db.client.connection.idle.max"), [[2, { [OTEL_POOL_NAME]: "main" }]]);
    assert.deepEqual(observed.get("db.client.connection.idle.min"), [[1, { [OTEL_POOL_NAME]: "main" }]]);
    assert.deepEqual(observed.get("db.client.connection.timeouts"), [[1, { [OTEL_POOL_NAME]: "main" }]]);
    assert.deepEqual(observed.get("db.client.connection.pending_requests"), [[0, { [OTEL_POOL_NAME]: "main" }]]);
    const timeouts = new Map(observed.get("agentpool.agent.timeouts")!.map(([v, a]) => [a?.[OTEL_AGENT], v]));
    assert.equal(timeouts.get("critic"), 1);
    const acquires = new Map(observed.get("agentpool.agent.acquires")!.map(([v, a]) => [a?.[OTEL_AGENT], v]));
    assert.equal(acquires.get("planner"), 1);
    assert.equal(acquires.get("critic"), 1);
    assert.deepEqual(count.map(([v]) => v), [0, 2]);

    await Promise.all(held.map((h) => h.release()));
    binding.unbind();
    assert.equal(meter.callbacks, 0);
    const before = wait.records.length;
    await pool.use(() => {}, { agentId: "planner" });
    assert.equal(wait.records.length, before, "nothing recorded after unbind");
    // The tracker can be bound again once unbound.
    bindOpenTelemetry(pool, tracker, recordingMeter()).unbind();
  } finally {
    await pool.close();
  }
});

test("otel: refuses a non-meter and a second binding on the same tracker", async () => {
  const tracker = createMetrics();
  const pool = new AsyncConnectionPool({ factory: { create: () => Promise.resolve({}), destroy: () => {} }, minConnections: 0, metrics: tracker });
  try {
    assert.throws(() => bindOpenTelemetry(pool, tracker, {} as MeterLike), { name: "TypeError", message: /'meter'/ });
    const first = bindOpenTelemetry(pool, tracker, recordingMeter());
    assert.throws(() => bindOpenTelemetry(pool, tracker, recordingMeter()), /already forwards/);
    first.unbind();
  } finally {
    await pool.close();
  }
});
