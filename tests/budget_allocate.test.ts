/**
 * The budget's arithmetic, deterministically: max-min fair shares (fast-check properties) and one
 * holder's plan from the committed leases (never more than what is free).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fairShares } from "../src/budget/allocate.ts";
import { planGrants } from "../src/budget/plan.ts";
import type { LeaseRow } from "../src/budget/store.ts";

const wantsArb = fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 0, maxLength: 8 });

describe("fairShares (water-filling in whole units)", () => {
  it("never exceeds the limit or a claimant's want, and uses all it can", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), wantsArb, fc.integer(), (limit, wants, rotation) => {
      const shares = fairShares(limit, wants, rotation);
      const total = shares.reduce((a, b) => a + b, 0);
      assert.equal(shares.length, wants.length);
      for (let i = 0; i < wants.length; i++) assert.ok(shares[i] >= 0 && shares[i] <= wants[i], `share ${i}`);
      assert.equal(total, Math.min(limit, wants.reduce((a, b) => a + b, 0)), "work-conserving");
    }));
  });

  it("is max-min fair: an unsatisfied claimant is at most one unit below anyone", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), wantsArb, fc.integer(), (limit, wants, rotation) => {
      const shares = fairShares(limit, wants, rotation);
      const top = Math.max(0, ...shares);
      for (let i = 0; i < wants.length; i++) {
        if (shares[i] < wants[i]) assert.ok(shares[i] >= top - 1, `claimant ${i}: ${shares} for ${wants}`);
      }
    }));
  });

  it("is deterministic, and the odd units rotate: over n rotations each unsatisfied claimant gets them equally", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 5 }), (n, extra) => {
      const wants = Array(n).fill(100);
      const limit = n * 3 + (extra % n);
      const sums = Array(n).fill(0);
      for (let r = 0; r < n; r++) {
        const shares = fairShares(limit, wants, r);
        assert.deepEqual(shares, fairShares(limit, wants, r));
        shares.forEach((s, i) => (sums[i] += s));
      }
      assert.ok(sums.every((s) => s === sums[0]), `over a full rotation: ${sums}`);
    }));
  });

  it("examples: 3 among 4 holders, satisfied holders leave room to others", () => {
    assert.deepEqual(fairShares(3, [5, 5, 5, 5], 0), [1, 1, 1, 0]);
    assert.deepEqual(fairShares(3, [5, 5, 5, 5], 1), [0, 1, 1, 1]);
    assert.deepEqual(fairShares(6, [1, 9, 9], 0), [1, 3, 2]);
    assert.deepEqual(fairShares(6, [0, 0], 0), [0, 0]);
    assert.deepEqual(fairShares(0, [4], 0), [0]);
  });
});

const row = (holder: string, agentId: string, wants: number, granted: number, limit = 3): LeaseRow => ({
  holder,
  agentId,
  wants,
  granted,
  held: granted,
  limit,
});

describe("planGrants (one holder's decision under the budget's lock)", () => {
  it("takes only what is free in the committed state; the others shrink first", () => {
    const [plan] = planGrants({
      holder: "a",
      limitOf: () => 3,
      demands: [{ agentId: "hot", held: 0, pending: 4 }],
      committed: [row("b", "hot", 4, 3)],
      rotation: 0,
    });
    assert.equal(plan.target, 2);
    assert.equal(plan.free, 0);
    assert.equal(plan.quota, 0);
  });

  it("the smallest limit among the live holders applies; this holder's own old row is not counted as another's", () => {
    const [plan] = planGrants({
      holder: "a",
      limitOf: () => 6,
      demands: [{ agentId: "hot", held: 1, pending: 9 }],
      committed: [row("a", "hot", 9, 2, 6), row("b", "hot", 1, 1, 4)],
      rotation: 0,
    });
    assert.equal(plan.limit, 4);
    assert.equal(plan.quota, 3);
  });

  it("skips agents the budget does not cover and agents nobody here wants nor leases", () => {
    const plans = planGrants({
      holder: "a",
      limitOf: (id) => (id === "free-agent" ? undefined : 2),
      demands: [{ agentId: "free-agent", held: 3, pending: 0 }, { agentId: "idle", held: 0, pending: 0 }],
      committed: [row("b", "other", 1, 1)],
      rotation: 0,
    });
    assert.deepEqual(plans, []);
  });

  it("property: for any committed state within the limit, quota + Σothers ≤ limit", () => {
    const rowsArb = fc.array(
      fc.record({ holder: fc.constantFrom("b", "c", "d", "e"), wants: fc.integer({ min: 0, max: 8 }), granted: fc.integer({ min: 0, max: 8 }) }),
      { maxLength: 4 },
    );
    fc.assert(fc.property(fc.integer({ min: 0, max: 8 }), rowsArb, fc.integer({ min: 0, max: 8 }), fc.integer(), (limit, raw, want, rotation) => {
      const seen = new Set<string>();
      const rows: LeaseRow[] = [];
      let sum = 0;
      for (const r of raw) {
        if (seen.has(r.holder) || sum + r.granted > limit) continue;
        seen.add(r.holder);
        sum += r.granted;
        rows.push(row(r.holder, "k", r.wants, r.granted, limit));
      }
      const plans = planGrants({ holder: "a", limitOf: () => limit, demands: [{ agentId: "k", held: 0, pending: want }], committed: rows, rotation });
      for (const plan of plans) assert.ok(plan.quota + sum <= limit && plan.quota <= plan.target && plan.quota >= 0);
    }));
  });
});
