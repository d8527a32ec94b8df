/** Bad budget options throw TypeError / RangeError naming the option and its value. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GlobalBudget } from "../src/budget/budget.ts";
import type { BudgetOptions } from "../src/budget/options.ts";
import { MemoryLeaseTable, QuotaPool } from "./support/budget_memory.ts";

const store = new MemoryLeaseTable(() => 0, () => 1).store();

function throwsNaming(options: unknown, kind: typeof TypeError | typeof RangeError, pattern: RegExp): void {
  assert.throws(() => new GlobalBudget(options as BudgetOptions), (error: unknown) => {
    assert.ok(error instanceof kind, `${(error as Error).name}: ${(error as Error).message}`);
    assert.match((error as Error).message, pattern);
    return true;
  });
}

describe("budget options", () => {
  it("limits must be non-negative integers, named in the message", () => {
    throwsNaming({ name: "b", store, limits: { researcher: -1 } }, RangeError, /^Cannot create budget as 'limits\.researcher' must be a non-negative integer.*: current value is -1$/);
    throwsNaming({ name: "b", store, limits: { researcher: 2.5 } }, RangeError, /'limits\.researcher'.*current value is 2\.5$/);
    throwsNaming({ name: "b", store, limits: { researcher: "3" } }, TypeError, /'limits\.researcher'.*current value is "3"$/);
    throwsNaming({ name: "b", store, limits: { researcher: Infinity } }, RangeError, /current value is Infinity$/);
    throwsNaming({ name: "b", store, defaultLimit: -2 }, RangeError, /'defaultLimit'.*current value is -2$/);
    throwsNaming({ name: "b", store, limits: [1, 2] }, TypeError, /'limits' must be an object/);
  });

  it("an unknown option is named", () => {
    throwsNaming({ name: "b", store, maxPerAgent: 3 }, TypeError, /^Cannot create budget as 'maxPerAgent' is not an option of a budget$/);
    throwsNaming({ name: "b", store, ttl: 3 }, TypeError, /'ttl' is not an option/);
  });

  it("name, store, holder and durations are checked", () => {
    throwsNaming({ store }, TypeError, /'name' must be a non-empty string: current value is undefined/);
    throwsNaming({ name: "", store }, TypeError, /'name' must be a non-empty string: current value is ""/);
    throwsNaming({ name: "b" }, TypeError, /'store' must be a BudgetStore/);
    throwsNaming({ name: "b", store, holder: 7 }, TypeError, /'holder' must be a non-empty string: current value is 7/);
    throwsNaming({ name: "b", store, tickMs: 0 }, RangeError, /'tickMs' must be a positive integer of milliseconds: current value is 0/);
    throwsNaming({ name: "b", store, ttlMs: "5s" }, TypeError, /'ttlMs'.*current value is "5s"/);
    throwsNaming({ name: "b", store, tickMs: 1000, ttlMs: 3000, safetyMarginMs: 2000 }, RangeError, /'ttlMs' − 'safetyMarginMs' must be at least 2 × 'tickMs' \(2000\): current value is 1000/);
    throwsNaming(null, TypeError, /its options must be an object/);
  });

  it("accepts a name and agent ids of any characters, and applies defaults", () => {
    const name = "prod'; drop table x; --\u0000\"ünï";
    const budget = new GlobalBudget({ name, store, limits: { "a'b\"c": 0 } });
    assert.equal(budget.options.name, name);
    assert.equal(budget.options.limits.get("a'b\"c"), 0);
    assert.equal(budget.options.tickMs, 1000);
    assert.equal(budget.options.ttlMs, 5000);
    assert.equal(budget.options.safetyMarginMs, 2000);
    assert.match(budget.options.holder, /^holder-[0-9a-f]{8}$/);
    assert.equal(budget.state, "starting");
  });

  it("start() refuses a target without setAgentQuota, and a second start", async () => {
    const budget = new GlobalBudget({ name: "b", store });
    await assert.rejects(budget.start({} as never), /must have setAgentQuota\(\) and agents\(\)/);
    const pool = new QuotaPool();
    await budget.start(pool);
    await assert.rejects(budget.start(pool), /Cannot start a budget twice/);
    await budget.stop();
  });
});
