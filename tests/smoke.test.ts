/**
 * Proves the test harness: DATABASE_URL reaches every runtime and postgres.js works there.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import postgres from "postgres";
import { databaseUrl, maskUrl, startEmbeddedPostgres, uniqueName } from "./support/db.ts";

test("smoke: DATABASE_URL answers `select 1` on PostgreSQL 15+", async () => {
  const sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ one: number }[]>`select 1 as one`;
    assert.equal(row?.one, 1);
    const [{ server_version_num }] = await sql<{ server_version_num: string }[]>`show server_version_num`;
    assert.ok(Number(server_version_num) >= 150000, `server_version_num is ${server_version_num}`);
  } finally {
    await sql.end();
  }
});

test("smoke: uniqueName gives distinct identifiers", () => {
  const names = new Set(Array.from({ length: 100 }, () => uniqueName("smoke")));
  assert.equal(names.size, 100);
  for (const name of names) assert.match(name, /^smoke_[a-z0-9_]+$/);
  assert.throws(() => uniqueName("Bad-Prefix"), TypeError);
});

test("smoke: maskUrl hides the password", () => {
  assert.equal(maskUrl("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
  assert.equal(maskUrl("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
  assert.equal(maskUrl("not a url"), "<unparseable database URL>");
});

test("smoke: startEmbeddedPostgres survives stop/start and removes its directory", async () => {
  const server = await startEmbeddedPostgres();
  try {
    const sql = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      const table = uniqueName("smoke");
      await sql`create table ${sql(table)} (id int)`;
      await sql`insert into ${sql(table)} values (42)`;

      await server.stop({ mode: "immediate" });
      assert.equal(server.running, false);
      await assert.rejects(sql`select 1`);

      await server.start();
      assert.equal(server.running, true);
      const rows = await sql<{ id: number }[]>`select id from ${sql(table)}`;
      assert.deepEqual(rows.map((r) => r.id), [42]);
    } finally {
      await sql.end();
    }
  } finally {
    await server.remove();
  }
  assert.equal(existsSync(server.dataDir), false);
});
