/**
 * The postgres.js internals src/postgres/driver_internals.ts reads are still there: fails naming
 * the installed postgres.js version when the driver changes under us.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import postgres from "postgres";
import { assertDriverInternals, isRunning, onExecute, SUPPORTED_DRIVER_RANGE } from "../src/postgres/driver_internals.ts";
import { databaseUrl } from "./support/db.ts";

const version = String(JSON.parse(readFileSync(new URL("../node_modules/postgres/package.json", import.meta.url), "utf8")).version);

test("postgres.js is in the tested range and has the query fields the layer reads", async () => {
  assert.ok(version.startsWith(`${SUPPORTED_DRIVER_RANGE}.`), `postgres.js ${version} is outside the tested ${SUPPORTED_DRIVER_RANGE}.x: re-check src/postgres/driver_internals.ts`);
  const sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  try {
    await sql`select 1`; // connected
    const query = sql`select pg_sleep(0.3)`;
    let hooked = 0;
    onExecute(query, (_query, step: number) => (hooked += step), 1);
    assert.equal(isRunning(query), false, `postgres.js ${version}: a query not yet run`);
    const done = query.then(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(isRunning(query), true, `postgres.js ${version}: query.active while it runs`);
    await done;
    assert.equal(isRunning(query), false, `postgres.js ${version}: a finished query`);
    assert.equal(hooked, 1, `postgres.js ${version}: runs a query through its handler once`);
    assert.doesNotThrow(() => assertDriverInternals(query, version));
    assert.throws(() => assertDriverInternals({}, version), new RegExp(`postgres\\.js \\(${version.replace(/\./g, "\\.")}\\)`));
  } finally {
    await sql.end();
  }
});
