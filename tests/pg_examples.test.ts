/**
 * Every file in examples/ runs against the test database and does what it says.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { main as drizzle } from "../examples/drizzle.ts";
import { main as kysely } from "../examples/kysely.ts";
import { main as langgraph } from "../examples/langgraph.ts";
import { main as mastra } from "../examples/mastra.ts";
import { Pool } from "../src/pg/mod.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

test("examples/langgraph.ts: three agents checkpoint on their own threads", async () => {
  const schema = uniqueName("ex_lg");
  const admin = new Pool({ connectionString: databaseUrl(), max: 1 });
  await admin.query(`create schema ${schema}`);
  try {
    assert.deepEqual(await langgraph(databaseUrl(), schema), { planner: "hello from planner", researcher: "hello from researcher", critic: "hello from critic" });
  } finally {
    await admin.query(`drop schema ${schema} cascade`);
    await admin.end();
  }
});

test("examples/mastra.ts: a thread and its message round-trip", async () => {
  const schema = uniqueName("ex_ma");
  try {
    assert.deepEqual(await mastra(databaseUrl(), schema), ["hello from mastra"]);
  } finally {
    const admin = new Pool({ connectionString: databaseUrl(), max: 1 });
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  }
});

test("examples/kysely.ts: the committed note stays, the rolled-back one does not", async () => {
  assert.deepEqual(await kysely(databaseUrl(), uniqueName("ex_ky")), ["committed"]);
});

test("examples/drizzle.ts: the committed note stays, the rolled-back one does not", async () => {
  assert.deepEqual(await drizzle(databaseUrl(), uniqueName("ex_dz")), ["committed"]);
});
