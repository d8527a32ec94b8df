/**
 * Splits every acquire wait of a stress run into what the pool adds and what the database (the
 * workload holding every connection) costs, measured from outside the pool so peers are measured
 * the same way:
 *
 * - **wait**: the caller asked for a connection → the caller's code runs with it;
 * - **busy wait**: the part of that wait during which every connection up to the cap was held by
 *   callers (in transactions: database time plus the workload's own in-transaction work). No pool
 *   could have served the caller sooner;
 * - **pool-added wait** = wait − busy wait: the part during which a connection was idle, being handed
 *   over, reset or opened, or could have been opened (fewer than the cap held);
 * - **hand-off**: a connection was released while callers waited → the caller it went to runs
 *   (agentpool: from the grant inside `release()`, through the metrics tracker's sink).
 *
 * "Held" counts leases from the moment the caller's code runs to its release; a connection released
 * while callers wait is in transit to one of them and stays occupied for the others. The time with
 * every connection occupied is an integral kept at O(1) per event: each acquire remembers the
 * integral when it asked and subtracts it when it resumes.
 *
 * @module
 */

import type { AgentSeries, MetricsSink } from "../core/metrics_tracker.ts";
import { nearestRank } from "../core/percentile.ts";

/** Exact percentiles of one kind of time, in ms. */
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** The split of a run's acquire waits (see the module notes). */
export interface WaitSplit {
  /** Request → the caller's code runs. */
  wait: Percentiles;
  /** The part of each wait with fewer than the cap held: idle, hand-off, reset, open, or openable. */
  poolAdded: Percentiles;
  /** The part of each wait with every connection held. */
  busyWait: Percentiles;
  /** The pool's part minus the hand-off: a connection idle (not handed over yet), being reset or opened, or openable. */
  idleOrOpenable: Percentiles;
  /**
   * Release → the waiter's code runs, over acquires served by a hand-off. agentpool: from the
   * grant (inside the `release()` that freed the connection, via the metrics sink); peers: from
   * the release that freed a connection while callers waited.
   */
  handoff: Percentiles;
  /** Share of all waiting time that happened while every connection was held (0..1; 0 when nobody waited). */
  busyShareOfWaiting: number;
  /** Share of the window during which every connection was held (0..1). */
  allHeldShare: number;
}

/** What {@linkcode LeaseTimeline.request} hands back, passed to `resume`. */
export interface WaitToken {
  readonly at: number;
  readonly busyAt: number;
}

/**
 * Exact percentiles of `values` (copied and sorted).
 *
 * @example
 * ```ts
 * summarize([3, 1, 2]).p50; // 2
 * ```
 */
