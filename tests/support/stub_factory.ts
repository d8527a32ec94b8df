/**
 * A controllable {@linkcode ConnectionFactory} for core tests: creates that succeed at once, wait
 * for the test, or fail; destroys that finish at once or wait; counters for every call; and a live
 * count (creates in flight + connections not yet fully destroyed) checked against a cap on every
 * change, so a test can assert the pool never exceeded it, not even in between steps.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ConnectionFactory } from "../../src/core/factory.ts";
import type { PoolOptions, TuningOptions } from "../../src/core/options.ts";
import { invariantViolations } from "../../src/core/invariants.ts";
import { AsyncConnectionPool } from "../../src/core/pool.ts";
import { ManualClock } from "./manual_clock.ts";

/** What the stub hands out as a "connection". */
export interface StubConnection {
  readonly id: number;
  destroyed: boolean;
  resets: number;
}

/** How `create()` behaves: resolve in a microtask, wait for the test, or reject. */
export type CreateMode = "immediate" | "deferred" | "fail";

/** A create the test settles by hand. */
export interface PendingCreate {
  readonly signal: AbortSignal;
  resolve(): StubConnection;
  reject(error?: unknown): void;
}

/** A destroy the test finishes by hand. */
export interface PendingDestroy {
  readonly connection: StubConnection;
  resolve(): void;
}

/** One thing that happened to the factory, in order (for sequence assertions). */
export interface StubEvent {
  readonly type: "create" | "created" | "create-failed" | "destroy" | "destroyed" | "reset";
  readonly id?: number;
  /** Creates in flight right after the event. */
  readonly inFlight: number;
}

/** Options of {@linkcode StubFactory}. */
export interface StubOptions {
  /** Record a violation whenever creates in flight + open connections exceed this. */
  cap?: number;
  /** Give the factory a `reset` hook (called on every release). */
  reset?: (connection: StubConnection) => void | Promise<void>;
  createMode?: CreateMode;
  destroyMode?: "immediate" | "deferred";
  /** Deferred creates ignore their aborted signal (a driver stuck in a connect). */
  ignoreAbort?: boolean;
  /** Give the factory a `validate` hook; it answers with this function's result. */
  validate?: (connection: StubConnection) => boolean | Promise<boolean>;
  /** Give the factory a `cancel` hook. */
  cancel?: (connection: StubConnection) => void | Promise<void>;
  /** Give the factory an `isFatal` hook. */
  isFatal?: (error: unknown) => boolean;
  /** Give the factory an `atCapacity` hook (a create failure that is the server at its limit). */
  atCapacity?: (error: unknown) => boolean;
}

/**
 * The stub. Hand `stub.factory` to the pool.
 *
 * @example
 * ```ts
 * const stub = new StubFactory({ cap: 3, createMode: "deferred" });
 * const pool = new AsyncConnectionPool({ factory: stub.factory, maxConnections: 3, overflow: 0 });
 * stub.pendingCreates[0].resolve();
 * ```
 */
export class StubFactory {
  readonly factory: ConnectionFactory<StubConnection>;
  createMode: CreateMode;
  destroyMode: "immediate" | "deferred";
  /** The next N creates fail whatever the mode. */
  failNext = 0;
  /** Creates beyond this many fail and count as a violation (catches create/destroy churn). */
  createLimit = 10_000;
  cap: number | undefined;
  resetImpl: ((connection: StubConnection) => void | Promise<void>) | undefined;

  createCalls = 0;
  created = 0;
  createFailures = 0;
  createAborts = 0;
  destroyCalls = 0;
  destroyed = 0;
  resetCalls = 0;
  validateCalls = 0;
  cancelCalls = 0;
  ignoreAbort: boolean;
  /** Creates started and not yet settled. */
  inFlightCreates = 0;
  peakInFlightCreates = 0;
  /** Highest in-flight creates + open connections ever seen. */
  peakLive = 0;
  /** Connections created and not yet fully destroyed (a destroy in progress still counts). */
  readonly open = new Set<StubConnection>();
  readonly pendingCreates: PendingCreate[] = [];
  readonly pendingDestroys: PendingDestroy[] = [];
  readonly events: StubEvent[] = [];
  readonly violations: string[] = [];
  /** The error the last failed create rejected with. */
  lastError: unknown = undefined;
  #nextId = 1;

