/**
 * Every query a lease sends goes through {@linkcode trackedQuery}: the shared session tracker
 * reads it (what it may leave in the session), and a simple-protocol BEGIN carries the agent in
 * the transaction's `application_name` (`<base>:<agentId>`, gone at COMMIT/ROLLBACK) in the same
 * message, so `pg_stat_activity` shows which agent runs each transaction at no extra round trip.
 *
 * @module
 */

import type pg from "pg";
import { TaggedBegins } from "../session/application_name.ts";
import { analyzeSql } from "../session/classify.ts";
import { pgSessionState } from "./session.ts";

type Callback = (error: Error | null, result: unknown) => void;
type Query = (config: unknown, values?: unknown, callback?: unknown) => unknown;

const taggedBegins = new TaggedBegins();

/** pg answers a multi-statement text with one result per statement: drop the one we appended. */
function withoutAppended(result: unknown): unknown {
  if (!Array.isArray(result)) return result;
  return result.length === 2 ? result[0] : result.slice(0, -1);
}

/** Whether pg sends `config` with the simple protocol (no parameters, no name, no portal). */
function simpleProtocol(config: unknown, values: unknown): boolean {
  if (values !== undefined && typeof values !== "function" && !(Array.isArray(values) && values.length === 0)) return false;
  if (typeof config === "string") return true;
  const c = config as { values?: unknown[]; name?: unknown; rows?: unknown; queryMode?: unknown; submit?: unknown };
  return typeof c.submit !== "function" && c.name === undefined && c.rows === undefined && c.queryMode !== "extended" &&
    (c.values === undefined || c.values.length === 0);
}

/**
 * Sends one query on `client` for `agentId`. The arguments go to pg as they are (promise,
 * callback and Submittable forms behave as in pg), except that a BEGIN sent with the simple
 * protocol gets `; set local application_name = E'<base>:<agentId>'` appended (its extra result
 * is taken off again, so callers see what pg would have returned for their text).
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { trackedQuery } from "./query.ts";
 * const client = new pg.Client();
 * await client.connect();
 * const result = await trackedQuery(client, "planner-1", "select $1::int as n", [1]);
 * ```
 */
export function trackedQuery(client: pg.Client, agentId: string, config: unknown, values?: unknown, callback?: unknown): unknown {
  const query = client.query as Query;
  const state = pgSessionState(client);
  if (state === undefined) return query.call(client, config, values, callback);
  const text = typeof config === "string" ? config : (config as { text?: unknown } | null)?.text;
  if (typeof text !== "string") {
    state.session.unknown(); // a Submittable without text: assume the worst
    return query.call(client, config, values, callback);
  }
  const analysis = analyzeSql(text);
  state.session.apply(analysis);
  if (analysis.transaction !== "open" || !simpleProtocol(config, values)) return query.call(client, config, values, callback);
  const labelled = taggedBegins.text(text, state.session.baseline("application_name") || "agentpool", agentId);
  const rewritten = typeof config === "string" ? labelled : { ...(config as object), text: labelled };
  const cb = (typeof values === "function" ? values : callback) as Callback | undefined;
  if (cb !== undefined) return query.call(client, rewritten, (error: Error | null, result: unknown) => cb(error, withoutAppended(result)));
  // The callback form under our own promise: the caller's await is one hop, as with plain pg.
  // (simpleProtocol() allowed no values but an empty array, which the callback form drops. Unlike
  // pg's promise form, a failed BEGIN keeps the stack pg gave it instead of a re-captured one.)
  const Promised = (client as { _Promise?: PromiseConstructor })._Promise ?? Promise;
  return new Promised((resolve, reject) => {
    query.call(client, rewritten, (error: Error | null, result: unknown) => {
      if (error === null || error === undefined) resolve(withoutAppended(result));
      else reject(error);
    });
  });
}
