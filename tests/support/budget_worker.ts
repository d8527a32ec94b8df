/**
 * One process of tests/budget_pgbouncer.test.ts: its own agentpool through PgBouncer, a
 * GlobalBudget on the control alias, and several agents (ids shared with the other processes)
 * running idempotent transactions until every task has committed once.
 *
 * Every transaction tags itself with `set_config('application_name', 'budget:<proc>:<agent>',
 * true)` so an observer sees the agent in pg_stat_activity, and bounds itself on the server
 * (`statement_timeout`, `idle_in_transaction_session_timeout`, transaction-local) below the
 * budget's safety margin, so work in flight when the process loses its lease ends in time.
 *
 * Env: BOUNCER_URL, CTL_URL, SCHEMA, BUDGET_SCHEMA, BUDGET, PROC, LIMITS (JSON), DEFAULT_LIMIT,
 * TICK_MS, TTL_MS, MARGIN_MS, TX_TIMEOUT_MS, SLEEP_MS, WORK (JSON {agent: [concurrency, tasks]}),
 * OPEN_ENDED (optional, comma-separated agents whose work goes on past its tasks until the line
 * `finish` arrives on stdin or stdin closes: demand that outlasts any fault, however slow the
 * machine). Prints `ready` once the first renewal ran, then one JSON line with its result; exits 0.
 *
 * @module
 */
import process from "node:process";
import { GlobalBudget } from "../../src/budget/budget.ts";
import { guardFactory } from "../../src/budget/guard.ts";
import { AsyncConnectionPool } from "../../src/core/pool.ts";
import { PooledDatabaseAdapter } from "../../src/postgres/adapter.ts";
import { postgresBudgetStore } from "../../src/postgres/budget_store.ts";
import { postgresFactory } from "../../src/postgres/factory.ts";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`budget_worker: ${name} is not set`);
  return value;
}

const proc = env("PROC");
const schema = env("SCHEMA");
const txTimeout = `${Number(env("TX_TIMEOUT_MS"))}ms`;
const sleepSeconds = Number(env("SLEEP_MS")) / 1000;
const work = JSON.parse(env("WORK")) as Record<string, [number, number]>;
const openEnded = new Set((process.env.OPEN_ENDED ?? "").split(",").filter((a) => a !== ""));
let finishing = openEnded.size === 0;
if (!finishing) {
  let input = "";
  const finish = (): void => void (finishing = true);
  process.stdin.setEncoding("utf8").on("data", (s: string) => {
    input += s;
    if (input.includes("finish\n")) finish();
  }).once("end", finish).once("error", finish);
}

const budgetName = env("BUDGET");
const budgetSchema = env("BUDGET_SCHEMA");
const marginMs = Number(env("MARGIN_MS"));
const budget = new GlobalBudget({
  name: budgetName,
  holder: proc,
  limits: JSON.parse(env("LIMITS")) as Record<string, number>,
  defaultLimit: Number(env("DEFAULT_LIMIT")),
  tickMs: Number(env("TICK_MS")),
  ttlMs: Number(env("TTL_MS")),
  safetyMarginMs: marginMs,
  store: postgresBudgetStore(env("CTL_URL"), { schema: budgetSchema, applicationName: `budget-ctl:${proc}`, statementTimeoutMs: 500 }),
});
const pool = new AsyncConnectionPool({
  factory: guardFactory(budget, postgresFactory(env("BOUNCER_URL"), { prepare: false, applicationName: `budget:${proc}` })),
  minConnections: 0,
  maxConnections: 6,
  overflow: 0,
  acquireTimeoutMs: 60_000,
  agentQuotas: budget.agentQuotas,
});
// tagTransactions off: the agent's name goes on the transaction only in its fenced first statement
// (below), so the observer counts transactions that passed the fence, i.e. that do work.
const db = new PooledDatabaseAdapter(pool, { maxRetries: 0, tagTransactions: false });

