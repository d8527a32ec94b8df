/**
 * LangGraph.js's PostgresSaver (@langchain/langgraph-checkpoint-postgres) on the pg facade, against
 * a real PostgreSQL: setup, put, putWrites, getTuple, list, and 20 agents at once, each on its own
 * thread, attributed through withAgent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { type Checkpoint, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { Pool, withAgent } from "../src/pg/mod.ts";
import { databaseUrl, uniqueName } from "./support/db.ts";

function checkpoint(step: number): Checkpoint {
  return { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { messages: [`step ${step}`], blob: new Uint8Array([1, 2, step]) }, channel_versions: { messages: step, blob: step } };
}

test("PostgresSaver on the facade: setup (twice), put, putWrites, getTuple, list", async () => {
  const schema = uniqueName("lg");
  const pool = new Pool({ connectionString: databaseUrl(), max: 4 });
  const saver = new PostgresSaver(pool, undefined, { schema });
  try {
    await pool.query(`create schema ${schema}`);
    await saver.setup();
    await saver.setup(); // migrations already applied: its 42P01 check and version read work
    const thread = { configurable: { thread_id: "thread-1", checkpoint_ns: "" } };
    const first = checkpoint(1);
    const saved = await saver.put(thread, first, { source: "input", step: 1, parents: {} }, { messages: 1, blob: 1 });
    await saver.putWrites(saved, [["messages", "pending write"]], "task-1");
    const second = checkpoint(2);
    await saver.put(saved, second, { source: "loop", step: 2, parents: {} }, { messages: 2, blob: 2 });

    const latest = await saver.getTuple(thread);
    assert.equal(latest?.checkpoint.id, second.id);
    assert.deepEqual(latest?.checkpoint.channel_values.messages, ["step 2"]);
    assert.deepEqual([...(latest?.checkpoint.channel_values.blob as Uint8Array)], [1, 2, 2]);
    assert.equal(latest?.parentConfig?.configurable?.checkpoint_id, first.id);

    const exact = await saver.getTuple(saved);
    assert.equal(exact?.checkpoint.id, first.id);
    assert.deepEqual(exact?.pendingWrites, [["task-1", "messages", "pending write"]]);

    const listed = [];
    for await (const tuple of saver.list(thread)) listed.push(tuple.checkpoint.id);
    assert.deepEqual(listed, [second.id, first.id]);
    assert.equal(pool.stats().used, 0, "every client went back");
  } finally {
    await pool.query(`drop schema if exists ${schema} cascade`);
    await saver.end(); // calls pool.end()
  }
  assert.equal(pool.ended, true);
});

test("20 agents checkpoint concurrently, each on its own thread, each attributed through withAgent; a forAgent view survives saver.end()", async () => {
  const schema = uniqueName("lg20");
  const pool = new Pool({ connectionString: databaseUrl(), max: 8, maxPerAgent: 2 });
  try {
    await pool.query(`create schema ${schema}`);
    const setupSaver = new PostgresSaver(pool.forAgent("migrations"), undefined, { schema });
    await setupSaver.setup();
    await setupSaver.end(); // the view's end: the shared pool stays open
    assert.equal(pool.ending, false);

    const saver = new PostgresSaver(pool, undefined, { schema });
    const unattributed = (): number => pool.agents().find((a) => a.agentId === "default")?.acquired ?? 0;
    const before = unattributed();
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    await Promise.all(agents.map((agentId) =>
      withAgent(agentId, async () => {
        let config = { configurable: { thread_id: `thread-${agentId}`, checkpoint_ns: "" } };
        for (let step = 1; step <= 3; step++) {
          config = await saver.put(config, checkpoint(step), { source: "loop", step, parents: {} }, { messages: step, blob: step }) as typeof config;
          await saver.putWrites(config, [["messages", `${agentId} ${step}`]], `task-${step}`);
        }
        const tuple = await saver.getTuple({ configurable: { thread_id: `thread-${agentId}`, checkpoint_ns: "" } });
        assert.deepEqual(tuple?.checkpoint.channel_values.messages, ["step 3"]);
        assert.deepEqual(tuple?.pendingWrites?.map((w) => w[2]), [`${agentId} 3`]);
      })
    ));
    const byAgent = new Map(pool.agents().map((a) => [a.agentId, a]));
    for (const agentId of agents) {
      const record = byAgent.get(agentId);
      // 3 puts + 3 putWrites (a client each) + getTuple's reads: all this agent's, none anyone else's.
      assert.ok(record !== undefined && record.acquired >= 7, `${agentId}: ${JSON.stringify(record)}`);
      assert.equal(record.held, 0);
    }
    assert.equal(unattributed(), before, "nothing ran unattributed");
    const { rows } = await pool.query(`select count(distinct thread_id)::int as threads from ${schema}.checkpoints`);
    assert.equal(rows[0].threads, 20);
  } finally {
    await pool.query(`drop schema if exists ${schema} cascade`);
    await pool.end();
  }
});
