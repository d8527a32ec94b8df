/**
 * Is a connection gone? The factory's death hooks asked on the pool's behalf: `isFatal` of the
 * error a lease ended with, `isBroken` of the connection itself.
 *
 * @module
 */

import type { ConnectionFactory } from "./factory.ts";
import type { Slot } from "./slot.ts";

/**
 * True when `error` is fatal (`factory.isFatal`) or the connection is known broken
 * (`factory.isBroken`). A hook that throws counts as yes and is reported through `emit`: a broken
 * hook must never turn into a throw out of `release()`. Ask only when the factory has one of the
 * hooks (the pool keeps that off its fast paths).
 *
 * @example
 * ```ts
 * import type { ConnectionFactory } from "./factory.ts";
 * import type { Slot } from "./slot.ts";
 * declare const factory: ConnectionFactory<unknown>; // with isFatal / isBroken
 * declare const slot: Slot<unknown>; // the connection a lease just returned
 * const emit = (type: string, detail: unknown): void => console.error(type, detail);
 * if (isDead(factory, slot, new Error("terminating connection"), emit)) console.log("retire it");
 * ```
 */
export function isDead<T>(
  factory: ConnectionFactory<T>,
  slot: Slot<T>,
  error: unknown,
  emit: (type: string, detail: unknown) => void,
): boolean {
  try {
    return (error !== undefined && factory.isFatal?.(error) === true) || factory.isBroken?.(slot.connection) === true;
  } catch (hookError) {
    emit("error", { error: hookError, connectionId: slot.id, during: "factory.isFatal / factory.isBroken" });
    return true;
  }
}
