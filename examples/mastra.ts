/**
 * Mastra memory through agentpool: `PostgresStore({ id, pool })` takes the pg-compatible `Pool`
 * (and leaves it open on `close()`); `withAgent` attributes the store's queries.
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx examples/mastra.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import { PostgresStore } from "@mastra/pg";
import { Pool, withAgent } from "../src/pg/mod.ts"; // in an app: from "agentpool/pg"

/** Saves a thread with one message and reads the message back. */
export async function main(connectionString: string, schemaName?: string): Promise<string[]> {
  const pool = new Pool({ connectionString, max: 10 });
  const store = new PostgresStore({ id: "example", pool, schemaName });
  try {
    await withAgent("mastra-setup", () => store.init());
    const memory = (await store.getStore("memory"))!;
    const now = new Date();
    return await withAgent("assistant", async () => {
      await memory.saveThread({ thread: { id: "example-thread", resourceId: "user-1", title: "Example", createdAt: now, updatedAt: now } });
      await memory.saveMessages({
        messages: [{
          id: "example-message",
          threadId: "example-thread",
          resourceId: "user-1",
          role: "user",
          createdAt: now,
          content: { format: 2, parts: [{ type: "text", text: "hello from mastra" }] },
        }],
      });
      const { messages } = await memory.listMessages({ threadId: "example-thread" });
      return messages.map((m) => (m.content.parts[0] as { text: string }).text);
    });
  } finally {
    await store.close(); // a pool it was given stays open
    await pool.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await main(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"));
}
