/**
 * src/postgres/fast_classes.ts: the factory fastens postgres.js's `Query` and `Result` classes
 * (V8 keeps them in dictionary mode, and then never optimizes their construction), and doing so
 * changes nothing JavaScript can observe.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import postgres from "postgres";
import { fastenDriverClasses, fastenProperties } from "../src/postgres/fast_classes.ts";
import { runtimeId } from "../src/cli/runtime_info.ts";
import { databaseUrl } from "./support/db.ts";
import { runScript } from "./support/run_script.ts";

/** Every own property of `target` with its attributes, getters and setters by identity. */
function ownProperties(target: object): [PropertyKey, PropertyDescriptor][] {
  return Reflect.ownKeys(target).map((key) => [key, Object.getOwnPropertyDescriptor(target, key)!]);
}

test("the factory fastens postgres.js's Query and Result classes (V8: Node and Deno)", async () => {
  const { code, stdout, stderr } = await runScript("tests/support/fast_classes_probe.ts", [], {}, ["--allow-natives-syntax"]);
  assert.equal(code, 0, stderr);
  const probe = JSON.parse(stdout.trim().split("\n").at(-1)!);
  if (runtimeId() === "bun") {
    // JavaScriptCore has no dictionary-mode classes to fasten; the behaviour tests below still run.
    assert.deepEqual(probe, { natives: false });
    return;
  }
  assert.equal(probe.natives, true, "V8's natives syntax is available to the child on Node and Deno");
  // The control proves the check and the mechanism on this engine: a class whose literal has a
  // computed static key starts in dictionary mode. When V8 stops doing that, fast_classes.ts is moot.
  assert.deepEqual(probe.control, { before: false, after: true }, `control class: ${stdout}`);
  assert.deepEqual(probe.before, { query: false, result: false }, `postgres.js 3.4's classes start in dictionary mode: ${stdout}`);
  assert.deepEqual(probe.after, { query: true, result: true }, `after one pooled connection opened: ${stdout}`);
});

test("fastening postgres.js's classes changes no property, species, prototype or result", async () => {
  const sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  try {
    const query = sql`select 1 as one, 'two' as two`;
    const result = await query;
    const Query = query.constructor as unknown as { [Symbol.species]: unknown; prototype: object };
    const Result = result.constructor as unknown as { [Symbol.species]: unknown; prototype: object };
    const before = [ownProperties(Query), ownProperties(Result), ownProperties(Query.prototype), ownProperties(Result.prototype)];
    const prototypes = [Object.getPrototypeOf(Query), Object.getPrototypeOf(Result)];
    fastenDriverClasses(query, result);
    fastenDriverClasses(query, result); // once per class: the second call is a no-op
    assert.deepEqual([ownProperties(Query), ownProperties(Result), ownProperties(Query.prototype), ownProperties(Result.prototype)], before);
    assert.deepEqual([Object.getPrototypeOf(Query), Object.getPrototypeOf(Result)], prototypes);
    assert.equal(Query[Symbol.species], Promise);
    assert.equal(Result[Symbol.species], Array);
    const again = await sql`select 1 as one, 'two' as two`;
    assert.ok(again instanceof (Result as unknown as typeof Array));
    assert.deepEqual([...again], [{ one: 1, two: "two" }]);
    assert.equal(again.count, 1);
    assert.equal(again.command, "SELECT");
    assert.equal(again.map((row) => row.one).constructor, Array, "map still makes a plain Array (species)");
    assert.equal(Object.keys(again).join(), "0", "count, command, ... stay non-enumerable");
    assert.equal(JSON.stringify(again), '[{"one":1,"two":"two"}]');
    const chained = sql`select 3 as three`.then((rows) => rows[0].three);
    assert.equal(Object.getPrototypeOf(chained), Promise.prototype, "then still makes a plain Promise (species)");
    assert.equal(await chained, 3);
  } finally {
    await sql.end();
  }
});

test("fastenDriverClasses ignores what is not a driver class instance", () => {
  for (const value of [null, undefined, 1, "query", {}, [], Promise.resolve(), Object.create(null)]) {
    assert.doesNotThrow(() => fastenDriverClasses(value, value));
  }
  // A built-in's constructor is never touched, even when passed in directly.
  const before = ownProperties(Promise);
  fastenDriverClasses(Promise.resolve(1), [1]);
  assert.deepEqual(ownProperties(Promise), before);
});

test("fastenProperties keeps a class's own properties exactly, including computed keys", () => {
  const tag = Symbol("tag");
  class Rows extends Array {
    static override get [Symbol.species](): ArrayConstructor {
      return Array;
    }
    static [tag] = "kept";
  }
  const before = ownProperties(Rows);
  fastenProperties(Rows);
  assert.deepEqual(ownProperties(Rows), before);
  assert.equal((Rows as unknown as Record<symbol, unknown>)[tag], "kept");
  assert.equal(new Rows().map((x) => x).constructor, Array);
});
