/**
 * The shared agent team of `agentpool stress` and `npm start`: N agents, each running a realistic
 * coordination loop through the adapter and the task repository, plus a seeder that keeps the
 * task table supplied with jobs (a reviewer parent that depends on its worker children).
 *
 * One agent iteration: claim a task (`FOR UPDATE SKIP LOCKED`, with a lease) → read its context
 * (parent, artifacts, progress) in a read-only transaction → heartbeat → add an artifact and
 * complete the task in one transaction → check the parent's progress. Think time sits between
 * steps; a few "long holders" sometimes keep the completing transaction open for 100–500 ms, the
 * way an agent that calls a model mid-transaction would.
 *
 * Stopping is graceful: after the stop signal (or the duration) an agent skips its think time,
 * finishes the task it holds and exits, so every claimed task is completed exactly once. Past
 * `graceMs`, long holds end at once (statements are bounded by the pool's acquire timeout).
 *
 * @module
 */

import { setMaxListeners } from "node:events";
import { ConnectionPoolExhaustedError, PoolClosedError } from "../core/errors.ts";
import type { PooledDatabaseAdapter } from "../postgres/adapter.ts";
import { TaskStateError } from "../postgres/errors.ts";
import { quoteIdentifier } from "../postgres/identifiers.ts";
import { type Task, TaskRepository } from "../postgres/tasks.ts";
import type { NewTask } from "../postgres/task_types.ts";

/** A `[min, max]` range of milliseconds; a value is drawn uniformly from it. */
export type MsRange = readonly [number, number];

/**
 * Options of {@linkcode AgentTeam}.
 *
 * @example
 * ```ts
 * const options: WorkloadOptions = { agents: 12, thinkMs: [200, 800], longHolders: 1 };
 * ```
 */
export interface WorkloadOptions {
  /** Number of agents. */
  agents: number;
  /** Schema of the task tables. Default: a fresh `agentpool_team_<random>` (drop it with `dropSchema`). */
  schema?: string;
  /** Agent ids are `<prefix>-<n>`. Default `"agent"`. */
  agentPrefix?: string;
  /** Think time between steps. Default `[2, 10]`. */
  thinkMs?: MsRange;
  /**
   * Agent-side work inside a transaction (between its statements: parse what was read, build the
   * artifact), holding the connection. Default `[0, 0]`.
   */
  workMs?: MsRange;
  /** How many agents (the first ones) sometimes hold a transaction open. Default 2. */
  longHolders?: number;
  /** How long a long holder keeps its transaction. Default `[100, 500]`. */
  longHoldMs?: MsRange;
  /** Chance per completed task that a long holder holds. Default 0.25. */
  longHoldChance?: number;
  /** Worker children per job (plus one reviewer parent). Default 4. */
  childrenPerJob?: number;
  /** Pending tasks the seeder keeps in stock. Default `4 × agents`. */
  backlog?: number;
  /** How often the seeder tops the backlog up. Default 50. */
  seedEveryMs?: number;
  /** Lease of a claim. Default 30000. */
  leaseMs?: number;
  /** How long stopping agents may take to finish their task before statements are cancelled. Default 10000. */
  graceMs?: number;
  /**
   * Offered load instead of think time: before each transaction an agent waits for its slot
   * (see `Pacer` in stress_pacer.ts); `thinkMs` is then not used.
   */
  pacer?: { wait(signal: AbortSignal): Promise<void> };
}

/** One agent's counters. */
export interface AgentResult {
  agentId: string;
  /** Whether it is one of the long holders. */
  longHolder: boolean;
  claims: number;
  completions: number;
  /** Claims that found nothing to do. */
  idleClaims: number;
  /** Transactions committed on its behalf. */
  transactions: number;
  /** Transactions it held open on purpose for 100–500 ms. */
  longHolds: number;
  expectedErrors: number;
  unexpectedErrors: number;
}

/** Team-wide counters, cheap to read at any time. */
export interface TeamTotals {
  transactions: number;
  completions: number;
  claims: number;
  expectedErrors: number;
  unexpectedErrors: number;
  /** Tasks the seeder created. */
  seeded: number;
}

/** One error an agent met, for the report. */
export interface ErrorSample {
  agentId: string;
  expected: boolean;
  name: string;
  code?: string;
  message: string;
}

/** What {@linkcode AgentTeam.stop} returns. */
export interface WorkloadResult {
  schema: string;
  agents: AgentResult[];
  totals: TeamTotals;
  /** The first errors seen (at most 20 unexpected and 20 expected). */
  errors: ErrorSample[];
  /** From start to the last agent exiting. */
  elapsedMs: number;
}

