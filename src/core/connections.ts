/**
 * The connections the pool opened, by state. A connection's state is the collection it is in
 * (idle, validating, resetting, closing; used is every open connection in none of the others) and
 * changes only in {@linkcode ConnectionSet.move} (postgres.js's `move()`) and its two short paths
 * for a lease, `lend` and `shelve`; every count is derived from the collections' lengths. A
 * closing connection still counts against the cap until the driver says it is gone.
 *
 * @module
 */

import type { ConnectionFactory } from "./factory.ts";
import type { Place, Slot } from "./slot.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** What closing a connection reports back. */
export interface ClosingHooks<T> {
  /** A connection finished closing (successfully or not). */
  closed(slot: Slot<T>): void;
  /** `factory.destroy` threw. */
  failed(error: unknown, slot: Slot<T>): void;
}

/**
 * Open and closing connections, and the background work on them.
 *
 * @example
 * ```ts
 * import type { ConnectionFactory } from "./factory.ts";
 * import type { Slot } from "./slot.ts";
 * declare const factory: ConnectionFactory<unknown>;
 * declare const slot: Slot<unknown>; // a freshly created connection
 * const set = new ConnectionSet(factory, { closed: () => {}, failed: console.error });
 * set.move(slot, "idle");
 * await set.destroy(slot);
 * ```
 */
export class ConnectionSet<T> {
  /** Idle connections, a stack: the warmest (last) is reused first, the coldest can time out. */
  readonly idle: Slot<T>[] = [];
  readonly validating: Slot<T>[] = [];
  readonly resetting: Slot<T>[] = [];
  readonly closing: Slot<T>[] = [];
  /**
   * Every open connection (any place but closing). Used ones are kept in no list of their own:
   * a lease then costs one pop and one push on `idle` and nothing else, ~3 ns of Bun's ~70 ns
   * acquire+release cycle (a list of used connections cost that much more, measured).
   */
  #open: Slot<T>[] = [];
  #work = new Set<Promise<void>>();
  #factory: ConnectionFactory<T>;
  #hooks: ClosingHooks<T>;

  constructor(factory: ConnectionFactory<T>, hooks: ClosingHooks<T>) {
    this.#factory = factory;
    this.#hooks = hooks;
  }

  /** Open connections: everything that holds a session except those being closed. */
  get open(): number {
    return this.#open.length;
  }

  /**
   * How many connections are held by a lease: the open ones in no other collection, O(1) (the
   * filler asks on every kick). `used.length` counts them by their place instead: views use
   * that, so the model test's invariants compare the two ways.
   */
  get usedCount(): number {
    return this.#open.length - this.idle.length - this.validating.length - this.resetting.length;
  }

  /** The connections held by a lease, in no particular order: a new array (for the slow paths and views). */
  get used(): Slot<T>[] {
    const used: Slot<T>[] = [];
    for (const slot of this.#open) if (slot.place === "used") used.push(slot);
    return used;
  }

  /** Will a connection free up or appear without any held lease ending (idle, room, work in progress)? */
  capacityComing(cap: number, creating: number): boolean {
    return this.idle.length > 0 || this.validating.length > 0 || this.resetting.length > 0 || this.closing.length > 0 ||
      creating > 0 || this.open < cap;
  }

  /** Every open connection. */
  *slots(): IterableIterator<Slot<T>> {
    yield* this.idle;
    for (const slot of this.#open) if (slot.place === "used") yield slot;
    yield* this.validating;
    yield* this.resetting;
  }

  /** The one place a connection changes state: out of its collection (O(1)), into `to`. */
  move(slot: Slot<T>, to: Place): void {
    if (slot.place === to) return; // a hand-off from release to a waiter: still used
    if (slot.place === null) this.#join(slot); // a new connection: open from now on
    this.#leave(slot);
    if (to === "closing") this.#remove(this.#open, slot, slot.openIndex);
    this.#enter(slot, to);
  }

  /**
   * `move(slot, "used")`, with the borrow's common case (the top idle connection) taken without
   * the general lookups: this and {@linkcode shelve} run once per lease each, inside the pool's
   * fast paths, so both are written out (no private-method calls) to stay small enough to inline.
   */
  lend(slot: Slot<T>): void {
    const idle = this.idle;
    if (slot.place !== "idle" || idle[idle.length - 1] !== slot) return this.move(slot, "used");
    idle.pop();
    slot.place = "used"; // its index is not kept while used: it is in no list
  }

  /** `move(slot, "idle")`, with the return's common case (from used) taken without the general lookups. */
  shelve(slot: Slot<T>): void {
    if (slot.place !== "used") return this.move(slot, "idle");
    const idle = this.idle;
    slot.place = "idle";
    slot.index = idle.length;
    idle.push(slot);
  }

  /** Closes `slot`; resolves when the driver is done. A no-op when it is already closing. */
  destroy(slot: Slot<T>): Promise<void> {
    if (slot.place === "closing" || slot.closed) return RESOLVED;
    this.move(slot, "closing");
    return this.track(this.#close(slot));
  }

  /** Remembers background work so `settle()` can wait for it. Never rejects. */
  track(work: Promise<void>): Promise<void> {
    const done = (): void => void this.#work.delete(work);
    const settled = work.then(done, done);
    this.#work.add(work);
    return settled;
  }

  /** Resolves once all background work, including work it started, has finished. */
  async settle(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }

  // A switch over constant strings, not a keyed lookup. Used connections are in no list (null).
  #list(place: Place): Slot<T>[] | null {
    switch (place) {
      case "idle":
        return this.idle;
      case "used":
        return null;
      case "validating":
        return this.validating;
      case "resetting":
        return this.resetting;
      default:
        return this.closing;
    }
  }

  #join(slot: Slot<T>): void {
    slot.openIndex = this.#open.length;
    this.#open.push(slot);
  }

  #leave(slot: Slot<T>): void {
    if (slot.place === null) return;
    const list = this.#list(slot.place);
    if (list !== null) this.#remove(list, slot, slot.index);
    slot.place = null;
    slot.index = -1;
  }

  /** Swap-remove of `slot` at `index`: the last entry takes its place. */
  #remove(list: Slot<T>[], slot: Slot<T>, index: number): void {
    const last = list.pop()!;
    if (last === slot) return;
    list[index] = last;
    if (list === this.#open) last.openIndex = index;
    else last.index = index;
  }

  #enter(slot: Slot<T>, place: Place): void {
    slot.place = place;
    const list = this.#list(place);
    if (list === null) return;
    slot.index = list.length;
    list.push(slot);
  }

  async #close(slot: Slot<T>): Promise<void> {
    try {
      await this.#factory.destroy(slot.connection);
    } catch (error) {
      this.#hooks.failed(error, slot);
    } finally {
      this.#leave(slot);
      slot.closed = true;
      this.#hooks.closed(slot);
    }
  }
}