  constructor(options: StubOptions = {}) {
    this.cap = options.cap;
    this.createMode = options.createMode ?? "immediate";
    this.destroyMode = options.destroyMode ?? "immediate";
    this.resetImpl = options.reset;
    this.ignoreAbort = options.ignoreAbort ?? false;
    const factory: ConnectionFactory<StubConnection> = {
      create: (signal) => this.#create(signal),
      destroy: (connection) => this.#destroy(connection),
    };
    if (options.reset !== undefined) factory.reset = (connection) => this.#reset(connection);
    const { validate, cancel, isFatal } = options;
    if (validate !== undefined) {
      factory.validate = (connection) => {
        this.validateCalls++;
        if (connection.destroyed) this.violations.push(`validate of destroyed connection ${connection.id}`);
        return validate(connection);
      };
    }
    if (cancel !== undefined) {
      factory.cancel = (connection) => {
        this.cancelCalls++;
        return cancel(connection);
      };
    }
    if (isFatal !== undefined) factory.isFatal = isFatal;
    if (options.atCapacity !== undefined) factory.atCapacity = options.atCapacity;
    this.factory = factory;
  }

  /** Creates in flight + connections open or closing: what counts against the pool's cap. */
  get live(): number {
    return this.inFlightCreates + this.open.size;
  }

  /** Connections open and not being destroyed. */
  get usable(): number {
    let n = 0;
    for (const c of this.open) if (!c.destroyed) n++;
    return n;
  }

  /** Settles every deferred create successfully. */
  resolveAll(): void {
    while (this.pendingCreates.length > 0) this.pendingCreates[0].resolve();
  }

  /** Finishes every deferred destroy. */
  finishDestroys(): void {
    while (this.pendingDestroys.length > 0) this.pendingDestroys[0].resolve();
  }

  #check(): void {
    const live = this.live;
    if (live > this.peakLive) this.peakLive = live;
    if (this.inFlightCreates > this.peakInFlightCreates) this.peakInFlightCreates = this.inFlightCreates;
    if (this.cap !== undefined && live > this.cap) {
      this.violations.push(`live ${live} > cap ${this.cap} (creating ${this.inFlightCreates}, open ${this.open.size})`);
    }
  }

  #event(type: StubEvent["type"], id?: number): void {
    this.events.push({ type, id, inFlight: this.inFlightCreates });
  }

  #create(signal: AbortSignal): Promise<StubConnection> {
    if (!(signal instanceof AbortSignal)) this.violations.push("create() called without an AbortSignal");
    this.createCalls++;
    if (this.createCalls > this.createLimit) {
      // A pool that creates and closes in a loop would spin on microtasks forever (immediate
      // creates never yield to timers, so no test timeout could fire): fail instead, which sends
      // the pool into backoff on the manual clock.
      if (this.createCalls === this.createLimit + 1) this.violations.push(`more than ${this.createLimit} creates: runaway loop`);
      return Promise.reject(new Error("stub: runaway create loop"));
    }
    this.inFlightCreates++;
    this.#event("create");
    this.#check();
    const fail = this.failNext > 0 || this.createMode === "fail";
    if (this.failNext > 0) this.failNext--;
    return new Promise<StubConnection>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        settle(false, signal.reason);
      };
      const settle = (ok: boolean, error?: unknown): StubConnection => {
        if (settled) throw new Error("stub create settled twice");
        settled = true;
        signal.removeEventListener("abort", onAbort);
        const index = this.pendingCreates.indexOf(pending);
        if (index >= 0) this.pendingCreates.splice(index, 1);
        this.inFlightCreates--;
        if (ok) {
          const connection: StubConnection = { id: this.#nextId++, destroyed: false, resets: 0 };
          this.created++;
          this.open.add(connection);
          this.#event("created", connection.id);
          this.#check();
          resolve(connection);
          return connection;
        }
        if (signal.aborted && error === signal.reason) this.createAborts++;
        else this.createFailures++;
        this.lastError = error;
        this.#event("create-failed");
        reject(error);
        return undefined as unknown as StubConnection;
      };
      const pending: PendingCreate = {
        signal,
        resolve: () => settle(true),
        reject: (error = new Error(`connect ECONNREFUSED (stub create #${this.createCalls})`)) => settle(false, error),
      };
      if (signal.aborted && !this.ignoreAbort) {
        queueMicrotask(() => {
          settle(false, signal.reason);
        });
        return;
      }
      if (!this.ignoreAbort) signal.addEventListener("abort", onAbort, { once: true });
      if (fail) {
        const error = new Error(`connect ECONNREFUSED (stub create #${this.createCalls})`);
        queueMicrotask(() => {
          settle(false, error);
        });
      } else if (this.createMode === "immediate") {
        queueMicrotask(() => {
          if (!settled) settle(true);
        });
      } else {
        this.pendingCreates.push(pending);
      }
    });
  }

  #destroy(connection: StubConnection): void | Promise<void> {
    this.destroyCalls++;
    if (!this.open.has(connection) || connection.destroyed) {
      this.violations.push(`destroy of connection ${connection.id} that is not open`);
    }
    connection.destroyed = true;
    this.#event("destroy", connection.id);
    const finish = (): void => {
      this.open.delete(connection);
      this.destroyed++;
      this.#event("destroyed", connection.id);
    };
    if (this.destroyMode === "immediate") {
      finish();
      return;
    }
    return new Promise<void>((resolve) => {
      const pending: PendingDestroy = {
        connection,
        resolve: () => {
          this.pendingDestroys.splice(this.pendingDestroys.indexOf(pending), 1);
          finish();
          resolve();
        },
      };
      this.pendingDestroys.push(pending);
    });
  }

  #reset(connection: StubConnection): void | Promise<void> {
    this.resetCalls++;
    if (connection.destroyed) this.violations.push(`reset of destroyed connection ${connection.id}`);
    connection.resets++;
    this.#event("reset", connection.id);
    return this.resetImpl?.(connection);
  }
}

