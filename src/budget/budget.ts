/**
 * GlobalBudget: per-agent connection limits that hold across every process naming the same
 * budget. Each process renews capacity leases in a table on a short tick and turns its grant into
 * the pool's local per-agent quota; acquires never wait on the network.
 *
 * Lease state machine: `starting` (no grant: budgeted agents get quota 0) → `granted` (quotas =
 * grants until the deadline) ⇄ `expired` (a renewal did not succeed before the deadline: quotas 0,
 * under-use, never over-use) → `stopped`. The deadline is the local monotonic start of the last
 * successful renewal + `ttlMs` − `safetyMarginMs`; other processes may take the share only after
 * `ttlMs` by the database's clock, which starts later.
 *
 * @module
 */

import { systemClock } from "../core/clock.ts";
import { planGrants } from "./plan.ts";
import type { AgentPlan } from "./plan.ts";
import { type BudgetOptions, resolveBudgetOptions, type ResolvedBudgetOptions } from "./options.ts";
import {
  type BudgetAgentView,
  budgetReason,
  type BudgetSnapshot,
  type BudgetState,
  holderViews,
} from "./snapshot.ts";
import type { CommittedLeases, LeaseRow } from "./store.ts";

/**
 * What the budget needs from a pool: its agents' holdings and a per-agent quota override.
 * An `AsyncConnectionPool` fits.
 *
 * @example
 * ```ts
 * import { createPostgresPool, type QuotaTarget } from "agentpool";
 * const target: QuotaTarget = createPostgresPool("postgres://app@pgbouncer.internal:6432/app");
 * ```
 */
export interface QuotaTarget {
  setAgentQuota(agentId: string, quota: number | undefined, why?: () => string): void;
  agents(): readonly { readonly agentId: string; readonly held: number; readonly pending: number }[];
}

/**
 * A global per-agent budget shared by every process that names it. Create it before the pool,
 * pass `budget.agentQuotas` as the pool's `agentQuotas` (so an agent first seen between two
 * renewals waits for its grant instead of running unbudgeted), then `start(pool)`.
 *
 * Events (`CustomEvent` with `detail`): `renew` (`{ durationMs }`), `renewerror` (`{ error }`),
 * `expired` (the lease ran out; quotas are 0 until a renewal succeeds).
 *
 * @example
 * ```ts
 * import { createPostgresPool, GlobalBudget, postgresBudgetStore } from "agentpool";
 * const budget = new GlobalBudget({
 *   name: "prod",
 *   holder: "host-a:4242",
 *   limits: { researcher: 6 },
 *   defaultLimit: 2,
 *   store: postgresBudgetStore("postgres://app@pgbouncer:6432/agentpool_ctl"),
 * });
 * const pool = createPostgresPool("postgres://app@pgbouncer:6432/app", { agentQuotas: budget.agentQuotas });
 * await budget.start(pool);
 * // ... researcher never holds more than 6 connections across all processes ...
 * await budget.stop();
 * await pool.close();
 * ```
 */
export class GlobalBudget extends EventTarget {
  /** The options in force, defaults applied. */
  readonly options: ResolvedBudgetOptions;
  #target: QuotaTarget | undefined;
  #state: BudgetState = "starting";
  /** The quota this budget set per agent (what the pool enforces). */
  #quotas = new Map<string, number>();
  #whys = new Map<string, () => string>();
  /** Quotas to raise once the renewal in flight commits. */
  #raises: AgentPlan[] = [];
  #plans = new Map<string, AgentPlan>();
  #rows: readonly LeaseRow[] = [];
  #deadline = -Infinity;
  #tickTimer: unknown = undefined;
  #expiryTimer: unknown = undefined;
  #inFlight: Promise<void> | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #renewals = 0;
  #failures = 0;
  #expiries = 0;
  #lastRenewMs = 0;
  #maxRenewMs = 0;
  #lastError: string | undefined;
  /** The clock's `now`, looked up once: `checkLease()` runs on every borrow and return. */
  readonly #now: () => number;

  /** Validates `options` (TypeError / RangeError naming the option). Starts nothing. */
  constructor(options: BudgetOptions) {
    super();
    this.options = resolveBudgetOptions(options);
    const clock = this.options.clock;
    this.#now = clock === systemClock ? performance.now.bind(performance) : () => clock.now();
  }

