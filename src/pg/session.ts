/**
 * What the pg factory knows about each pooled `pg.Client`: whether its socket died, what session
 * state its holders may have left (the shared, driver-neutral {@linkcode SessionTracker}: the
 * statements sent and the parameters the server reported), its use count. Transactions are known
 * exactly besides: pg reports the server's transaction status on every ReadyForQuery.
 *
 * @module
 */

import type pg from "pg";
import { SessionTracker } from "../session/tracker.ts";

/**
 * Per-connection facts, kept beside the client (never on it).
 *
 * @example
 * ```ts
 * import { SessionTracker } from "../session/tracker.ts";
 * import type { PgSessionState } from "./session.ts";
 * const fresh: PgSessionState = { broken: false, discard: false, closeRequested: false, uses: 0, session: new SessionTracker() };
 * ```
 */
export interface PgSessionState {
  /** The socket closed or errored: never hand it out again. */
  broken: boolean;
  /** A reset statement failed: the session is in an unknown state. */
  discard: boolean;
  /** The holder released it with an error (pg's `release(err)`), or it served `maxUses`: close it. */
  closeRequested: boolean;
  /** Leases served, for `maxUses`. */
  uses: number;
  /** What the session may carry over to the next lease. */
  readonly session: SessionTracker;
}

const states = new WeakMap<pg.Client, PgSessionState>();

/**
 * The state of `client`, or undefined for a client this factory did not open.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { pgSessionState } from "./session.ts";
 * const state = pgSessionState(new pg.Client());
 * if (state?.broken) console.log("dead");
 * ```
 */
export function pgSessionState(client: pg.Client): PgSessionState | undefined {
  return states.get(client);
}

/**
 * Starts tracking `client`: from now on the parameters the server reports (ParameterStatus) are
 * recorded, the first ones (during start-up) as the session's baseline.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { trackPgSession } from "./session.ts";
 * const state = trackPgSession(new pg.Client());
 * ```
 */
export function trackPgSession(client: pg.Client): PgSessionState {
  const state: PgSessionState = { broken: false, discard: false, closeRequested: false, uses: 0, session: new SessionTracker() };
  states.set(client, state);
  type Connection = { on?: (event: string, listener: (message: { parameterName: string; parameterValue: string }) => void) => void };
  (client as unknown as { connection?: Connection }).connection?.on?.("parameterStatus", (message) => {
    state.session.parameter(message.parameterName, message.parameterValue);
  });
  return state;
}
