/**
 * The generic Repository and the migration runner against a real PostgreSQL: optimistic
 * versions, filters, ordering, offset and keyset paging, hostile input stored and matched
 * literally, unknown names rejected before any SQL, concurrent migrations applied once.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StaleVersionError } from "../src/postgres/errors.ts";
import { migrate } from "../src/postgres/migrations.ts";
import { Repository } from "../src/postgres/repository.ts";
import { withDb } from "./postgres_support.ts";
import type { TestDb } from "./postgres_support.ts";

interface Note extends Record<string, unknown> {
  id: string;
  agent: string;
  body: string | null;
  priority: number;
  meta: unknown;
  version: number;
}

const HOSTILE = [
  "it's",
  `"double" and 'single'`,
  "'; drop table notes; --",
  "Robert'); DROP TABLE students;--",
  "back\\slash \\' and $1 and ${x}",
  "ünïcödé ✓ 漢字 🚀",
  "%_ wildcard-looking",
];

async function notesTable(t: TestDb): Promise<Repository<Note>> {
  await t.observer.unsafe(`create table ${t.schema}.notes (
    id uuid primary key,
    agent text not null,
    body text,
    priority integer not null default 0,
    meta jsonb,
    version integer not null default 1)`);
  return new Repository<Note>(t.db, {
    schema: t.schema,
    table: "notes",
    primaryKey: "id",
    versionColumn: "version",
    columns: ["id", "agent", "body", "priority", "meta", "version"],
  });
}

describe("repository: rows and versions", () => {
  test("insert, get, update with the expected version, delete", async () => {
    await withDb(async (t) => {
      const notes = await notesTable(t);
      const id = crypto.randomUUID();
      const inserted = await notes.insert("writer", { id, agent: "writer", body: "v1", meta: { tags: ["a"] } });
      assert.deepEqual(inserted, { id, agent: "writer", body: "v1", priority: 0, meta: { tags: ["a"] }, version: 1 });
      assert.deepEqual(await notes.get("reader", id), inserted);
      assert.equal(await notes.get("reader", crypto.randomUUID()), undefined);
      const updated = await notes.update("writer", id, { body: "v2" }, { expectedVersion: 1 });
      assert.equal(updated?.body, "v2");
      assert.equal(updated?.version, 2);
      const blind = await notes.update("writer", id, { priority: 3 });
      assert.equal(blind?.version, 3);
      assert.equal(await notes.update("writer", crypto.randomUUID(), { body: "x" }), undefined);
      assert.equal(await notes.delete("writer", id, { expectedVersion: 3 }), true);
      assert.equal(await notes.delete("writer", id), false);
      assert.equal(t.pool.stats().used, 0);
    });
  });

  test("a stale version is a clear error and changes nothing", async () => {
    await withDb(async (t) => {
      const notes = await notesTable(t);
      const id = crypto.randomUUID();
      await notes.insert("a", { id, agent: "a", body: "original" });
      await notes.update("b", id, { body: "b was first" }, { expectedVersion: 1 });
      const stale = await notes.update("a", id, { body: "a is late" }, { expectedVersion: 1 }).catch((e: unknown) => e);
      assert.ok(stale instanceof StaleVersionError);
      assert.equal(stale.code, "STALE_VERSION");
      assert.equal(stale.expectedVersion, 1);
      assert.equal(stale.actualVersion, 2);
      assert.match(stale.message, /expected version 1, found 2/);
      const staleDelete = await notes.delete("a", id, { expectedVersion: 1 }).catch((e: unknown) => e);
      assert.ok(staleDelete instanceof StaleVersionError);
      const row = await notes.get("a", id);
      assert.equal(row?.body, "b was first");
      assert.equal(row?.version, 2);
      const missing = await notes.update("a", crypto.randomUUID(), { body: "x" }, { expectedVersion: 1 }).catch((e: unknown) => e);
      assert.ok(missing instanceof StaleVersionError);
      assert.equal(missing.code, "NOT_FOUND");
    });
  });

  test("concurrent optimistic updates: exactly one of them wins per version", async () => {
    await withDb(async (t) => {
      const notes = await notesTable(t);
      const id = crypto.randomUUID();
      await notes.insert("a", { id, agent: "a", body: "start" });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => notes.update(`agent-${i}`, id, { body: `by ${i}` }, { expectedVersion: 1 })),
      );
      assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
      for (const o of outcomes) if (o.status === "rejected") assert.ok(o.reason instanceof StaleVersionError);
      assert.equal((await notes.get("a", id))?.version, 2);
    }, { pool: { maxConnections: 8 } });
  });

  test("calls join the caller's transaction and roll back with it", async () => {
    await withDb(async (t) => {
      const notes = await notesTable(t);
      const id = crypto.randomUUID();
      await t.db.transaction(async (tx) => {
        await notes.insert(tx, { id, agent: "a", body: "inside" });
        assert.equal((await notes.get(tx, id))?.body, "inside");
        throw new Error("undo");
      }, { agentId: "a" }).catch(() => {});
      assert.equal(await notes.get("a", id), undefined);
      assert.equal(await notes.count("a"), 0);
    });
  });
});

describe("repository: listing", () => {
  test("filters (eq, null, in, notIn, ne, ranges, like), ordering, limit and offset", async () => {
    await withDb(async (t) => {
      const notes = await notesTable(t);
      for (let i = 0; i < 10; i++) {
        await notes.insert("seed", { id: crypto.randomUUID(), agent: i % 2 === 0 ? "even" : "odd", body: i === 9 ? null : `note ${i}`, priority: i });
      }
      const bodies = (rows: Note[]) => rows.map((r) => r.priority);
      assert.deepEqual(bodies(await notes.list("r", { where: { agent: "even" }, orderBy: "priority" })), [0, 2, 4, 6, 8]);
      assert.deepEqual(bodies(await notes.list("r", { where: { body: null } })), [9]);
      assert.deepEqual(bodies(await notes.list("r", { where: { priority: { in: [1, 3, 99] } }, orderBy: "priority" })), [1, 3]);
      assert.deepEqual(bodies(await notes.list("r", { where: { priority: { in: [] } } })), []);
      assert.equal((await notes.list("r", { where: { priority: { notIn: [0, 1] } } })).length, 8);
      assert.equal((await notes.list("r", { where: { body: { ne: "note 1" } } })).length, 9); // null is "not equal" too
      assert.deepEqual(
        bodies(await notes.list("r", { where: { priority: { gte: 3, lt: 6 } }, orderBy: { column: "priority", direction: "desc" } })),
        [5, 4, 3],
      );
      assert.deepEqual(bodies(await notes.list("r", { where: { priority: { gt: 7, lte: 9 }, agent: "odd" } })), [9]);
      assert.deepEqual(bodies(await notes.list("r", { where: { body: { like: "note 1%" } } })), [1]);
      assert.deepEqual(bodies(await notes.list("r", { orderBy: { column: "priority", direction: "desc" }, limit: 3, offset: 2 })), [7, 6, 5]);
      assert.equal(await notes.count("r", { agent: "odd" }), 5);
    });
  });

  test("keyset paging visits every row once, in order, with ties broken by the primary key", async () => {
    await withDb(async (t) => {
      const notes = await notesTable(t);
      for (let i = 0; i < 23; i++) await notes.insert("seed", { id: crypto.randomUUID(), agent: `a${i % 3}`, body: `n${i}`, priority: i % 4 });
      const order = [{ column: "priority", direction: "desc" }, "agent"] as const;
      const seen: Note[] = [];
      let after: Note | undefined;
      for (;;) {
        const page: Note[] = await notes.list("pager", { orderBy: [...order], limit: 5, after });
        if (page.length === 0) break;
        seen.push(...page);
        after = page[page.length - 1];
      }
      const all = await notes.list("pager", { orderBy: [...order] });
      assert.equal(seen.length, 23);
      assert.deepEqual(seen.map((n) => n.id), all.map((n) => n.id));
      assert.equal(new Set(seen.map((n) => n.id)).size, 23);
    });
  });

  test("hostile strings are stored and matched literally", async () => {
    await withDb(async (t) => {
      const notes = await notesTable(t);
      for (const body of HOSTILE) await notes.insert(body, { id: crypto.randomUUID(), agent: body, body, meta: { body } });
      for (const body of HOSTILE) {
        const rows = await notes.list(body, { where: { body } });
        assert.equal(rows.length, 1, body);
        assert.equal(rows[0].body, body);
        assert.equal(rows[0].agent, body);
        assert.deepEqual(rows[0].meta, { body });
      }
      assert.equal((await notes.list("r", { where: { agent: { in: HOSTILE } } })).length, HOSTILE.length);
      const [{ n }] = await t.observer.unsafe(`select count(*)::int as n from ${t.schema}.notes`);
      assert.equal(n, HOSTILE.length); // the table is still there
    });
  });
});

describe("repository: rejected input", () => {
  test("unknown columns and operators are RangeErrors naming them, before any SQL", async () => {
    await withDb(async (t) => {
      const notes = await notesTable(t);
      const id = crypto.randomUUID();
      const acquiredBefore = t.pool.stats().acquired;
      await assert.rejects(notes.insert("a", { id, agent: "a", nope: 1 } as Partial<Note>), /Unknown column "nope"/);
      await assert.rejects(notes.list("a", { where: { "body; drop table x": 1 } as never }), /Unknown column "body; drop table x"/);
      await assert.rejects(notes.list("a", { orderBy: "priority desc" as never }), /Unknown column "priority desc"/);
      await assert.rejects(notes.list("a", { orderBy: { column: "priority", direction: "sideways" as never } }), /'direction'/);
      await assert.rejects(notes.list("a", { where: { priority: { gt: 1, between: [1, 2] } as never } }), /Unknown filter operator "between"/);
      await assert.rejects(notes.update("a", id, { version: 7 }), /primary key or the version/);
      await assert.rejects(notes.update("a", id, {}), RangeError);
      await assert.rejects(notes.list("a", { limit: -1 }), /'limit'/);
      await assert.rejects(notes.list("a", { after: { priority: 1 } as Partial<Note> }), /'after'/);
      assert.equal(t.pool.stats().acquired, acquiredBefore);
    });
  });

  test("definitions with bad names are refused", async () => {
    await withDb(async (t) => {
      const base = { table: "notes", primaryKey: "id", columns: ["id"] } as const;
      assert.throws(() => new Repository(t.db, { ...base, table: `notes"; drop table x; --` }), RangeError);
      assert.throws(() => new Repository(t.db, { ...base, schema: "a b" }), RangeError);
      assert.throws(() => new Repository(t.db, { ...base, columns: ["id", "x'y"] }), /x'y/);
      assert.throws(() => new Repository(t.db, { ...base, primaryKey: "missing" as "id" }), /'primaryKey'/);
      assert.throws(() => new Repository(t.db, { ...base, columns: [] }), TypeError);
      await assert.rejects(new Repository(t.db, base).get("a", 1), /does not exist/); // valid names, missing table: the server says so
    });
  });
});

describe("migrations", () => {
  test("concurrent migrate calls apply each version exactly once", async () => {
    await withDb(async (t) => {
      const migrations = [
        { version: 2, name: "index", up: "create index things_name_idx on things (name)" },
        { version: 1, name: "things", up: "create table things (id bigint primary key, name text); insert into things values (1, 'seed')" },
      ];
      const target = `${t.schema}_m`;
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => migrate(t.db, { schema: target, migrations, agentId: `boot-${i}` })));
      try {
        assert.deepEqual(results.map((r) => r.applied.length).sort(), [0, 0, 0, 0, 0, 2]);
        assert.deepEqual(results.find((r) => r.applied.length > 0)?.applied, [1, 2]);
        for (const r of results) assert.equal(r.version, 2);
        const versions = await t.observer.unsafe(`select version from ${target}.schema_migrations order by version`);
        assert.deepEqual(versions.map((v) => v.version), [1, 2]);
        const more = await migrate(t.db, {
          schema: target,
          migrations: [...migrations, { version: 3, name: "fn", up: async (tx) => await tx`alter table things add column note text` }],
        });
        assert.deepEqual(more, { applied: [3], version: 3 });
        const [{ n }] = await t.observer.unsafe(`select count(*)::int as n from ${target}.things`);
        assert.equal(n, 1);
      } finally {
        await t.observer.unsafe(`drop schema if exists ${target} cascade`);
      }
    }, { pool: { maxConnections: 6 } });
  });

  test("a failing migration applies nothing of its run", async () => {
    await withDb(async (t) => {
      const target = t.schema;
      await assert.rejects(migrate(t.db, {
        schema: target,
        migrations: [
          { version: 1, name: "ok", up: "create table a (id int)" },
          { version: 2, name: "broken", up: "create table b (id nonsense_type)" },
        ],
      }));
      const tables = await t.observer`select table_name from information_schema.tables where table_schema = ${target}`;
      assert.equal(tables.length, 0);
      await assert.rejects(migrate(t.db, { schema: "bad name", migrations: [] }), RangeError);
      await assert.rejects(migrate(t.db, { schema: target, migrations: [{ version: 0, name: "x", up: "" }] }), RangeError);
    });
  });
});