  /**
   * For the pool's `agentQuotas` option: 0 for a budgeted agent this process holds no grant for
   * yet, `undefined` for an agent the budget does not cover.
   */
  readonly agentQuotas = (agentId: string): number | undefined => {
    if (this.#limitOf(agentId) === undefined) return undefined;
    return this.#quotas.get(agentId) ?? 0;
  };

  /**
   * Checks the lease against the monotonic clock and, if its deadline passed without the expiry
   * timer having run yet (the process was paused: SIGSTOP, a VM freeze, a long GC), drops every
   * budgeted quota to 0 at once. Returns whether the lease is valid. One clock read; `guard()`
   * calls it before the pool hands out or takes back a connection.
   */
  checkLease(): boolean {
    if (this.#state !== "granted") return false;
    if (this.#now() < this.#deadline) return true;
    this.#expire();
    return false;
  }

  /** Where this process's lease stands. */
  get state(): BudgetState {
    return this.#state;
  }

  /**
   * How long this process may still grant without renewing, by its own monotonic clock: 0 once
   * the deadline passed, even before the expiry timer ran (a process that was paused).
   */
  get leaseRemainingMs(): number {
    return this.#state === "granted" ? Math.max(0, this.#deadline - this.options.clock.now()) : 0;
  }

  /**
   * Attaches the pool and runs the first renewal; resolves when it has finished, successfully
   * or not (a failed one is retried every tick; see `snapshot().lastError`). Until a renewal
   * succeeds every named agent's quota is 0.
   */
  async start(target: QuotaTarget): Promise<BudgetSnapshot> {
    if (this.#target !== undefined) throw new TypeError("Cannot start a budget twice");
    if (target === null || typeof target?.setAgentQuota !== "function" || typeof target.agents !== "function") {
      throw new TypeError("Cannot start budget as its target must have setAgentQuota() and agents()");
    }
    this.#target = target;
    for (const agentId of this.options.limits.keys()) this.#setQuota(agentId, 0);
    await this.#renew();
    return this.snapshot();
  }

  /**
   * Stops renewing: every budgeted agent's quota drops to 0 here, a last renewal keeps leases
   * only for connections still held (they expire after `ttlMs`) and returns the rest at once,
   * and the store is closed. Idempotent.
   */
  stop(): Promise<void> {
    return this.#stopped ??= this.#stop();
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    this.#clearTimers();
    await this.#inFlight;
    if (this.#target !== undefined) {
      for (const agentId of this.#quotas.keys()) this.#setQuota(agentId, 0);
      await this.#renew();
    }
    this.#state = "stopped";
    this.#clearTimers();
    await this.options.store.close?.();
  }

  /** This process's lease and the cluster-wide view from the last renewal. Built on demand. */
  snapshot(): BudgetSnapshot {
    const views = holderViews(this.#rows, this.options.holder);
    const agents: BudgetAgentView[] = [];
    const ids = new Set([...this.#plans.keys(), ...views.keys()]);
    for (const agentId of [...ids].sort()) {
      const limit = this.#plans.get(agentId)?.limit ?? this.#limitOf(agentId);
      if (limit === undefined) continue;
      agents.push(this.#agentView(agentId, limit, views.get(agentId) ?? []));
    }
    return {
      name: this.options.name,
      holder: this.options.holder,
      state: this.#state,
      tickMs: this.options.tickMs,
      ttlMs: this.options.ttlMs,
      leaseRemainingMs: this.leaseRemainingMs,
      renewals: this.#renewals,
      renewFailures: this.#failures,
      expiries: this.#expiries,
      lastRenewMs: this.#lastRenewMs,
      maxRenewMs: this.#maxRenewMs,
      lastError: this.#lastError,
      agents,
    };
  }

  #agentView(agentId: string, limit: number, holders: BudgetAgentView["holders"]): BudgetAgentView {
    const own = holders.find((h) => h.self);
    return {
      agentId,
      limit,
      granted: holders.reduce((sum, h) => sum + h.granted, 0),
      quota: this.#quotas.get(agentId) ?? 0,
      held: own?.held ?? 0,
      wants: own?.wants ?? 0,
      holders,
    };
  }

  #limitOf(agentId: string): number | undefined {
    return this.options.limits.get(agentId) ?? this.options.defaultLimit;
  }

  #setQuota(agentId: string, quota: number): void {
    if (this.#quotas.get(agentId) === quota) return;
    this.#quotas.set(agentId, quota);
    let why = this.#whys.get(agentId);
    if (why === undefined) this.#whys.set(agentId, why = () => this.#why(agentId));
    this.#target!.setAgentQuota(agentId, quota, why);
  }

  #why(agentId: string): string {
    const limit = this.#plans.get(agentId)?.limit ?? this.#limitOf(agentId) ?? 0;
    const view = this.#agentView(agentId, limit, holderViews(this.#rows, this.options.holder).get(agentId) ?? []);
    return budgetReason(this.options.name, this.#state, view, this.#lastError);
  }

  #renew(): Promise<void> {
    return this.#inFlight ??= this.#renewOnce().finally(() => {
      this.#inFlight = undefined;
      this.#scheduleTick();
    });
  }

  async #renewOnce(): Promise<void> {
    const { clock, store, ttlMs, safetyMarginMs } = this.options;
    const started = clock.now();
    const controller = new AbortController();
    // A renewal still running at the deadline is worth nothing: give up so the next can start.
    const abortTimer = clock.setTimeout(() => controller.abort(new Error("the renewal took too long")), ttlMs - safetyMarginMs);
    this.#raises = [];
    try {
      const state = await store.renew({
        budget: this.options.name,
        holder: this.options.holder,
        ttlMs,
        signal: controller.signal,
        decide: (committed) => this.#decide(committed),
      });
      const now = clock.now();
      this.#rows = state.rows;
      this.#renewals++;
      this.#lastRenewMs = now - started;
      this.#maxRenewMs = Math.max(this.#maxRenewMs, this.#lastRenewMs);
      this.#lastError = undefined;
      this.#granted(started + ttlMs - safetyMarginMs, now);
      this.#emit("renew", { durationMs: this.#lastRenewMs });
    } catch (error) {
      this.#failures++;
      this.#lastError = error instanceof Error ? error.message : String(error);
      this.#emit("renewerror", { error });
    } finally {
      clock.clearTimeout(abortTimer);
    }
  }

  /** Runs inside the renewal transaction: lowers quotas at once, raises them only after the commit. */
  #decide(committed: CommittedLeases): LeaseRow[] {
    const target = this.#target!;
    const demands = this.#stopping
      ? target.agents().map((a) => ({ agentId: a.agentId, held: a.held, pending: 0 }))
      : target.agents();
    const plans = planGrants({
      holder: this.options.holder,
      limitOf: (agentId) => this.#limitOf(agentId),
      demands,
      committed: committed.rows,
      rotation: Math.floor(committed.databaseNowMs / this.options.rotateMs),
    });
    this.#plans = new Map(plans.map((plan) => [plan.agentId, plan]));
    for (const plan of plans) {
      if (plan.quota < (this.#quotas.get(plan.agentId) ?? 0)) this.#setQuota(plan.agentId, plan.quota);
    }
    for (const agentId of this.#quotas.keys()) if (!this.#plans.has(agentId)) this.#setQuota(agentId, 0);
    this.#raises = plans;
    // Held is read after lowering: from here on it can only grow up to the lowered quota.
    const held = new Map<string, number>();
    for (const a of target.agents()) held.set(a.agentId, (held.get(a.agentId) ?? 0) + a.held);
    const rows: LeaseRow[] = [];
    for (const plan of plans) {
      const holding = held.get(plan.agentId) ?? 0;
      // What it holds counts as granted, so others do not grant it again, but never beyond what is
      // free: holding more than that means its lease lapsed (a pause) and the others took the
      // share; the first statement's fence (granted ≥ held) then stops the excess transactions.
      const granted = Math.min(Math.max(plan.quota, holding), Math.max(plan.free, plan.quota));
      if (plan.wants === 0 && granted === 0) continue;
      rows.push({
        holder: this.options.holder,
        agentId: plan.agentId,
        wants: plan.wants,
        granted,
        held: holding,
        limit: this.#limitOf(plan.agentId)!,
      });
    }
    const others = committed.rows.filter((row) => row.holder !== this.options.holder);
    this.#rows = [...others, ...rows];
    return rows;
  }

  #granted(deadline: number, now: number): void {
    this.#deadline = deadline;
    if (this.#stopping || now >= deadline) {
      this.#expire();
      return;
    }
    this.#state = "granted";
    for (const plan of this.#raises) this.#setQuota(plan.agentId, plan.quota);
    this.#raises = [];
    const clock = this.options.clock;
    if (this.#expiryTimer !== undefined) clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = clock.setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expire();
    }, deadline - now);
  }

  #expire(): void {
    if (this.#stopping) {
      for (const agentId of this.#quotas.keys()) this.#setQuota(agentId, 0);
      return;
    }
    if (this.#state === "granted") this.#expiries++;
    this.#state = "expired";
    for (const agentId of this.#quotas.keys()) this.#setQuota(agentId, 0);
    this.#emit("expired", { deadline: this.#deadline });
  }

  /** Ref'd on purpose: a started budget keeps the process alive until `stop()`, like a server. */
  #scheduleTick(): void {
    if (this.#stopping) return;
    const clock = this.options.clock;
    if (this.#tickTimer !== undefined) clock.clearTimeout(this.#tickTimer);
    this.#tickTimer = clock.setTimeout(() => {
      this.#tickTimer = undefined;
      void this.#renew();
    }, this.options.tickMs);
  }

  #clearTimers(): void {
    const clock = this.options.clock;
    if (this.#tickTimer !== undefined) clock.clearTimeout(this.#tickTimer);
    if (this.#expiryTimer !== undefined) clock.clearTimeout(this.#expiryTimer);
    this.#tickTimer = this.#expiryTimer = undefined;
  }

  #emit(type: string, detail: unknown): void {
    // A listener that throws costs that listener, never the budget's timers.
    try {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    } catch {
      // dispatchEvent reports listener errors itself on most runtimes
    }
  }
}
