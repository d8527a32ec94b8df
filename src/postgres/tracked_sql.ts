/**
 * What the pool hands out: the postgres.js `Sql` behind a thin Proxy that reads the first words
 * of every statement issued through it, so `reset` knows whether the holder may have left a
 * transaction open. postgres.js does not expose the server's transaction status, and a blind
 * `ROLLBACK` on every release would make the server log a "there is no transaction in progress"
 * WARNING per lease (the default `log_min_messages` is `warning`).
 *
 * The reading is conservative: BEGIN / START TRANSACTION (or either word anywhere in a
 * multi-statement string, `file()` and `reserve()`) mark the session dirty; only a standalone
 * COMMIT / END / ROLLBACK / ABORT / PREPARE TRANSACTION marks it clean again (ROLLBACK TO
 * SAVEPOINT and AND CHAIN do not). Dirty at release means one pipelined ROLLBACK.
 *
 * The adapter bypasses the Proxy (`rawSql`): it always closes its own transactions.
 *
 * @module
 */

import type { ConnectionState, Sql } from "./connection_state.ts";

const TX_START = /^\s*(?:begin|start\s+transaction)\b/i;
const TX_END = /^\s*(?:(?:commit|end|rollback|abort)(?:\s+(?:work|transaction))?\s*;?\s*$|prepare\s+transaction\b)/i;
const ANY_START = /\b(?:begin|start\s+transaction)\b/i;

const raw = new WeakMap<object, Sql>();

/**
 * Updates `state.dirty` for a statement about to be sent. `single`: the text is one statement
 * (extended protocol); otherwise it may hold several (simple protocol).
 *
 * @example
 * ```ts
 * const state = newConnectionState();
 * noteStatement(state, "begin", true); // state.dirty === true
 * noteStatement(state, "commit", true); // state.dirty === false
 * ```
 */
export function noteStatement(state: ConnectionState, text: string, single: boolean): void {
  if (single) {
    if (TX_START.test(text)) state.dirty = true;
    else if (TX_END.test(text)) state.dirty = false;
  } else if (ANY_START.test(text)) {
    state.dirty = true;
  } else if (TX_END.test(text)) {
    state.dirty = false;
  }
}

/**
 * The postgres.js instance behind a pooled connection (itself when it is not wrapped).
 *
 * @example
 * ```ts
 * const sql = rawSql(handle.connection); // statements here bypass the BEGIN/COMMIT reading
 * ```
 */
export function rawSql(sql: Sql): Sql {
  return raw.get(sql) ?? sql;
}

/**
 * Wraps `sql` so statements issued through it keep `state.dirty` current. Factory only.
 *
 * @example
 * ```ts
 * const pooled = trackedSql(postgres(url, { max: 1 }), newConnectionState());
 * ```
 */
export function trackedSql(sql: Sql, state: ConnectionState): Sql {
  // Made once per connection, so a property read costs no allocation.
  const unsafe = (text: string, args?: unknown[], options?: unknown): unknown => {
    noteStatement(state, String(text), args !== undefined && args.length > 0);
    return (sql.unsafe as (...a: unknown[]) => unknown)(text, args, options);
  };
  const file = (...args: unknown[]): unknown => {
    state.dirty = true; // unknown text
    return (sql.file as (...a: unknown[]) => unknown)(...args);
  };
  const reserve = (): unknown => {
    state.dirty = true; // a reserved handle escapes our reading
    return sql.reserve();
  };
  const proxy = new Proxy(sql, {
    apply(target, _this, args: unknown[]) {
      const first = args[0] as { raw?: unknown } | undefined;
      if (first !== null && typeof first === "object" && Array.isArray(first.raw)) {
        noteStatement(state, (first as unknown as string[])[0], true); // a tagged template: one statement
      }
      return Reflect.apply(target, undefined, args);
    },
    get(target, property) {
      if (property === "unsafe") return unsafe;
      if (property === "file") return file;
      if (property === "reserve") return reserve;
      return Reflect.get(target, property);
    },
  });
  raw.set(proxy, sql);
  return proxy;
}
