/**
 * The comparison phase's postgres.js pools (src/cli/stress_compare.ts) run the workload's text
 * statements the way a tagged template runs: prepared once per connection, then one round trip.
 * postgres.js's `unsafe(text, params)` alone is unprepared and described first (two round trips),
 * which pg's `client.query(text, params)` never pays, so the comparison would charge postgres.js for
 * how the workload was written. Checked on the server: a prepared statement is listed in
 * `pg_prepared_statements` for its session; an unnamed one is not.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type ComparisonOptions, openComparisonPool, type Query } from "../src/cli/stress_compare.ts";
import { databaseUrl } from "./support/db.ts";

const options = (): ComparisonOptions => ({
  url: databaseUrl(),
  agents: 2,
  cap: 2,
  min: 1,
  max: 2,
  overflow: 0,
  thinkMs: [1, 2],
  workMs: [0, 0],
  longHolders: 0,
  warmupS: 0,
  durationS: 1,
  applicationName: "agentpool-test-compare",
});

const STATEMENT = "select $1::integer + 1 as next";

for (const name of ["agentpool", "postgres.js"]) {
  test(`stress comparison: ${name} runs a statement with parameters as a prepared statement`, async () => {
    const pool = await openComparisonPool(name, options());
    assert.ok(!("skipped" in pool), `skipped: ${"skipped" in pool ? pool.skipped : ""}`);
    try {
      let answer: unknown;
      let prepared: unknown;
      await pool.transaction("agent-1", false, async (q: Query) => {
        answer = (await q(STATEMENT, [41]))[0]?.next;
        prepared = (await q("select count(*)::integer as n from pg_prepared_statements where statement = $1 and not from_sql", [STATEMENT]))[0]?.n;
      }, () => {}, () => {});
      assert.equal(answer, 42);
      assert.equal(prepared, 1, "the statement was not prepared on its session");
    } finally {
      await pool.close();
    }
  });
}
