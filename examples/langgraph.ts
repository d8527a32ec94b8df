/**
 * LangGraph.js checkpoints through agentpool: `PostgresSaver` takes the pg-compatible `Pool`, and
 * `withAgent` attributes each agent's checkpoint writes, so `pool.agents()` shows who holds what.
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx examples/langgraph.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { Pool, withAgent } from "../src/pg/mod.ts"; // in an app: from "agentpool/pg"

/** Three agents each save a checkpoint on their own thread; returns each thread's latest step. */
export async function main(connectionString: string, schema = "public"): Promise<Record<string, unknown>> {
  const pool = new Pool({ connectionString, max: 10, maxPerAgent: 2 });
  const saver = new PostgresSaver(pool, undefined, { schema });
  try {
    await saver.setup();
    const latest: Record<string, unknown> = {};
    await Promise.all(["planner", "researcher", "critic"].map((agentId) =>
      withAgent(agentId, async () => {
        const thread = { configurable: { thread_id: `example-${agentId}`, checkpoint_ns: "" } };
        const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { said: `hello from ${agentId}` }, channel_versions: { said: 1 } };
        await saver.put(thread, checkpoint, { source: "input", step: 1, parents: {} }, { said: 1 });
        latest[agentId] = (await saver.getTuple(thread))?.checkpoint.channel_values.said;
      })
    ));
    console.log(pool.agents().map((a) => `${a.agentId}: ${a.acquired} leases`).join("\n"));
    return latest;
  } finally {
    await saver.end(); // ends the pool
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await main(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"));
}
