/**
 * The lease state machine, deterministically: several simulated processes (each a GlobalBudget
 * with its own pausable clock and a pool stand-in) share one in-memory lease table that expires
 * rows by the shared "database clock". No real timer runs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GlobalBudget } from "../src/budget/budget.ts";
import { guardFactory } from "../src/budget/guard.ts";
import { budgetPrometheusText } from "../src/budget/prometheus.ts";
import { SharedTime } from "./support/budget_clock.ts";
import { MemoryLeaseTable, QuotaPool } from "./support/budget_memory.ts";

const TICK = 100;
const TTL = 1000;
const MARGIN = 300;

function world(limits: Record<string, number>, defaultLimit?: number) {
  const time = new SharedTime();
  const table = new MemoryLeaseTable(() => time.now, (id) => limits[id] ?? defaultLimit ?? Infinity);
  const spawn = (holder: string) => {
    const clock = time.process();
    const pool = new QuotaPool();
    const store = table.store();
    const budget: GlobalBudget = new GlobalBudget({
      name: "b",
      holder,
      limits,
      defaultLimit,
      store,
      clock,
      tickMs: TICK,
      ttlMs: TTL,
      safetyMarginMs: MARGIN,
    });
    pool.agentQuotas = budget.agentQuotas;
    return { holder, clock, pool, store, budget };
  };
  /** Two holders `a` and `b` that both want `wants` of `agent`, started, settled for 500 ms. */
  const pair = async (agent: string, wants: number) => {
    const a = spawn("a");
    const b = spawn("b");
    a.pool.want(agent, wants);
    b.pool.want(agent, wants);
    await a.budget.start(a.pool);
    await b.budget.start(b.pool);
    await time.advance(500);
    return { a, b };
  };
  return { time, table, spawn, pair };
}

