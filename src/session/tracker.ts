/**
 * What one pooled session may carry over to the next lease, kept per connection by the driver
 * layer: the statements a lease sent (read by {@linkcode analyzeSql}) and the parameters the
 * server reported (ParameterStatus: exact, whoever changed them, even a function). At release,
 * `takeReset()` says what to send, or why the connection must be retired. Driver-neutral.
 *
 * @module
 */

import { ALL_RESETS, analyzeSql, Effect, type SqlAnalysis } from "./classify.ts";
import { resetStatements } from "./reset_plan.ts";

/** What `takeReset` asks the driver to do. */
export interface SessionReset {
  /** Statements to send before the next lease's first statement, or `null`. */
  readonly statements: string | null;
  /** Why the connection must be closed instead (no reset undoes it), or `null`. */
  readonly retire: string | null;
}

/** Reported parameters that are facts about the server, not settings of the session. */
const SERVER_FACTS = new Set(["server_version", "server_encoding", "integer_datetimes", "in_hot_standby"]);

function parameterEffect(name: string): number {
  return name === "session_authorization" || name === "is_superuser" || name === "role" ? Effect.AUTHORIZATION : Effect.SETTINGS;
}

/**
 * Per-connection session bookkeeping (see the module notes).
 *
 * @example
 * ```ts
 * import { SessionTracker } from "./tracker.ts";
 * const session = new SessionTracker();
 * session.parameter("search_path", '"$user", public'); // during start-up: the baseline
 * session.started();
 * session.note("/* step 3 *\/ begin");
 * session.note("set statement_timeout = 1");
 * console.log(session.takeReset().statements); // "rollback; reset all"
 * ```
 */
export class SessionTracker {
  #effects = 0;
  #transactionOpen = false;
  #started = false;
  #retireReason: string | null = null;
  readonly #baseline = new Map<string, string>();
  /** Reported parameters whose value differs from the baseline, with their effect. */
  readonly #differing = new Map<string, number>();

  /** True when nothing needs resetting: the common case, checked on every release. */
  get clean(): boolean {
    return this.#effects === 0 && !this.#transactionOpen && this.#differing.size === 0 && this.#retireReason === null;
  }

  /** True when a transaction may be open (a BEGIN was sent and nothing has ended it since). */
  get transactionOpen(): boolean {
    return this.#transactionOpen;
  }

  /** The value the server reported for `name` when the session started (e.g. `application_name`). */
  baseline(name: string): string | undefined {
    return this.#baseline.get(name);
  }

  /** Start-up is over: parameters reported from now on are compared with the baseline. */
  started(): void {
    this.#started = true;
  }

  /** Records a statement a lease sent (one SQL string, maybe several statements). */
  note(text: string): void {
    this.apply(analyzeSql(text));
  }

  /** Records an analysis made elsewhere (e.g. cached per template). */
  apply(analysis: SqlAnalysis): void {
    if (analysis.effects !== 0) {
      this.#effects |= analysis.effects;
      if ((analysis.effects & Effect.RETIRE) !== 0) this.#retireReason ??= "a statement with no reset (LOAD, DISCARD ALL, DEALLOCATE ALL, dblink_connect)";
    }
    if (analysis.transaction === "open") this.#transactionOpen = true;
    else if (analysis.transaction === "closed") this.#transactionOpen = false;
  }

  /** A transaction the layer itself opened has ended (its COMMIT or ROLLBACK answered). */
  transactionEnded(): void {
    this.#transactionOpen = false;
  }

  /** Marks everything as possibly changed (a statement whose text was never seen). */
  unknown(): void {
    this.apply({ effects: ALL_RESETS, transaction: "open" });
  }

  /** The session must not be reused; `reason` is shown in the pool's `error` event. */
  retire(reason: string): void {
    this.#retireReason ??= reason;
  }

  /** A ParameterStatus from the server. */
  parameter(name: string, value: string): void {
    if (!this.#started) {
      this.#baseline.set(name, value);
      return;
    }
    if (SERVER_FACTS.has(name)) return;
    if (this.#baseline.get(name) === value) this.#differing.delete(name);
    else this.#differing.set(name, parameterEffect(name));
  }

  /** What to do at release; clears the bookkeeping (the reset is about to be sent). */
  takeReset(): SessionReset {
    let effects = this.#effects;
    for (const effect of this.#differing.values()) effects |= effect;
    const retire = this.#retireReason;
    const statements = retire === null ? resetStatements(effects, this.#transactionOpen) : null;
    this.#effects = 0;
    this.#transactionOpen = false;
    this.#retireReason = null;
    // The reset restores the reported values; the server's ParameterStatus replies confirm it.
    this.#differing.clear();
    return { statements, retire };
  }
}
