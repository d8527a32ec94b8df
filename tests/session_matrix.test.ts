/**
 * Session isolation on a real PostgreSQL: for every kind of session change and every way a
 * statement reaches the server, agent A makes the change on a pool of one connection and
 * releases; agent B, next on that connection, must find a clean session.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { AsyncConnectionPool } from "../src/core/pool.ts";
import { backendPid, type Sql } from "../src/postgres/connection_state.ts";
import { postgresFactory } from "../src/postgres/factory.ts";
import { PooledDatabaseAdapter } from "../src/postgres/adapter.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

const role = uniqueName("i11_role");
const dir = mkdtempSync(join(tmpdir(), "session-matrix-"));
let admin: postgres.Sql;

before(async () => {
  admin = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create role ${role} nologin`);
});

after(async () => {
  await admin.unsafe(`drop role if exists ${role}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

/** A kind of session change: what A sends, and B's check that none of it is left. */
interface Kind {
  name: string;
  /** One or more statements (`;`-separated) making the change. */
  sql: () => string;
  /** Whether A's statement fails on purpose (a failed transaction). */
  fails?: boolean;
  /** True when B's session shows nothing of it. */
  clean: (sql: Sql) => Promise<boolean>;
  /** Paths this kind cannot take (e.g. BEGIN inside adapter.transaction). */
  skipPaths?: readonly string[];
}

/** Outside a transaction block each statement has its own now(); inside one, now() stands still. */
const fresh = async (sql: Sql): Promise<boolean> => {
  const [first] = await sql`select now()::text as at`;
  const [second] = await sql`select pg_sleep(0.002), now()::text as at`;
  return first.at !== second.at;
};
const scalar = async (sql: Sql, text: string): Promise<unknown> => Object.values((await sql.unsafe(text))[0])[0];

const KINDS: Kind[] = [
  {
    name: "open transaction",
    sql: () => "begin; select set_config('agentpool.leak', 'A', true)",
    clean: async (sql) => await fresh(sql) && (await scalar(sql, "select coalesce(current_setting('agentpool.leak', true), '')")) === "",
    skipPaths: ["adapter.transaction"],
  },
  {
    name: "failed transaction",
    sql: () => "start transaction; select 1/0",
    fails: true,
    clean: fresh,
    skipPaths: ["adapter.transaction"],
  },
  {
    name: "set_config session",
    sql: () => "select pg_catalog.set_config('agentpool.leak', 'A', false)",
    clean: async (sql) => (await scalar(sql, "select coalesce(current_setting('agentpool.leak', true), '')")) === "",
  },
  {
    name: "SET ROLE",
    sql: () => `set role ${role}`,
    clean: async (sql) => (await scalar(sql, "select current_user = session_user")) === true,
  },
  {
    name: "SET SESSION AUTHORIZATION",
    sql: () => `set session authorization ${role}`,
    clean: async (sql) => (await scalar(sql, `select session_user <> '${role}' and current_user <> '${role}'`)) === true,
  },
  {
    name: "search_path",
    sql: () => "SET search_path = pg_catalog",
    clean: async (sql) => (await scalar(sql, "select current_setting('search_path')")) === '"$user", public',
  },
  {
    name: "statement_timeout",
    sql: () => "set statement_timeout = 4321",
    clean: async (sql) => (await scalar(sql, "select current_setting('statement_timeout')")) === "0",
  },
  {
    name: "temp table",
    sql: () => "create temp table leaked_notes (body text)",
    clean: async (sql) =>
      (await scalar(sql, "select count(*)::int from pg_class where relnamespace = pg_my_temp_schema()")) === 0,
  },
  {
    name: "session advisory lock",
    sql: () => "select pg_advisory_lock(4711)",
    clean: async (sql) =>
      (await scalar(sql, "select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()")) === 0,
  },
  {
    name: "LISTEN",
    sql: () => "listen leaked_channel",
    clean: async (sql) => (await scalar(sql, "select count(*)::int from pg_listening_channels()")) === 0,
  },
  {
    name: "SQL-level PREPARE",
    sql: () => "prepare leaked_plan as select 1",
    clean: async (sql) => (await scalar(sql, "select count(*)::int from pg_prepared_statements where from_sql")) === 0,
  },
  {
    name: "WITH HOLD cursor",
    sql: () => "declare leaked_cursor cursor with hold for select 1",
    clean: async (sql) => (await scalar(sql, "select count(*)::int from pg_cursors")) === 0,
  },
];

type Runner = (sql: Sql, text: string) => Promise<unknown>;

function template(text: string): TemplateStringsArray {
  return Object.assign([text], { raw: [text] }) as unknown as TemplateStringsArray;
}

/** Runs each statement of `text` as its own tagged template (a template is one statement). */
async function eachStatement(text: string, run: (statement: string) => Promise<unknown>): Promise<void> {
  for (const statement of text.split(";")) await run(statement.trim());
}

let files = 0;
const PATHS: Record<string, Runner> = {
  "tagged template": (sql, text) => eachStatement(text, (s) => sql(template(s))),
  "leading comment": (sql, text) => eachStatement(text, (s) => sql(template(`/* agent A, step 3 */\n  -- why\n${s.toUpperCase().replace(role.toUpperCase(), role)}`))),
  "unsafe() multi-statement": (sql, text) => sql.unsafe(`select 1; ${text}; select 2`),
  "simple protocol": (sql, text) => eachStatement(text, (s) => sql(template(s)).simple()),
  "file()": (sql, text) => {
    const path = join(dir, `a_${++files}.sql`);
    writeFileSync(path, `-- written by agent A\n${text};\n`);
    return sql.file(path);
  },
};

