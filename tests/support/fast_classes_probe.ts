/**
 * Child process of tests/postgres_fast_classes.test.ts, started with V8's `--allow-natives-syntax`:
 * prints, as JSON, whether postgres.js's `Query` and `Result` constructors and a control class
 * keep their own properties in V8's dictionary mode, before and after agentpool fastens them.
 * Prints `{ "natives": false }` where the runtime has no V8 natives (Bun).
 *
 * @module
 */
import postgres from "postgres";
import process from "node:process";
import { postgresFactory } from "../../src/postgres/factory.ts";
import { fastenProperties } from "../../src/postgres/fast_classes.ts";

type Check = (target: object) => boolean;

function nativeCheck(): Check | undefined {
  try {
    return new Function("target", "return %HasFastProperties(target)") as Check;
  } catch {
    return undefined;
  }
}

const hasFastProperties = nativeCheck();
if (hasFastProperties === undefined) {
  console.log(JSON.stringify({ natives: false }));
} else {
  const url = process.env.DATABASE_URL!;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const query = sql`select 1 as one`;
  const result = await query;
  await sql.end();
  const Query = query.constructor, Result = result.constructor;
  const before = { query: hasFastProperties(Query), result: hasFastProperties(Result) };
  // What the factory does on the statement that opens a connection.
  const factory = postgresFactory(url, { onnotice: () => {} });
  const pooled = await factory.create(new AbortController().signal);
  await factory.destroy(pooled);
  const after = { query: hasFastProperties(Query), result: hasFastProperties(Result) };
  const Control = class {
    static get [Symbol.species](): unknown {
      return Array;
    }
  };
  const controlBefore = hasFastProperties(Control);
  fastenProperties(Control);
  console.log(JSON.stringify({ natives: true, before, after, control: { before: controlBefore, after: hasFastProperties(Control) } }));
}
