/**
 * The one place connections are created. Callers never create inline: they wait on the pool, and
 * the filler opens connections in the background while there is demand and room under the cap.
 * After a failure it backs off exponentially with full jitter and sends a single prober until a
 * create succeeds again, so a database outage is not met with a connection storm.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ConnectionFactory } from "./factory.ts";
import { PoolClosedError, PoolError } from "./errors.ts";

/** How long a create may ignore its aborted signal before the filler stops waiting for it. */
const ABANDON_AFTER_MS = 1000;

/** What the filler needs from the pool. */
export interface FillerHost<T> {
  /**
   * How many connections the pool wants opened now. `creating` counts every create in flight,
   * abandoned or not (any may still open a server session, so all count against the cap); `active`
   * only those not abandoned (the ones still meeting demand).
   */
  deficit(creating: number, active: number): number;
  /** A new connection opened in `createMs`. */
  adopt(connection: T, createMs: number): void;
  /** A create failed (after `failures` consecutive failures). */
  createFailed(error: unknown, failures: number): void;
}

/** Timing of the filler. */
export interface FillerOptions {
  createTimeoutMs: number;
  createConcurrency: number;
  createRetryInitialMs: number;
  createRetryMaxMs: number;
}

/**
 * Background creator of connections.
 *
 * @example
 * ```ts
 * import { type ConnectionFactory, systemClock } from "agentpool";
 * declare const factory: ConnectionFactory<unknown>;
 * declare const host: FillerHost<unknown>; // the pool: how many to open, where new ones go
 * const options: FillerOptions = {
 *   createTimeoutMs: 5000,
 *   createConcurrency: 2,
 *   createRetryInitialMs: 100,
 *   createRetryMaxMs: 5000,
 * };
 * const filler = new Filler(factory, systemClock, host, options);
 * filler.kick(); // call whenever demand may have grown or capacity was freed
 * await filler.close();
 * ```
 */
export class Filler<T> {
  #factory: ConnectionFactory<T>;
  #clock: Clock;
  #host: FillerHost<T>;
  #options: FillerOptions;
  #inFlight = new Set<Promise<void>>();
  #controllers = new Set<AbortController>();
  #failures = 0;
  #lastError: unknown = undefined;
  #retryTimer: unknown = undefined;
  #closed = false;
  /** Creates that ignored their aborted signal for ABANDON_AFTER_MS: no longer waited for; closed at once if they ever succeed. */
  #abandoned = 0;
  /** Wakes close() when a create is abandoned. */
  #onAbandon: (() => void) | undefined = undefined;

  constructor(factory: ConnectionFactory<T>, clock: Clock, host: FillerHost<T>, options: FillerOptions) {
    this.#factory = factory;
    this.#clock = clock;
    this.#host = host;
    this.#options = options;
  }

  /** Creates in flight, abandoned ones included: each may still open a server session. */
  get creating(): number {
    return this.#inFlight.size;
  }

  /** Consecutive failed creates (0 once one succeeds). */
  get failures(): number {
    return this.#failures;
  }

  /** The most recent create failure, kept after recovery for diagnostics. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** True while waiting out a backoff delay. */
  get backingOff(): boolean {
    return this.#retryTimer !== undefined;
  }

  /** Starts as many creates as the pool wants, within the concurrency limit. */
  kick(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    // While failing, one prober at a time: the database may be down.
    const limit = this.#failures > 0 ? 1 : this.#options.createConcurrency;
    // Abandoned creates (see #createOne) neither hold the prober's place nor count as demand met,
    // so recovery does not hang on one stuck create; but they still count against the cap.
    while (
      this.#inFlight.size - this.#abandoned < limit &&
      this.#host.deficit(this.#inFlight.size, this.#inFlight.size - this.#abandoned) > 0
    ) {
      // Settled: free the slot and look again, since demand may have grown meanwhile.
      // #createOne never rejects; the kick after it cannot throw into a promise nobody awaits.
      const task: Promise<void> = this.#createOne(() => this.#inFlight.delete(task)).then(() => {
        this.#inFlight.delete(task);
        this.kick();
      });
      this.#inFlight.add(task);
    }
  }

  /** Aborts creates in flight, cancels any backoff, and resolves once every create has settled. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    for (const controller of this.#controllers) controller.abort(new PoolClosedError());
    // Wait for every create, except those that ignore their abort (abandoned): close() must end.
    while (this.#inFlight.size > this.#abandoned) {
      await Promise.race([
        Promise.allSettled([...this.#inFlight]),
        new Promise<void>((resolve) => void (this.#onAbandon = resolve)),
      ]);
      this.#onAbandon = undefined;
    }
  }

  /** One create; `adopting()` runs just before the pool adopts the connection (it is open, no longer in flight). */
  async #createOne(adopting: () => void): Promise<void> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const { createTimeoutMs } = this.#options;
    const timer = this.#clock.setTimeout(() => {
      controller.abort(new PoolError("CREATE_TIMEOUT", `Opening a connection took longer than ${createTimeoutMs} ms`));
    }, createTimeoutMs);
    const startedAt = this.#clock.now();
    // A factory must reject once its signal aborts. One that does not (a driver stuck in a
    // connect) would hold the single prober's place forever and the pool would never recover:
    // after ABANDON_AFTER_MS it counts as failed and the next prober may go. Should it succeed
    // after all, the connection is closed at once, never adopted.
    let abandoned = false;
    let graceTimer: unknown = undefined;
    const onAbort = (): void => {
      graceTimer = this.#clock.setTimeout(() => {
        graceTimer = undefined;
        abandoned = true;
        this.#abandoned++;
        this.#onFailure(controller.signal.reason);
        this.#onAbandon?.();
        this.kick();
      }, ABANDON_AFTER_MS);
    };
    controller.signal.addEventListener("abort", onAbort, { once: true });
    let connection: T;
    try {
      connection = await this.#factory.create(controller.signal);
    } catch (error) {
      if (!abandoned) this.#onFailure(controller.signal.aborted && !this.#closed ? controller.signal.reason : error);
      return;
    } finally {
      this.#clock.clearTimeout(timer);
      if (graceTimer !== undefined) this.#clock.clearTimeout(graceTimer);
      controller.signal.removeEventListener("abort", onAbort);
      this.#controllers.delete(controller);
      if (abandoned) this.#abandoned--;
    }
    if (abandoned) {
      try {
        await this.#factory.destroy(connection);
      } catch {
        // Reported nowhere: the pool never knew this connection.
      }
      return;
    }
    this.#failures = 0;
    // adopt() closes it at once when the pool closed meanwhile. Out of `creating` first: adopt()
    // may hand it to a waiter whose code runs before this promise settles, and must not count it twice.
    adopting();
    try {
      this.#host.adopt(connection, this.#clock.now() - startedAt);
    } catch (error) {
      // The pool's own bug, never a user callback's (those are guarded): keep the filler alive.
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  #onFailure(error: unknown): void {
    if (this.#closed) return;
    this.#failures++;
    this.#lastError = error;
    this.#host.createFailed(error, this.#failures);
    const { createRetryInitialMs, createRetryMaxMs } = this.#options;
    const ceiling = Math.min(createRetryMaxMs, createRetryInitialMs * 2 ** Math.min(this.#failures - 1, 30));
    // Full jitter: independent pools that failed together do not retry together.
    const delay = Math.random() * ceiling;
    // Creates that were in flight together fail together: keep one retry timer, not one each.
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.kick();
    }, delay);
  }
}
