/**
 * True hold-and-wait detection: a wait-for graph, built only on the slow path and only for an
 * acquire that has a parent lease (one made inside `pool.use()` of the same pool).
 *
 * A waiting acquire waits for its agent's quota (freed only by that agent's releases, or raised
 * at run time) and for the cap (freed by any release, or by a create, reset, validation or close
 * in progress). A held lease can be released only if it is not an ancestor (inclusive) of a
 * waiting child acquire that is itself stuck. The greatest fixpoint over the child waiters says
 * which of them can never be served; waiters without a parent hold nothing and block nobody, so
 * they are assumed served in their turn. An acquire is refused only when it is in that stuck set.
 *
 * @module
 */

import type { AgentRecord } from "./agents.ts";
import type { AgentContext, LeaseLink } from "./context.ts";
import { PooledConnection } from "./handle.ts";
import type { Slot } from "./slot.ts";

/** The leases a waiting child acquire sits inside: slots paired with the lease each had then. */
export interface Ancestry {
  readonly slots: readonly Slot<unknown>[];
  readonly leases: readonly unknown[];
}

/** What the check needs of a waiter. */
export interface ChildWaiter {
  readonly agent: AgentRecord;
  readonly ancestry: Ancestry | null;
}

/**
 * The live leases of `owner`'s pool in the chain starting at `link` (innermost first), each with
 * the lease it had then; null when the call tree holds none.
 *
 * @example
 * ```ts
 * import type { AgentContext } from "./context.ts";
 * declare const context: AgentContext;
 * declare const pool: object; // the pool the leases must belong to
 * const ancestry = ancestryOf(context.get()?.lease, pool);
 * ```
 */
export function ancestryOf(link: LeaseLink | undefined, owner: object): Ancestry | null {
  if (link === undefined) return null; // no lease above: the common case, allocation-free
  let slots: Slot<unknown>[] | null = null;
  let leases: unknown[] | null = null;
  for (; link !== undefined; link = link.parent) {
    const slot = PooledConnection.leaseOf(link.lease, owner) as Slot<unknown> | undefined;
    if (slot === undefined) continue;
    (slots ??= []).push(slot);
    (leases ??= []).push(slot.lease);
  }
  return slots === null ? null : { slots, leases: leases! };
}

/**
 * Which held leases of one pool run a call tree (`withLease` / `use`), and so may have children.
 * While none does, no acquire can be a child of a lease: the borrow path then skips reading the
 * context (an AsyncLocalStorage lookup: ~0.1 µs on Deno). The count must be exact (a lease enters
 * once and leaves when it ends), or nested acquires would go unchecked.
 *
 * @example
 * ```ts
 * import type { AgentContext } from "./context.ts";
 * import type { PooledConnection } from "./handle.ts";
 * declare const context: AgentContext;
 * declare const pool: object; // the pool that issued the handle
 * declare const handle: PooledConnection<unknown>; // a lease about to run a call tree
 * const trees = new CallTrees(pool, context);
 * trees.enter(handle);
 * const ancestry = trees.ancestry(); // inside the call tree: the lease above, else null
 * ```
 */
export class CallTrees {
  #count = 0;
  #owner: object;
  #context: AgentContext | undefined;

  constructor(owner: object, context: AgentContext | undefined) {
    this.#owner = owner;
    this.#context = context;
  }

  /** Held leases that run a call tree. */
  get count(): number {
    return this.#count;
  }

  /** `handle`'s lease runs a call tree from now on (a no-op for a dead or foreign handle). */
  enter(handle: object): void {
    const slot = PooledConnection.leaseOf(handle, this.#owner) as Slot<unknown> | undefined;
    if (slot === undefined || slot.scoped) return;
    slot.scoped = true;
    this.#count++;
  }

  /** `slot`'s lease, which ran a call tree, ended. */
  leave(slot: Slot<unknown>): void {
    slot.scoped = false;
    this.#count--;
  }

  /** The leases of this pool the caller's call tree sits inside, or null (at once while none runs one). */
  ancestry(): Ancestry | null {
    return this.#count === 0 ? null : ancestryOf(this.#context?.get()?.lease, this.#owner);
  }
}

/** Calls `visit` for each ancestor still held by the lease it was captured with. */
function forEachLiveAncestor(ancestry: Ancestry | null, visit: (slot: Slot<unknown>) => void): void {
  if (ancestry === null) return;
  const { slots, leases } = ancestry;
  for (let i = 0; i < slots.length; i++) if (slots[i].lease === leases[i]) visit(slots[i]);
}

/**
 * The child waiters that can never be served, `candidate` among them, or null when `candidate`
 * can be served in some order of events. `capacityComing`: an idle connection, room under the
 * cap, or a create, reset, validation or close in progress.
 *
 * @example
 * ```ts
 * import type { ConnectionSet } from "./connections.ts";
 * declare const newChild: ChildWaiter;
 * declare const pendingChildren: ChildWaiter[];
 * declare const set: ConnectionSet<unknown>;
 * const cycle = stuckWaiters(newChild, pendingChildren, set.used, false);
 * if (cycle !== null) console.error("nested acquire would wait forever:", cycle);
 * ```
 */
export function stuckWaiters<W extends ChildWaiter>(
  candidate: W,
  children: Iterable<W>,
  used: readonly Slot<unknown>[],
  capacityComing: boolean,
): W[] | null {
  const stuck = new Set<W>(children);
  stuck.add(candidate);
  for (;;) {
    const blocked = new Set<Slot<unknown>>();
    for (const waiter of stuck) forEachLiveAncestor(waiter.ancestry, (slot) => blocked.add(slot));
    let anyReleasable = false;
    const releasableAgents = new Set<AgentRecord>();
    for (const slot of used) {
      if (slot.agent === null || blocked.has(slot)) continue;
      anyReleasable = true;
      releasableAgents.add(slot.agent);
    }
    // Nothing will ever free a connection: every stuck waiter stays stuck.
    if (!capacityComing && !anyReleasable) break;
    let changed = false;
    for (const waiter of stuck) {
      const agent = waiter.agent;
      if (agent.held < agent.quota || agent.quotaDynamic || releasableAgents.has(agent)) {
        if (waiter === candidate) return null;
        stuck.delete(waiter);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return [...stuck];
}
