/**
 * Mastra's PostgresStore (@mastra/pg) on the pg facade, against a real PostgreSQL: init (its DDL
 * pinned to one client), then a thread and its messages written and read back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PostgresStore } from "@mastra/pg";
import { Pool, withAgent } from "../src/pg/mod.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

test("PostgresStore on the facade: init, saveThread, saveMessages, getThreadById, listMessages; close() leaves the pool open", async () => {
  const schemaName = uniqueName("mastra");
  const pool = new Pool({ connectionString: databaseUrl(), max: 6 });
  const store = new PostgresStore({ id: "agentpool-test", pool: pool, schemaName });
  try {
    await withAgent("mastra-init", () => store.init());
    const memory = await store.getStore("memory");
    assert.ok(memory !== undefined);
    const now = new Date();
    await withAgent("researcher-1", async () => {
      await memory.saveThread({ thread: { id: "thread-1", resourceId: "user-1", title: "Pools", createdAt: now, updatedAt: now, metadata: { topic: "pg" } } });
      await memory.saveMessages({
        messages: ["user", "assistant"].map((role, i) => ({
          id: `message-${i}`,
          threadId: "thread-1",
          resourceId: "user-1",
          role: role as "user" | "assistant",
          createdAt: new Date(now.getTime() + i),
          content: { format: 2 as const, parts: [{ type: "text" as const, text: `${role} says ${i}` }] },
        })),
      });
    });
    const thread = await memory.getThreadById({ threadId: "thread-1" });
    assert.equal(thread?.title, "Pools");
    assert.deepEqual(thread?.metadata, { topic: "pg" });
    const { messages } = await memory.listMessages({ threadId: "thread-1" });
    assert.deepEqual(messages.map((m) => [m.role, (m.content.parts[0] as { text: string }).text]), [["user", "user says 0"], ["assistant", "assistant says 1"]]);
    const agents = new Map(pool.agents().map((a) => [a.agentId, a.acquired]));
    assert.ok((agents.get("mastra-init") ?? 0) > 0);
    assert.ok((agents.get("researcher-1") ?? 0) > 0);
    assert.equal(pool.stats().used, 0, "every client went back");
    await store.close();
    assert.equal(pool.ending, false, "a user-provided pool is left open");
  } finally {
    await pool.query(`drop schema if exists ${schemaName} cascade`);
    await pool.end();
  }
});