export function summarize(values: readonly number[] | Float64Array): Percentiles {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: nearestRank(sorted, 0.5),
    p99: nearestRank(sorted, 0.99),
    p999: nearestRank(sorted, 0.999),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

/**
 * Records leases and splits their waits; see the module notes. For agentpool it is also the
 * metrics tracker's sink (`metrics.forwardTo(timeline)`): grants give the hand-off, releases end
 * the lease. Peers call {@linkcode request} / {@linkcode resume} / {@linkcode end} themselves.
 *
 * @example
 * ```ts
 * declare const pgPool: { connect(): Promise<{ release(): void }> };
 * const timeline = new LeaseTimeline(30);
 * const token = timeline.request();
 * const client = await pgPool.connect();
 * timeline.resume(token);
 * // ...
 * client.release();
 * timeline.end();
 * timeline.split(performance.now()).poolAdded.p99;
 * ```
 */
export class LeaseTimeline implements MetricsSink {
  /** Leases whose code is running right now, and the most at once since the last reset. */
  held = 0;
  peakHeld = 0;
  readonly cap: number;
  #now: () => number;
  #busySince = -1;
  #busyTotal = 0;
  #windowStart: number;
  #windowBusyStart = 0;
  /** Whether waits are recorded now (inside a window), and the windows closed so far. */
  #recording = true;
  #closedSpan = 0;
  #closedBusy = 0;
  #waits: number[] = [];
  #busy: number[] = [];
  #handoffs: number[] = [];
  #idleOrOpenable: number[] = [];
  #second: number[] = [];
  #secondPool: number[] = [];
  /** Grant times per agent in grant order (an agent's grants resolve in that order); -1: served at once. */
  #grants = new Map<string, number[]>();
  /** Callers that asked and are not running yet. */
  #waiting = 0;
  /** Connections released while callers waited: in transit to one of them (release time, integral then). */
  #transit: WaitToken[] = [];
  #transitHead = 0;
  /**
   * Callers that resumed while every connection was occupied: each was handed a connection whose
   * release is reported later (a pool whose release cannot be observed, e.g. inside postgres.js's
   * `sql.begin()`). That report must not put a connection in transit: it is in use already.
   */
  #unreported = 0;

  /** `recording: false` starts outside any window (open one with {@linkcode openWindow}). */
  constructor(cap: number, now: () => number = () => performance.now(), recording = true) {
    this.cap = cap;
    this.#now = now;
    this.#windowStart = now();
    this.#recording = recording;
  }

  /** Time so far during which every connection was held. */
  busyIntegral(now = this.#now()): number {
    return this.#busyTotal + (this.#busySince >= 0 ? now - this.#busySince : 0);
  }

  /** Connections held or in transit to a waiter: none of them is free for anyone else. */
  #occupied(): number {
    return this.held + this.#transit.length - this.#transitHead;
  }

  #occupiedChanged(now: number): void {
    const all = this.#occupied() >= this.cap;
    if (all && this.#busySince < 0) this.#busySince = now;
    else if (!all && this.#busySince >= 0) {
      this.#busyTotal += now - this.#busySince;
      this.#busySince = -1;
    }
  }

  /** A caller asks for a connection. */
  request(): WaitToken {
    const at = this.#now();
    this.#waiting++;
    return { at, busyAt: this.busyIntegral(at) };
  }

  /** The caller's request failed (timeout, abort): it no longer waits. */
  abandon(): void {
    if (this.#waiting > 0) this.#waiting--;
  }

  /**
   * The caller's code runs with its connection; `agentId` finds agentpool's grant time. A
   * connection released while callers waited is taken to be this one (pools hand a released
   * connection to a waiter): until now it counted as occupied for everyone else, and for this
   * caller the time since its release is the hand-off, the pool's.
   */
  resume(token: WaitToken, agentId?: string): void {
    const now = this.#now();
    if (this.#waiting > 0) this.#waiting--;
    const wait = now - token.at;
    let busy: number;
    let handoff: number | undefined;
    if (this.#transitHead < this.#transit.length) {
      const released = this.#transit[this.#transitHead++];
      if (this.#transitHead > 64 && this.#transitHead * 2 > this.#transit.length) {
        this.#transit = this.#transit.slice(this.#transitHead);
        this.#transitHead = 0;
      }
      busy = released.busyAt - token.busyAt;
      handoff = now - Math.max(released.at, token.at);
      this.held++; // taken over from the transit: occupied stays the same
    } else {
      busy = this.busyIntegral(now) - token.busyAt;
      if (this.#occupied() >= this.cap) this.#unreported++;
      this.held++;
      this.#occupiedChanged(now);
    }
    busy = Math.max(0, Math.min(wait, busy));
    if (this.#recording) {
      this.#waits.push(wait);
      this.#busy.push(busy);
      this.#second.push(wait);
      this.#secondPool.push(wait - busy);
    }
    // agentpool tells when it granted the connection: that is the hand-off's exact start.
    const grantedAt = agentId === undefined ? undefined : this.#grants.get(agentId)?.shift();
    if (grantedAt !== undefined) handoff = grantedAt >= 0 ? now - grantedAt : undefined;
    if (this.#recording) {
      if (handoff !== undefined) this.#handoffs.push(handoff);
      this.#idleOrOpenable.push(Math.max(0, wait - busy - (handoff ?? 0)));
    }
    if (this.#recording && this.held > this.peakHeld) this.peakHeld = this.held;
  }

  /**
   * The caller released its connection (to a waiter, if one waits). Report it where the pool
   * takes the connection back, before the waiter's code can run: reported later, the waiter may
   * have resumed already (see #unreported) and its hand-off cannot be told apart from database time.
   */
  end(): void {
    if (this.held === 0) return;
    const now = this.#now();
    this.held--;
    if (this.#unreported > 0) {
      this.#unreported--; // that connection went to a caller who runs already
      this.#occupiedChanged(now);
      return;
    }
    if (this.#waiting > this.#transit.length - this.#transitHead) this.#transit.push({ at: now, busyAt: this.busyIntegral(now) });
    else this.#occupiedChanged(now);
  }

  /** @inheritdoc */
  acquired(series: AgentSeries, waitMs: number): void {
    const at = waitMs > 0 ? this.#now() : -1;
    const list = this.#grants.get(series.agent);
    if (list === undefined) this.#grants.set(series.agent, [at]);
    else list.push(at);
  }

  /** @inheritdoc */
  released(): void {
    this.end();
  }

  /** @inheritdoc */
  created(): void {}

  /** Forgets the waits so far (the warm-up) and opens the window; the held count stays. */
  reset(): void {
    this.#waits = [];
    this.#busy = [];
    this.#handoffs = [];
    this.#idleOrOpenable = [];
    this.#second = [];
    this.#secondPool = [];
    this.#closedSpan = 0;
    this.#closedBusy = 0;
    this.peakHeld = this.held;
    this.openWindow();
  }

  /** Records again from now on (another window of the same measurement; see {@linkcode closeWindow}). */
  openWindow(): void {
    this.#recording = true;
    this.#windowStart = this.#now();
    this.#windowBusyStart = this.busyIntegral(this.#windowStart);
    if (this.held > this.peakHeld) this.peakHeld = this.held;
  }

  /** Stops recording until {@linkcode openWindow}: the split covers the windows only. */
  closeWindow(end = this.#now()): void {
    if (!this.#recording) return;
    this.#recording = false;
    this.#closedSpan += end - this.#windowStart;
    this.#closedBusy += this.busyIntegral(end) - this.#windowBusyStart;
  }

  /** Waits and pool-added waits since the last call, ascending, and the integral now. */
  takeSecond(): { waits: Float64Array; poolAdded: Float64Array; busyIntegral: number } {
    const waits = Float64Array.from(this.#second).sort();
    const poolAdded = Float64Array.from(this.#secondPool).sort();
    this.#second = [];
    this.#secondPool = [];
    return { waits, poolAdded, busyIntegral: this.busyIntegral() };
  }

  /** The split of the windows so far (the open one up to `end`). */
  split(end = this.#now()): WaitSplit {
    let waiting = 0;
    let busyWaiting = 0;
    const poolAdded = this.#waits.map((w, i) => {
      waiting += w;
      busyWaiting += this.#busy[i];
      return w - this.#busy[i];
    });
    const span = this.#closedSpan + (this.#recording ? end - this.#windowStart : 0);
    const busy = this.#closedBusy + (this.#recording ? this.busyIntegral(end) - this.#windowBusyStart : 0);
    return {
      wait: summarize(this.#waits),
      poolAdded: summarize(poolAdded),
      busyWait: summarize(this.#busy),
      handoff: summarize(this.#handoffs),
      idleOrOpenable: summarize(this.#idleOrOpenable),
      busyShareOfWaiting: waiting > 0 ? busyWaiting / waiting : 0,
      allHeldShare: span > 0 ? Math.min(1, busy / span) : 0,
    };
  }
}

/**
 * Makes `pool.acquire` report to `timeline` (request, and resume when the caller's code runs);
 * together with `metrics.forwardTo(timeline)` this times agentpool from outside. Returns a function
 * that restores the pool's own method.
 *
 * @example
 * ```ts
 * import { AsyncConnectionPool } from "../core/pool.ts";
 * declare const pool: AsyncConnectionPool<unknown>;
 * const timeline = new LeaseTimeline(30);
 * const undo = timeAcquires(pool, timeline);
 * ```
 */
export function timeAcquires<P extends { acquire(options?: { agentId?: string }): Promise<unknown> }>(pool: P, timeline: LeaseTimeline): () => void {
  const own = pool.acquire;
  const original = own.bind(pool);
  pool.acquire = ((options?: { agentId?: string }) => {
    const token = timeline.request();
    return original(options).then((handle) => {
      timeline.resume(token, options?.agentId ?? "default");
      return handle;
    }, (error) => {
      timeline.abandon();
      throw error;
    });
  }) as P["acquire"];
  return () => void delete (pool as { acquire?: unknown }).acquire;
}