const SPECIALISTS: readonly string[] = ["worker", "reviewer"];
const SEEDER = "seeder";

/** Sleeps `ms`, or less when `signal` aborts (never rejects). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

function draw([min, max]: MsRange): number {
  return min + Math.random() * (max - min);
}

function checkRange(option: string, value: MsRange): MsRange {
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => Number.isFinite(v) && v >= 0) || value[0] > value[1]) {
    throw new RangeError(`Cannot create agent team as '${option}' must be [min, max] milliseconds with 0 <= min <= max: current value is ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Whether an error is part of normal operation: lease races, a revoked agent (the dashboard's
 * revoke button), or cancellation while stopping. Anything else is a finding.
 */
export function isExpectedError(error: unknown, stopping: boolean): boolean {
  if (error instanceof TaskStateError) return error.code === "TASK_NOT_HELD" || error.code === "TASK_ALREADY_FINISHED";
  if (error instanceof ConnectionPoolExhaustedError) return error.reason === "revoked";
  if (stopping && error instanceof PoolClosedError) return true;
  return stopping && error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

/**
 * A team of agents coordinating through the task tables; see the module notes.
 *
 * @example
 * ```ts
 * import { createPostgresPool, PooledDatabaseAdapter } from "agentpool";
 * import { AgentTeam } from "./workload.ts";
 * declare const url: string; // a PostgreSQL connection string
 * const pool = createPostgresPool(url, { maxConnections: 20 });
 * const team = new AgentTeam(new PooledDatabaseAdapter(pool), { agents: 10 });
 * await team.setup();
 * team.start();
 * await new Promise((r) => setTimeout(r, 2000));
 * const result = await team.stop();
 * console.log(result.totals.completions, pool.stats().used); // …, 0
 * await team.dropSchema();
 * await pool.close();
 * ```
 */
export class AgentTeam {
  readonly schema: string;
  readonly tasks: TaskRepository;
  readonly #adapter: PooledDatabaseAdapter;
  readonly #o: Required<Omit<WorkloadOptions, "schema" | "pacer">>;
  readonly #pacer: WorkloadOptions["pacer"];
  readonly #agents: AgentResult[];
  readonly #totals: TeamTotals = { transactions: 0, completions: 0, claims: 0, expectedErrors: 0, unexpectedErrors: 0, seeded: 0 };
  readonly #errors: ErrorSample[] = [];
  /** Aborted by stop(): ends think time and loops. */
  readonly #stop = new AbortController();
  /** Aborted `graceMs` after stop(): ends long holds at once. */
  readonly #hard = new AbortController();
  #running: Promise<void>[] = [];
  #startedAt = 0;
  #result: Promise<WorkloadResult> | undefined;

  /** Checks the options (RangeError naming the option). */
  constructor(adapter: PooledDatabaseAdapter, options: WorkloadOptions) {
    const agents = options.agents;
    if (!Number.isInteger(agents) || agents < 1) {
      throw new RangeError(`Cannot create agent team as 'agents' must be a positive integer: current value is ${String(agents)}`);
    }
    this.#adapter = adapter;
    // Every agent's think time listens to the stop signal: that is by design, not a leak.
    setMaxListeners(0, this.#stop.signal, this.#hard.signal);
    this.schema = options.schema ?? `agentpool_team_${crypto.randomUUID().slice(0, 8)}`;
    this.#o = {
      agents,
      agentPrefix: options.agentPrefix ?? "agent",
      thinkMs: checkRange("thinkMs", options.thinkMs ?? [2, 10]),
      workMs: checkRange("workMs", options.workMs ?? [0, 0]),
      longHolders: Math.min(agents, options.longHolders ?? 2),
      longHoldMs: checkRange("longHoldMs", options.longHoldMs ?? [100, 500]),
      longHoldChance: options.longHoldChance ?? 0.25,
      childrenPerJob: options.childrenPerJob ?? 4,
      backlog: options.backlog ?? agents * 4,
      seedEveryMs: options.seedEveryMs ?? 50,
      leaseMs: options.leaseMs ?? 30_000,
      graceMs: options.graceMs ?? 10_000,
    };
    this.#pacer = options.pacer;
    this.tasks = new TaskRepository(adapter, { schema: this.schema, leaseMs: this.#o.leaseMs });
    this.#agents = Array.from({ length: agents }, (_, i) => ({
      agentId: `${this.#o.agentPrefix}-${i + 1}`,
      longHolder: i < this.#o.longHolders,
      claims: 0,
      completions: 0,
      idleClaims: 0,
      transactions: 0,
      longHolds: 0,
      expectedErrors: 0,
      unexpectedErrors: 0,
    }));
  }

  /** Creates the task tables and the first backlog. */
  async setup(): Promise<void> {
    await this.tasks.migrate(SEEDER);
    await this.#topUp();
  }

  /** Starts the agents and the seeder; they run until {@linkcode stop}. */
  start(): void {
    if (this.#startedAt !== 0) throw new Error("Cannot start agent team as it was already started");
    this.#startedAt = performance.now();
    this.#running = [...this.#agents.map((a) => this.#agentLoop(a)), this.#seederLoop()];
  }

  /** Team-wide counters so far. */
  totals(): Readonly<TeamTotals> {
    return this.#totals;
  }

  /** Per-agent counters so far (live objects; copy before keeping). */
  agents(): readonly AgentResult[] {
    return this.#agents;
  }

  /** Errors seen so far (bounded). */
  errors(): readonly ErrorSample[] {
    return this.#errors;
  }

  /**
   * Stops the team: agents finish the task they hold and exit. Resolves once all did. Idempotent.
   *
   * @example
   * ```ts
   * import type { AgentTeam } from "./workload.ts";
   * declare const team: AgentTeam;
   * const { totals } = await team.stop();
   * ```
   */
  stop(): Promise<WorkloadResult> {
    this.#result ??= this.#finish();
    return this.#result;
  }

  /** Drops the task schema (for throwaway schemas). */
  async dropSchema(): Promise<void> {
    const s = quoteIdentifier("schema", this.schema);
    await this.#adapter.transaction((tx) => tx.unsafe(`drop schema if exists ${s} cascade`), { agentId: SEEDER });
  }

  async #finish(): Promise<WorkloadResult> {
    this.#stop.abort();
    const grace = setTimeout(() => this.#hard.abort(new DOMException("stop grace period over", "AbortError")), this.#o.graceMs);
    try {
      await Promise.all(this.#running);
    } finally {
      clearTimeout(grace);
    }
    return {
      schema: this.schema,
      agents: this.#agents.map((a) => ({ ...a })),
      totals: { ...this.#totals },
      errors: [...this.#errors],
      elapsedMs: this.#startedAt === 0 ? 0 : performance.now() - this.#startedAt,
    };
  }

  /**
   * Statements run without a signal: a signal per call costs an abort listener per statement, and a
   * graceful stop never needs one. Only the long holders' pause listens to the hard stop.
   */
  #ctx(agentId: string): { agentId: string } {
    return { agentId };
  }

  /** Think time; none once stopping (the agent hurries to finish its task). */
  #think(): Promise<void> {
    if (this.#pacer !== undefined) return this.#stop.signal.aborted ? Promise.resolve() : this.#pacer.wait(this.#stop.signal);
    return pause(draw(this.#o.thinkMs), this.#stop.signal);
  }

  /** Work inside a transaction: the connection stays held (ends at once past the grace period). */
  #busy(): Promise<void> {
    const [min, max] = this.#o.workMs;
    return max === 0 ? Promise.resolve() : pause(draw([min, max]), this.#hard.signal);
  }

  async #agentLoop(agent: AgentResult): Promise<void> {
    // Spread the first claims so 50 agents do not start in the same millisecond.
    await pause(Math.random() * this.#o.thinkMs[1], this.#stop.signal);
    while (!this.#stop.signal.aborted) {
      let task: Task | undefined;
      if (this.#pacer !== undefined) await this.#think();
      if (this.#stop.signal.aborted) break;
      try {
        task = await this.tasks.claimNext(this.#ctx(agent.agentId), { specialist: SPECIALISTS });
        this.#committed(agent);
        if (task === undefined) {
          agent.idleClaims++;
          await pause(Math.max(20, this.#o.thinkMs[1]), this.#stop.signal);
          continue;
        }
        agent.claims++;
        this.#totals.claims++;
        await this.#work(agent, task);
      } catch (error) {
        this.#record(agent, error);
        if (task !== undefined) await this.tasks.fail(this.#ctx(agent.agentId), task.id, error).catch(() => {});
        // A revoked agent (the dashboard's button) sits out a second rather than spin.
        const revoked = error instanceof ConnectionPoolExhaustedError && error.reason === "revoked";
        await pause(revoked ? 1000 : 50 + Math.random() * 100, this.#stop.signal);
      }
    }
  }

  /** Everything after a successful claim. */
  async #work(agent: AgentResult, task: Task): Promise<void> {
    const id = agent.agentId;
    await this.#think();
    // Read the context: the parent's brief, what is attached so far, and (for a reviewer) its children.
    await this.#adapter.transaction(async (tx) => {
      if (task.parentId !== null) await this.tasks.get(tx, task.parentId);
      await this.tasks.artifacts(tx, task.id);
      if (task.specialist === "reviewer") await this.tasks.parentProgress(tx, task.id);
      await this.#busy();
    }, { ...this.#ctx(id), readOnly: true });
    this.#committed(agent);
    await this.#think();
    await this.tasks.heartbeat(this.#ctx(id), task.id);
    this.#committed(agent);
    await this.#think();
    const hold = agent.longHolder && !this.#stop.signal.aborted && Math.random() < this.#o.longHoldChance;
    await this.#adapter.transaction(async (tx) => {
      await this.#busy();
      await this.tasks.addArtifact(tx, task.id, task.specialist === "reviewer" ? "review" : "patch", { by: id, at: Date.now() });
      // A slow agent: the transaction (and its connection) stays open while it "thinks".
      if (hold) await pause(draw(this.#o.longHoldMs), this.#hard.signal);
      await this.tasks.complete(tx, task.id, { ok: true, by: id });
    }, this.#ctx(id));
    this.#committed(agent);
    if (hold) agent.longHolds++;
    agent.completions++;
    this.#totals.completions++;
    if (task.parentId !== null) {
      await this.#think();
      await this.tasks.parentProgress(this.#ctx(id), task.parentId);
      this.#committed(agent);
    }
  }

  #committed(agent: AgentResult): void {
    agent.transactions++;
    this.#totals.transactions++;
  }

  #record(agent: AgentResult, error: unknown): void {
    const expected = isExpectedError(error, this.#stop.signal.aborted);
    if (expected) {
      agent.expectedErrors++;
      this.#totals.expectedErrors++;
    } else {
      agent.unexpectedErrors++;
      this.#totals.unexpectedErrors++;
    }
    if (this.#errors.filter((e) => e.expected === expected).length >= 20) return;
    const e = error as { name?: unknown; code?: unknown; message?: unknown };
    this.#errors.push({
      agentId: agent.agentId,
      expected,
      name: typeof e?.name === "string" ? e.name : typeof error,
      ...(typeof e?.code === "string" ? { code: e.code } : {}),
      message: typeof e?.message === "string" ? e.message : String(error),
    });
  }

  /** Keeps the backlog stocked and hands expired leases back, until stopped. */
  async #seederLoop(): Promise<void> {
    const seeder: AgentResult = { ...this.#agents[0], agentId: SEEDER, longHolder: false };
    let lastSweep = performance.now();
    while (!this.#stop.signal.aborted) {
      await pause(this.#o.seedEveryMs, this.#stop.signal);
      if (this.#stop.signal.aborted) break;
      try {
        await this.#topUp();
        if (performance.now() - lastSweep > 1000) {
          lastSweep = performance.now();
          await this.tasks.releaseExpiredLeases(this.#ctx(SEEDER));
        }
      } catch (error) {
        this.#record(seeder, error); // counted in the totals, not in any agent's row
      }
    }
  }

  /** Creates jobs until `backlog` tasks are pending. */
  async #topUp(): Promise<void> {
    const s = quoteIdentifier("schema", this.schema);
    const [{ pending }] = await this.#adapter.transaction(
      (tx) => tx.unsafe(`select count(*)::integer as pending from ${s}.tasks where status = 'pending'`),
      this.#ctx(SEEDER),
    ) as unknown as [{ pending: number }];
    const perJob = this.#o.childrenPerJob + 1;
    const jobs = Math.ceil((this.#o.backlog - pending) / perJob);
    if (jobs <= 0) return;
    const batch: NewTask[] = [];
    for (let j = 0; j < jobs; j++) {
      const parent = crypto.randomUUID();
      const children = Array.from({ length: this.#o.childrenPerJob }, () => crypto.randomUUID());
      batch.push({ id: parent, specialist: "reviewer", priority: 1, payload: { goal: `job ${parent.slice(0, 8)}` }, dependsOn: children });
      for (const [i, child] of children.entries()) {
        batch.push({ id: child, parentId: parent, specialist: "worker", payload: { step: i + 1 } });
      }
    }
    await this.tasks.createTasks(this.#ctx(SEEDER), batch);
    this.#totals.seeded += batch.length;
  }
}