function onePool(): { pool: AsyncConnectionPool<Sql>; db: PooledDatabaseAdapter } {
  const pool = new AsyncConnectionPool<Sql>({
    factory: postgresFactory(databaseUrl(), { applicationName: uniqueName("matrix"), onnotice: () => {} }),
    minConnections: 1,
    maxConnections: 1,
  });
  return { pool, db: new PooledDatabaseAdapter(pool) };
}

/** A then B on the one connection; returns whether B was on the same backend and found it clean. */
async function aThenB(pool: AsyncConnectionPool<Sql>, a: (sql: Sql) => Promise<unknown>, kind: Kind): Promise<{ same: boolean; clean: boolean }> {
  let pidA: number | undefined;
  await pool.use(async (sql) => {
    pidA = backendPid(sql);
    const outcome = await a(sql).then(() => "ok", (error: unknown) => error);
    if (kind.fails) assert.notEqual(outcome, "ok", "A's statement was meant to fail");
    else assert.equal(outcome, "ok");
  }, { agentId: "agent-a" });
  return pool.use(async (sql) => ({ same: backendPid(sql) === pidA, clean: await kind.clean(sql) }), { agentId: "agent-b" });
}

describe("session matrix: A changes the session, B on the same connection finds it clean", () => {
  for (const kind of KINDS) {
    test(kind.name, async () => {
      const { pool, db } = onePool();
      try {
        const results: string[] = [];
        for (const [path, run] of Object.entries(PATHS)) {
          const { same, clean } = await aThenB(pool, (sql) => run(sql, kind.sql()), kind);
          assert.equal(same, true, `${path}: B ran on A's connection (reset, not retired)`);
          results.push(`${path}: ${clean ? "clean" : "LEAKED"}`);
        }
        const viaAdapter: Record<string, (sql: Sql) => Promise<unknown>> = {
          "adapter.query": () => db.query((sql) => eachStatement(kind.sql(), (s) => sql(template(s))), { agentId: "agent-a" }),
          "adapter.transaction": () => db.transaction((tx) => eachStatement(kind.sql(), (s) => tx(template(s))), { agentId: "agent-a" }),
        };
        for (const [path, run] of Object.entries(viaAdapter)) {
          if (kind.skipPaths?.includes(path)) continue;
          const outcome = await run(undefined as unknown as Sql).then(() => "ok", (e: unknown) => e);
          if (!kind.fails) assert.equal(outcome, "ok", path);
          const clean = await pool.use((sql) => kind.clean(sql), { agentId: "agent-b" });
          results.push(`${path}: ${clean ? "clean" : "LEAKED"}`);
        }
        assert.deepEqual(results.filter((r) => r.endsWith("LEAKED")), [], results.join("\n"));
      } finally {
        await pool.close();
      }
    });
  }

  test("Drizzle-style rewrite of the instance's type parsers does not reach the next lease", async () => {
    for (const prepare of [true, false]) {
      const pool = new AsyncConnectionPool<Sql>({
        factory: postgresFactory(databaseUrl(), { prepare, onnotice: () => {} }),
        minConnections: 1,
        maxConnections: 1,
      });
      const errors: unknown[] = [];
      pool.addEventListener("error", (e) => errors.push((e as CustomEvent).detail.error));
      try {
        const query = (sql: Sql) => sql`select timestamptz '2026-01-01 00:00:00+00' as at`;
        await pool.use(async (sql) => {
          // What drizzle(client) does (drizzle-orm/postgres-js/driver.ts): identity parsers in place.
          const options = sql.options as unknown as { parsers: Record<number, unknown>; serializers: Record<number, unknown> };
          for (const oid of [1184, 1082, 1083, 1114]) options.parsers[oid] = (value: string) => value;
          options.serializers[1184] = (value: unknown) => value;
          const [row] = await query(sql);
          assert.equal(typeof row.at, "string", "A sees its own parsers");
        }, { agentId: "drizzle-user" });
        const [row] = await pool.use(query, { agentId: "agent-b" });
        assert.ok(row.at instanceof Date, `prepare ${prepare}: B gets a Date, not ${JSON.stringify(row.at)}`);
        const retired = errors.some((e) => (e as { code?: string }).code === "SESSION_RETIRED");
        assert.equal(retired, prepare, "retired only when prepared statements may keep the parsers");
      } finally {
        await pool.close();
      }
    }
  });

  test("sql.listen() and an unreleased sql.reserve() retire the connection; a released reserve does not", async () => {
    const { pool } = onePool();
    const errors: string[] = [];
    pool.addEventListener("error", (e) => errors.push(String((e as CustomEvent).detail.error.message)));
    try {
      const pid = await pool.use((sql) => backendPid(sql), { agentId: "a" });
      await pool.use(async (sql) => {
        const reserved = await sql.reserve();
        await reserved`set search_path = pg_catalog`;
        reserved.release();
      }, { agentId: "a" });
      const [path, samePid] = await pool.use(async (sql) => [await scalar(sql, "select current_setting('search_path')"), backendPid(sql) === pid], { agentId: "b" });
      assert.deepEqual([path, samePid], ['"$user", public', true]);
      await pool.use(async (sql) => void await sql.listen("matrix_channel", () => {}), { agentId: "a" });
      assert.notEqual(await pool.use((sql) => backendPid(sql), { agentId: "b" }), pid, "retired after listen()");
      assert.match(errors.join("\n"), /sql\.listen\(\)/);
    } finally {
      await pool.close();
    }
  });
});
