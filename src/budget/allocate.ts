/**
 * Max-min fair division of a budget among its holders (water-filling over integer units). Pure
 * and deterministic: every process that sees the same limit, wants and rotation computes the same
 * shares, so nobody needs to coordinate beyond reading the lease table.
 *
 * @module
 */

/**
 * Divides `limit` units among claimants that want `wants[i]` each: nobody gets more than it
 * wants, the sum never exceeds `limit`, and no unsatisfied claimant gets less than any other
 * claimant's share minus one (max-min fairness in whole units). When units are left that cannot
 * be split evenly, they go one each to the unsatisfied claimants in index order, starting at
 * `rotation` (modulo their number), so the odd units move around over time instead of sticking.
 *
 * @param limit non-negative integer
 * @param wants non-negative integers, one per claimant, in a fixed order (e.g. sorted by holder)
 * @param rotation any integer; which unsatisfied claimant gets the first odd unit
 * @returns the shares, one per claimant, in the order of `wants`
 *
 * @example Three holders share a budget of 4
 * ```ts
 * import { fairShares } from "agentpool";
 * fairShares(4, [5, 1, 5], 0); // [2, 1, 1]: holder 1 wants only 1, the other unit goes to holder 0
 * fairShares(4, [5, 1, 5], 1); // [1, 1, 2]: the odd unit rotated to holder 2
 * ```
 */
export function fairShares(limit: number, wants: readonly number[], rotation: number): number[] {
  const shares = wants.map(() => 0);
  let remaining = Math.max(0, Math.floor(limit));
  let open: number[] = [];
  for (let i = 0; i < wants.length; i++) if (wants[i] > 0) open.push(i);
  // Even rounds: everybody still unsatisfied gets the same whole share, capped at what it wants.
  while (open.length > 0 && remaining >= open.length) {
    const share = Math.floor(remaining / open.length);
    for (const i of open) {
      const give = Math.min(share, wants[i] - shares[i]);
      shares[i] += give;
      remaining -= give;
    }
    open = open.filter((i) => shares[i] < wants[i]);
  }
  // Fewer units than unsatisfied claimants: one each, rotating.
  if (open.length > 0 && remaining > 0) {
    const start = ((Math.trunc(rotation) % open.length) + open.length) % open.length;
    for (let k = 0; k < remaining; k++) shares[open[(start + k) % open.length]]++;
  }
  return shares;
}