describe("GlobalBudget leases", () => {
  it("splits a contended limit fairly across processes and never grants more than the limit", async () => {
    const w = world({ hot: 3 });
    const procs = ["p0", "p1", "p2", "p3"].map(w.spawn);
    for (const p of procs) p.pool.want("hot", 5);
    for (const p of procs) await p.budget.start(p.pool);
    await w.time.advance(2000);
    const quotas = procs.map((p) => p.pool.quotas.get("hot") ?? 0);
    assert.equal(quotas.reduce((a, b) => a + b, 0), 3, `quotas ${quotas}`);
    assert.ok(quotas.every((q) => q <= 1), `fair: ${quotas}`);
    assert.deepEqual(w.table.violations, []);
    assert.ok(w.table.commits >= 4 * 15, `renewed about every tick: ${w.table.commits}`);
    for (const p of procs) await p.budget.stop();
  });

  it("a holder above its fair share shrinks first; the newcomer grows only into freed room", async () => {
    const w = world({ hot: 4 });
    const a = w.spawn("a");
    const b = w.spawn("b");
    a.pool.want("hot", 4);
    await a.budget.start(a.pool);
    a.pool.serve("hot");
    assert.equal(a.pool.held.get("hot"), 4);
    b.pool.want("hot", 4);
    await b.budget.start(b.pool);
    assert.equal(b.pool.quotas.get("hot"), 0, "nothing is free while a holds all 4");
    await w.time.advance(300);
    assert.equal(a.pool.quotas.get("hot"), 2, "a's quota dropped to its fair share");
    assert.equal(b.pool.quotas.get("hot"), 0, "a still holds 4: its lease keeps them");
    a.pool.finish("hot", 2);
    await w.time.advance(300);
    assert.equal(b.pool.quotas.get("hot"), 2);
    assert.equal(w.table.granted("b", "hot"), 4);
    assert.deepEqual(w.table.violations, []);
    await a.budget.stop();
    await b.budget.stop();
  });

  it("a renewal lowers the quota before it writes: acquires served during the transaction stay within the new grant", async () => {
    const time = new SharedTime();
    const table = new MemoryLeaseTable(() => time.now, () => 2);
    const pools = { a: new QuotaPool(), b: new QuotaPool() };
    const make = (holder: "a" | "b") =>
      new GlobalBudget({
        name: "b",
        holder,
        limits: { hot: 2 },
        // The pool keeps serving its waiters while the renewal transaction is open.
        store: table.store({ beforeWrite: () => void pools[holder].serve("hot") }),
        clock: time.process(),
        tickMs: TICK,
        ttlMs: TTL,
        safetyMarginMs: MARGIN,
      });
    const a = make("a");
    const b = make("b");
    pools.a.want("hot", 2);
    await a.start(pools.a);
    assert.equal(pools.a.quotas.get("hot"), 2);
    pools.a.finish("hot", 2, true); // a's work waits again, nothing held
    pools.b.want("hot", 2);
    await b.start(pools.b);
    await time.advance(1000);
    const heldA = pools.a.held.get("hot") ?? 0;
    const heldB = pools.b.held.get("hot") ?? 0;
    assert.ok(heldA + heldB <= 2, `held a=${heldA} b=${heldB}`);
    assert.ok(heldA <= 1 && heldB >= 1, `shared: a=${heldA} b=${heldB}`);
    assert.deepEqual(table.violations, []);
    await a.stop();
    await b.stop();
  });

  it("a crashed holder's share returns after the TTL and one tick, not before", async () => {
    const w = world({ hot: 2 });
    const { a, b } = await w.pair("hot", 2);
    assert.equal(a.pool.quotas.get("hot"), 1);
    assert.equal(b.pool.quotas.get("hot"), 1);
    // a "crashes": its timers never fire again, its connections are gone with it.
    a.clock.paused = true;
    a.pool.finish("hot", 2);
    const crashedAt = w.time.now;
    let returnedAt = -1;
    while (w.time.now - crashedAt < 3000 && returnedAt < 0) {
      await w.time.advance(10);
      if (b.pool.quotas.get("hot") === 2) returnedAt = w.time.now;
    }
    const after = returnedAt - crashedAt;
    assert.ok(after > TTL - 2 * TICK && after <= TTL + 2 * TICK, `share returned after ${after} ms`);
    assert.deepEqual(w.table.violations, []);
    await b.budget.stop();
  });

  it("a process that cannot renew drops its quotas to 0 before its lease could expire, and recovers", async () => {
    const w = world({ hot: 2 });
    const a = w.spawn("a");
    a.pool.want("hot", 2);
    await a.budget.start(a.pool);
    assert.equal(a.pool.quotas.get("hot"), 2);
    assert.equal(a.budget.state, "granted");
    const lastRenewal = w.time.now;
    w.table.failWith = new Error("connection refused");
    let droppedAt = -1;
    while (droppedAt < 0 && w.time.now - lastRenewal < 2000) {
      await w.time.advance(10);
      if (a.pool.quotas.get("hot") === 0) droppedAt = w.time.now;
    }
    assert.equal(a.budget.state, "expired");
    // Dropped by the local deadline: ttl − margin after the start of the last successful renewal.
    assert.ok(droppedAt - lastRenewal <= TTL - MARGIN + TICK, `dropped after ${droppedAt - lastRenewal} ms`);
    assert.ok(droppedAt - lastRenewal < TTL, "well before the table would let others take it");
    assert.match(a.pool.whys.get("hot")!(), /global budget 'b' allows hot 2 across processes; this process could not renew its lease \(connection refused\)/);
    const s = a.budget.snapshot();
    assert.ok(s.renewFailures >= 1 && s.expiries === 1 && s.leaseRemainingMs === 0);
    w.table.failWith = undefined;
    await w.time.advance(2 * TICK);
    assert.equal(a.budget.state, "granted");
    assert.equal(a.pool.quotas.get("hot"), 2);
    await a.budget.stop();
  });

  it("a paused process (SIGSTOP) past its TTL resumes with quota 0 and gets only what is free", async () => {
    const w = world({ hot: 2 });
    const { a, b } = await w.pair("hot", 2);
    a.pool.serve("hot");
    b.pool.serve("hot");
    a.clock.paused = true;
    a.pool.finish("hot", 2, true); // the server ended its transactions while it was stopped; the work waits again
    await w.time.advance(2 * TTL);
    assert.equal(b.pool.quotas.get("hot"), 2, "b took the expired share");
    b.pool.serve("hot");
    a.clock.paused = false;
    await a.clock.fireDue(); // the overdue timers run first on resume
    assert.equal(a.pool.quotas.get("hot"), 0, "resumed without a valid lease");
    await w.time.advance(300);
    assert.equal(a.pool.quotas.get("hot"), 0, "b holds both: nothing free");
    b.pool.finish("hot", 2, true);
    await w.time.advance(500);
    assert.equal(a.pool.quotas.get("hot"), 1);
    assert.equal(b.pool.quotas.get("hot"), 1);
    assert.deepEqual(w.table.violations, []);
    await a.budget.stop();
    await b.budget.stop();
  });

  it("a paused process that still holds connections on waking records no grant beyond what is free (Σgranted ≤ limit)", async () => {
    // Its two transactions were admitted under its lease and are still held when it wakes: the
    // others took the share meanwhile. Recording granted = what it holds would lift Σgranted over
    // the limit and let those transactions pass the first statement's fence; the grant is capped
    // at what is free, so the fence (granted ≥ held) stops them.
    const w = world({ hot: 2 });
    const { a, b } = await w.pair("hot", 2);
    assert.equal(a.pool.serve("hot") + b.pool.serve("hot"), 2);
    const aHeld = w.table.granted("a", "hot");
    a.clock.paused = true;
    if (aHeld > 0) {
      // b's transactions end while a is stopped; b wants the whole limit and takes a's expired share.
      b.pool.finish("hot", 2 - aHeld, true);
    }
    await w.time.advance(2 * TTL);
    b.pool.serve("hot");
    a.clock.paused = false;
    await a.clock.fireDue();
    await w.time.advance(300); // a renews at least twice while still holding
    assert.deepEqual(w.table.violations, [], "Σgranted stayed within the limit after every commit");
    assert.ok(w.table.granted("a", "hot") + w.table.granted("b", "hot") <= 2);
    await a.budget.stop();
    await b.budget.stop();
  });

  it("guardFactory: a paused process that wakes past its deadline drops its quotas at the first borrow, before its timers run", async () => {
    const w = world({ hot: 2 });
    const a = w.spawn("a");
    a.pool.want("hot", 2);
    await a.budget.start(a.pool);
    assert.equal(a.pool.quotas.get("hot"), 2);
    const calls: string[] = [];
    const factory = guardFactory(a.budget, {
      create: () => Promise.resolve({ id: 1 }),
      destroy: () => void calls.push("destroy"),
      isBroken: () => (calls.push("isBroken"), false),
      reset: () => void calls.push("reset"),
    });
    assert.equal(factory.isBroken!({ id: 1 }), false);
    assert.equal(a.pool.quotas.get("hot"), 2, "a valid lease is left alone");
    a.clock.paused = true;
    await w.time.advance(TTL); // past the deadline; the expiry timer has not run (paused)
    a.clock.paused = false; // woken, but no timer has fired yet
    assert.equal(a.budget.state, "granted");
    assert.equal(a.budget.leaseRemainingMs, 0);
    factory.isBroken!({ id: 1 });
    assert.equal(a.pool.quotas.get("hot"), 0, "the borrow's check expired the lease synchronously");
    assert.equal(a.budget.state, "expired");
    assert.equal(a.budget.checkLease(), false);
    await factory.reset!({ id: 1 });
    await factory.destroy({ id: 1 });
    assert.deepEqual(calls, ["isBroken", "isBroken", "reset", "destroy"], "the wrapped hooks still run");
    assert.equal(factory.validate, undefined, "no hook the factory lacks is added");
    await a.budget.stop();
  });

  it("the default limit covers unnamed agents; agentQuotas says 0 before the first grant and undefined for others", async () => {
    const w = world({ named: 1 }, 2);
    const a = w.spawn("a");
    assert.equal(a.budget.agentQuotas("named"), 0);
    assert.equal(a.budget.agentQuotas("anyone"), 0);
    const unbudgeted = w.spawn("u");
    assert.equal(unbudgeted.budget.agentQuotas("x"), 0);
    a.pool.want("anyone", 5);
    await a.budget.start(a.pool);
    assert.equal(a.pool.quotas.get("anyone"), 2);
    assert.equal(a.budget.agentQuotas("anyone"), 2);
    const noDefault = new GlobalBudget({ name: "n", store: w.table.store(), limits: { only: 1 } });
    assert.equal(noDefault.agentQuotas("other"), undefined);
    await a.budget.stop();
  });

  it("stop() returns an unused share at once and keeps leases only for connections still held", async () => {
    const w = world({ hot: 2, cold: 2 });
    const a = w.spawn("a");
    a.pool.want("hot", 2);
    a.pool.want("cold", 1);
    await a.budget.start(a.pool);
    a.pool.serve("hot");
    await a.budget.stop();
    assert.equal(a.budget.state, "stopped");
    assert.equal(a.pool.quotas.get("hot"), 0);
    assert.equal(w.table.granted("b", "hot"), 2, "still held: kept until the TTL");
    assert.equal(w.table.granted("b", "cold"), 0, "returned at once");
    assert.equal(a.clock.pendingTimers, 0, "no timer left behind");
  });

  it("snapshot, why text and metrics name the budget, the limit and every holder", async () => {
    const w = world({ "researcher \"x\"\n": 3 });
    const agent = "researcher \"x\"\n";
    const a = w.spawn("host-a:1");
    const b = w.spawn("host-b:2");
    a.pool.want(agent, 3);
    b.pool.want(agent, 3);
    await a.budget.start(a.pool);
    await b.budget.start(b.pool);
    await w.time.advance(400);
    const s = a.budget.snapshot();
    assert.equal(s.state, "granted");
    const [view] = s.agents;
    assert.equal(view.limit, 3);
    assert.deepEqual(view.holders.map((h) => h.holder), ["host-a:1", "host-b:2"]);
    assert.equal(view.granted, view.holders.reduce((n, h) => n + h.granted, 0));
    assert.ok(view.granted <= 3);
    const why = a.pool.whys.get(agent)!();
    assert.match(why, /^global budget 'b' allows researcher "x"\n 3 across processes; granted here \d; holders: host-a:1 \(\d, this process\), host-b:2 \(\d\)$/);
    const text = budgetPrometheusText(s);
    assert.match(text, /agentpool_budget_limit\{budget="b",agent="researcher \\"x\\"\\n"\} 3/);
    assert.match(text, /agentpool_budget_granted\{budget="b",agent="researcher \\"x\\"\\n",holder="host-b:2"\} \d/);
    assert.match(text, /agentpool_budget_lease_valid\{budget="b",holder="host-a:1"\} 1/);
    await a.budget.stop();
    await b.budget.stop();
  });
});
