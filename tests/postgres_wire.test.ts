/**
 * What the adapter puts on the wire for a transaction, read from the socket itself: BEGIN with its
 * agent tag and COMMIT are simple-protocol Query messages (postgres.js sends `unsafe()` text
 * without parameters that way), and a one-statement transaction is one write. The tag is what a
 * DBA sees in pg_stat_activity while the transaction runs, and a failed BEGIN is reported as
 * itself, not as the "transaction is aborted" refusal of the statement behind it.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import type { PostgresFactoryOptions } from "../src/postgres/factory.ts";
import { rawSql } from "../src/postgres/tracked_sql.ts";
import { withDb } from "./postgres_support.ts";

/** One connection, so every lease of a test is on the same session. */
const ONE = { minConnections: 1, maxConnections: 1 };

interface SocketOptions {
  host: string[];
  port: number[];
  path?: string;
}

/** A postgres.js `socket` option that connects as postgres.js would and keeps what is written while `recording`. */
function capturingSocket(writes: Uint8Array[], recording: { on: boolean }): (options: SocketOptions) => Promise<net.Socket> {
  return (options) =>
    new Promise((resolve, reject) => {
      const socket = options.path ? net.connect(options.path) : net.connect(options.port[0], options.host[0]);
      const write = socket.write;
      socket.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]): boolean {
        if (recording.on) writes.push(Uint8Array.from(chunk as Uint8Array));
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof socket.write;
      socket.once("connect", () => resolve(socket));
      socket.once("error", reject);
    });
}

/** postgres.js's `socket` option (documented, but missing from its type declarations). */
function driverSocket(socket: (options: SocketOptions) => Promise<net.Socket>): PostgresFactoryOptions {
  return { socket } as unknown as PostgresFactoryOptions;
}

/** The frontend messages in `bytes`: type letter and, for a Query, its text. */
function messages(bytes: Uint8Array): { type: string; text?: string }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { type: string; text?: string }[] = [];
  for (let at = 0; at < bytes.length;) {
    const type = String.fromCharCode(bytes[at]);
    const length = view.getInt32(at + 1);
    const body = bytes.subarray(at + 5, at + 1 + length);
    out.push(type === "Q" ? { type, text: new TextDecoder().decode(body.subarray(0, body.length - 1)) } : { type });
    at += 1 + length;
  }
  return out;
}

describe("adapter: the transaction on the wire", () => {
  test("BEGIN with its tag and COMMIT are simple Query messages; a one-statement transaction is one write", async () => {
    const writes: Uint8Array[] = [];
    const recording = { on: false };
    await withDb(async (t) => {
      await t.db.transaction((tx) => tx`select 1 as one`, { agentId: "warm-up" }); // prepares the statement
      recording.on = true;
      const [row] = await t.db.transaction((tx) => tx`select 1 as one`, { agentId: "wire-1" });
      recording.on = false;
      assert.equal(row.one, 1);
      assert.equal(writes.length, 1, "one socket write for BEGIN, the statement and COMMIT");
      const sent = messages(writes[0]);
      const queries = sent.filter((m) => m.type === "Q");
      assert.deepEqual(queries.map((m) => m.text), [`begin; set local application_name = E'${t.applicationName}:wire-1'`, "commit"]);
      assert.equal(sent[0].type, "Q");
      assert.equal(sent.at(-1)!.type, "Q");
      // The statement between them: the extended protocol (Bind, Execute, Sync) of its prepared statement.
      assert.deepEqual(sent.slice(1, -1).map((m) => m.type), ["B", "E", "S"]);
    }, { pool: { ...ONE, postgres: driverSocket(capturingSocket(writes, recording)) } });
  });

  test("while the transaction runs pg_stat_activity shows the agent; afterwards the pool's name", async () => {
    await withDb(async (t) => {
      let pid = 0;
      const during = await t.db.transaction(async (tx) => {
        [{ pid }] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
        const [seen] = await t.observer<{ name: string }[]>`select application_name as name from pg_stat_activity where pid = ${pid}`;
        return seen.name;
      }, { agentId: "planner-7" });
      assert.equal(during, `${t.applicationName}:planner-7`);
      const [after] = await t.observer<{ name: string; state: string }[]>`select application_name as name, state from pg_stat_activity where pid = ${pid}`;
      assert.deepEqual({ ...after }, { name: t.applicationName, state: "idle" });
    }, { pool: ONE });
  });

  test("a failed BEGIN is the transaction's error (not the aborted statement's), and the session is rolled back", async () => {
    await withDb(async (t) => {
      // Leave an aborted transaction behind the bookkeeping's back (raw statements are not
      // recorded, so the release resets nothing): the next BEGIN fails on the server (25P02).
      const sabotage = (): Promise<number> =>
        t.pool.use(async (sql) => {
          const raw = rawSql(sql);
          const [{ pid }] = await raw.unsafe<{ pid: number }[]>("select pg_backend_pid() as pid");
          await raw.unsafe("begin");
          await raw.unsafe("select 1/0").catch(() => {});
          return pid;
        }, { agentId: "saboteur" });
      const pid = await sabotage();
      for (const returned of [true, false]) {
        if (!returned) await sabotage(); // again, for a callback that awaits its statement
        const error = await t.db.transaction(
          returned ? (tx) => tx`select 1` : async (tx) => void await tx`select 1`,
          { agentId: "after" },
        ).catch((e: unknown) => e) as { code?: string; query?: string };
        assert.equal(error.code, "25P02");
        assert.match(String(error.query), /^begin; set local application_name/, `BEGIN's own error (${returned ? "returned" : "awaited"} statement)`);
        const [seen] = await t.observer<{ state: string; pid: number }[]>`select state, pid from pg_stat_activity where pid = ${pid}`;
        assert.equal(seen.state, "idle", "rolled back: the session is out of the aborted transaction");
      }
      const [row] = await t.db.transaction((tx) => tx<{ pid: number }[]>`select pg_backend_pid() as pid`, { agentId: "next" });
      assert.equal(row.pid, pid, "the same session serves the next transaction");
    }, { pool: ONE });
  });
});