/** The pool under test with its stub factory and manual clock. */
export interface TestPool {
  readonly pool: AsyncConnectionPool<StubConnection>;
  readonly stub: StubFactory;
  readonly clock: ManualClock;
}

/**
 * A pool on a {@linkcode StubFactory} and a {@linkcode ManualClock}. Defaults differ from the
 * pool's on purpose: `minConnections: 0` so nothing is created unasked, and keepalive, max
 * lifetime, idle timeout and leak detection off; the stub's cap is the pool's hard cap. Pool
 * options override.
 */
export function makePool(
  options: Partial<PoolOptions<StubConnection> & TuningOptions> = {},
  stubOptions: StubOptions = {},
): TestPool {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock();
  const max = options.maxConnections ?? 20;
  const overflow = options.overflow ?? 10;
  const stub = new StubFactory({ cap: max + overflow, ...stubOptions });
  const pool = new AsyncConnectionPool<StubConnection>({
    minConnections: 0,
    // Health features off unless a test turns them on: they use Math.random and fire on the clock.
    keepaliveMs: 0,
    maxLifetimeMs: 0,
    idleTimeoutMs: 0,
    leakDetectionMs: 0,
    // Overflow closes on return (the rule most tests pin down); the linger has its own test.
    overflowIdleMs: 0,
    ...options,
    factory: stub.factory,
    clock,
  });
  return { pool, stub, clock };
}

/** A promise's outcome, readable synchronously once it settled. */
export interface Tracked<T> {
  readonly promise: Promise<T>;
  status: "pending" | "resolved" | "rejected";
  value: T | undefined;
  error: unknown;
}

/** Watches `promise` without letting its rejection go unhandled. */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const t: Tracked<T> = { promise, status: "pending", value: undefined, error: undefined };
  promise.then(
    (value) => {
      t.status = "resolved";
      t.value = value;
    },
    (error) => {
      t.status = "rejected";
      t.error = error;
    },
  );
  return t;
}

/**
 * Cross-checks the pool's views with each other and with the stub: states add up, agents' held
 * sums to used, pending sums to pending, nothing above the cap, the stub saw no misuse.
 */
export function assertConsistent({ pool, stub }: { pool: AsyncConnectionPool<StubConnection>; stub: StubFactory }): void {
  const s = pool.stats();
  const conns = pool.connections();
  const agents = pool.agents();
  assert.equal(conns.length, s.total, "connections().length === stats().total");
  const byState = (state: string): number => conns.filter((c) => c.state === state).length;
  assert.equal(byState("idle"), s.idle, "idle connections");
  assert.equal(byState("used"), s.used, "used connections");
  assert.equal(byState("validating"), s.validating, "validating connections");
  assert.equal(byState("resetting"), s.resetting, "resetting connections");
  assert.equal(conns.filter((c) => c.agentId !== null).length, s.used, "connections with a holder");
  assert.equal(conns.filter((c) => c.overflow).length, s.overflow, "overflow connections");
  assert.equal(agents.reduce((n, a) => n + a.held, 0), s.used, "sum of agents' held === used");
  assert.equal(agents.reduce((n, a) => n + a.pending, 0), s.pending, "sum of agents' pending === pending");
  assert.deepEqual(invariantViolations(s), [], "the pool's invariants hold (src/core/invariants.ts)");
  assert.ok(s.overflow <= s.cap - s.maxConnections, "overflow <= option");
  assert.ok(stub.live <= s.cap, `stub live ${stub.live} <= cap ${s.cap}`);
  assert.deepEqual(stub.violations, [], "stub saw no violation");
  if (!s.closed) assert.equal(stub.usable, s.total, "stub's usable connections === pool total");
}
