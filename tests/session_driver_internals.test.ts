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
import { assertDriverInternals, isRunning, onExecute, onReject, settleAfter, stopWaiting, SUPPORTED_DRIVER_RANGE } from "../src/postgres/driver_internals.ts";
import { databaseUrl } from "./support/db.ts";

const version = String(JSON.parse(readFileSync(new URL("../node_modules/postgres/package.json", import.meta.url), "utf8")).version);

test("postgres.js is in the tested range and has the query fields the layer reads", async () => {
  assert.ok(version.startsWith(`${SUPPORTED_DRIVER_RANGE}.`), `postgres.js ${version} is outside the tested ${SUPPORTED_DRIVER_RANGE}.x: re-check src/postgres/driver_internals.ts`);
  const declared = String(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).dependencies.postgres);
  assert.match(declared, new RegExp(`^~${SUPPORTED_DRIVER_RANGE.replace(".", "\\.")}\\.\\d+$`), `package.json allows postgres ${declared}, wider than the tested ${SUPPORTED_DRIVER_RANGE}.x`);
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

test("postgres.js: a query's then and reject can be wrapped (BEGIN ordering, socket-error marking)", async () => {
  const sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  try {
    const failing = sql`select 1/0`;
    const after = sql`select 1 as one`;
    settleAfter(after, failing);
    const seen: unknown[] = [];
    onReject(failing, (error, label: string) => seen.push(label, (error as { code?: string }).code), "first");
    failing.catch(() => {});
    await assert.rejects(after, { code: "22012" }, `postgres.js ${version}: a query settles after the one it follows, and rethrows its failure`);
    assert.deepEqual(seen, ["first", "22012"], `postgres.js ${version}: query.reject is called with the server error`);
    const alone = sql`select 2 as two`;
    settleAfter(alone, sql`select 1/0`);
    stopWaiting(alone);
    assert.deepEqual([...(await alone)], [{ two: 2 }], `postgres.js ${version}: Query.prototype.then still runs the query`);
  } finally {
    await sql.end();
  }
});
