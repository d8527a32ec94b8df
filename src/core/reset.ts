/**
 * The reset step of the return path: a returned connection is reset (`factory.reset`), after any
 * hold-policy cancel settles, before it may serve another lease. A reset that finishes
 * synchronously hands the connection on at once; one that fails closes it.
 *
 * @module
 */

import type { ConnectionSet } from "./connections.ts";
import type { ConnectionFactory } from "./factory.ts";
import type { Slot } from "./slot.ts";

/** What the reset step hands back to the pool. */
export interface ResetHost<T> {
  /** The connection is clean: hand it on (`now` when the clock reading is still current). */
  returnSlot(slot: Slot<T>, now?: number): Promise<void>;
  /** A reset threw or rejected. */
  failed(error: unknown, slot: Slot<T>): void;
}

/**
 * Runs `factory.reset` (and waits out a cancel in flight) for returned connections.
 *
 * @example
 * ```ts
 * import { ConnectionSet } from "./connections.ts";
 * import type { ConnectionFactory } from "./factory.ts";
 * import type { Slot } from "./slot.ts";
 * declare const factory: ConnectionFactory<unknown>; // with reset
 * declare const set: ConnectionSet<unknown>;
 * declare const slot: Slot<unknown>; // just released
 * const resets = new Resets(factory, set, { returnSlot: async () => {}, failed: console.error });
 * await resets.reset(slot);
 * ```
 */
export class Resets<T> {
  #factory: ConnectionFactory<T>;
  #set: ConnectionSet<T>;
  #host: ResetHost<T>;

  constructor(factory: ConnectionFactory<T>, set: ConnectionSet<T>, host: ResetHost<T>) {
    this.#factory = factory;
    this.#set = set;
    this.#host = host;
  }

  /** Resets `slot` (released at `now`, if that reading is current) and then hands it on. */
  reset(slot: Slot<T>, now?: number): Promise<void> {
    let pending: Promise<void> | void = undefined;
    if (slot.cancelling === undefined) {
      try {
        pending = this.#factory.reset!(slot.connection);
      } catch (error) {
        return this.#failed(slot, error);
      }
      // A reset that finished synchronously hands the connection on at once, like no reset.
      if (pending === undefined) return this.#host.returnSlot(slot, now);
    }
    this.#set.move(slot, "resetting");
    return this.#set.track(this.#finish(slot, pending));
  }

  async #finish(slot: Slot<T>, pending: Promise<void> | void): Promise<void> {
    try {
      if (slot.cancelling !== undefined) {
        await slot.cancelling;
        pending = this.#factory.reset?.(slot.connection);
      }
      await pending;
    } catch (error) {
      return this.#failed(slot, error);
    }
    if (slot.place === "resetting") await this.#host.returnSlot(slot);
  }

  #failed(slot: Slot<T>, error: unknown): Promise<void> {
    const done = this.#set.destroy(slot);
    this.#host.failed(error, slot);
    return done;
  }
}