/** The first statement found this process's lease lapsed on the server: the transaction did nothing; queue again. */
class Fenced extends Error {}

const committed: Record<string, number> = {};
let unhandledRejections = 0;
// postgres.js's query.cancel() drops the promise of its cancel request, which rejects when the
// server is unreachable (factory.validate cancels a validation that timed out): counted and
// reported, since it is not the budget's, instead of crashing the worker.
process.on("unhandledRejection", (error) => {
  unhandledRejections++;
  console.error(`unhandled rejection: ${(error as Error)?.message}`);
});
let failures = 0;
let startsWithoutLease = 0;
let fenced = 0;
const errors = new Map<string, number>();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The pool's count of `agentId`'s held connections (this transaction's included). */
function heldHere(agentId: string): number {
  return pool.agents().find((a) => a.agentId === agentId)?.held ?? 1;
}

async function task(agentId: string, n: number): Promise<void> {
  for (;;) {
    try {
      await db.transaction(async (tx) => {
        if (budget.agentQuotas(agentId) !== undefined && budget.leaseRemainingMs === 0) startsWithoutLease++;
        // The fence (docs/deployment.md, "The pause window"): this first statement does anything
        // only if, by the server's clock, this process's lease row still grants the agent what the
        // pool holds here and has more than the safety margin to live; otherwise it returns no row
        // (set_config is never evaluated) and the transaction rolls back having done nothing.
        const tagged = await tx`select set_config('application_name', ${`budget:${proc}:${agentId}`}, true),
                                       set_config('statement_timeout', ${txTimeout}, true),
                                       set_config('idle_in_transaction_session_timeout', ${txTimeout}, true)
                                  from ${tx(budgetSchema)}.budget_leases
                                 where budget = ${budgetName} and holder = ${proc} and agent_id = ${agentId}
                                   and granted >= ${heldHere(agentId)}
                                   and renewed_at + (ttl_ms - ${marginMs}) * interval '1 millisecond' > clock_timestamp()`;
        if (tagged.length === 0) throw new Fenced();
        await tx`select pg_sleep(${sleepSeconds})`;
        const inserted = await tx`insert into ${tx(schema)}.events (proc, agent, n) values (${proc}, ${agentId}, ${n})
                                  on conflict do nothing returning 1`;
        if (inserted.length > 0) await tx`update ${tx(schema)}.counter set n = n + 1 where id = 1`;
      }, { agentId });
      committed[agentId] = (committed[agentId] ?? 0) + 1;
      return;
    } catch (error) {
      if (error instanceof Fenced) {
        fenced++;
        await sleep(20); // the next renewal decides; a tight loop would only spin on the same answer
        continue;
      }
      failures++;
      const key = String((error as { code?: string }).code ?? (error as Error).message).slice(0, 80);
      errors.set(key, (errors.get(key) ?? 0) + 1);
      await sleep(50);
    }
  }
}

async function agentLoop(agentId: string, concurrency: number, tasks: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < tasks || (openEnded.has(agentId) && !finishing)) await task(agentId, next++);
  }));
}

let code = 0;
try {
  await budget.start(pool);
  console.log("ready");
  await Promise.all(Object.entries(work).map(([agentId, [concurrency, tasks]]) => agentLoop(agentId, concurrency, tasks)));
  const s = budget.snapshot();
  console.log(JSON.stringify({
    proc,
    fenced,
    committed,
    failures,
    startsWithoutLease,
    unhandledRejections,
    errors: Object.fromEntries(errors),
    budget: { renewals: s.renewals, renewFailures: s.renewFailures, expiries: s.expiries, maxRenewMs: Math.round(s.maxRenewMs) },
  }));
} catch (error) {
  console.error(`budget_worker ${proc} failed:`, error);
  code = 1;
} finally {
  await budget.stop().catch(() => {});
  await pool.close();
  process.stdin.destroy();
}
process.exit(code);
