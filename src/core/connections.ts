/**
 * The set of open connections: which are idle (a LIFO stack), which are overflow, which are
 * being closed. Closing goes through one place so a connection still counts against the cap
 * until the driver says it is gone.
 *
 * @module
 */

import type { ConnectionFactory } from "./factory.ts";
import type { Slot } from "./slot.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** What closing a connection reports back. */
export interface ClosingHooks<T> {
  /** A connection finished closing (successfully or not). */
  closed(slot: Slot<T>): void;
  /** `factory.destroy` threw. */
  failed(error: unknown, slot: Slot<T>): void;
}

/**
 * Open connections and the background work on them (resets, validations, closes).
 *
 * @example
 * ```ts
 * const open = new OpenConnections(factory, { closed: () => {}, failed: console.error });
 * open.add(slot);
 * open.pushIdle(slot);
 * await open.destroy(slot);
 * ```
 */
export class OpenConnections<T> {
  /** Every open connection. */
  readonly slots: Set<Slot<T>> = new Set();
  /** Idle connections, a LIFO stack: the warmest is reused first, the coldest can time out. */
  readonly idle: Slot<T>[] = [];
  /** Connections being closed: they still count against the cap. */
  closing = 0;
  /** Open connections above `maxConnections`. */
  overflow = 0;
  #work = new Set<Promise<void>>();
  #factory: ConnectionFactory<T>;
  #hooks: ClosingHooks<T>;

  constructor(factory: ConnectionFactory<T>, hooks: ClosingHooks<T>) {
    this.#factory = factory;
    this.#hooks = hooks;
  }

  /** Open connections. */
  get size(): number {
    return this.slots.size;
  }

  /** Registers a newly opened connection. */
  add(slot: Slot<T>): void {
    this.slots.add(slot);
    if (slot.overflow) this.overflow++;
  }

  /** Puts `slot` on top of the idle stack. */
  pushIdle(slot: Slot<T>): void {
    slot.state = "idle";
    slot.idleIndex = this.idle.length;
    this.idle.push(slot);
  }

  /** Takes `slot` out of the idle stack in O(1) (the top moves into its place). */
  removeIdle(slot: Slot<T>): void {
    const idle = this.idle;
    const last = idle.pop()!;
    if (last !== slot) {
      idle[slot.idleIndex] = last;
      last.idleIndex = slot.idleIndex;
    }
    slot.idleIndex = -1;
  }

  /** Closes `slot`; resolves when the driver is done. A no-op when it is already closing. */
  destroy(slot: Slot<T>): Promise<void> {
    if (!this.slots.delete(slot)) return RESOLVED;
    if (slot.idleIndex >= 0) this.removeIdle(slot);
    if (slot.overflow) {
      this.overflow--;
    } else if (this.overflow > 0) {
      // A steady connection went away: one overflow connection becomes steady.
      for (const other of this.slots) {
        if (other.overflow) {
          other.overflow = false;
          this.overflow--;
          break;
        }
      }
    }
    this.closing++;
    return this.track(this.#close(slot));
  }

  /** Remembers background work so `settle()` can wait for it. */
  track(work: Promise<void>): Promise<void> {
    this.#work.add(work);
    const done = (): void => void this.#work.delete(work);
    work.then(done, done);
    return work;
  }

  /** Resolves once all background work, including work it started, has finished. */
  async settle(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }

  async #close(slot: Slot<T>): Promise<void> {
    try {
      await this.#factory.destroy(slot.connection);
    } catch (error) {
      this.#hooks.failed(error, slot);
    } finally {
      this.closing--;
      this.#hooks.closed(slot);
    }
  }
}
