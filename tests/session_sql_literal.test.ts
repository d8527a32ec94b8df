/**
 * sqlLiteral on a real PostgreSQL: what it quotes reads back exactly, whatever the text holds and
 * whatever `standard_conforming_strings` is; a NUL is refused before it reaches the server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import postgres from "postgres";
import { sqlLiteral } from "../src/session/sql_literal.ts";
import { databaseUrl } from "./support/db.ts";

const TEXTS = ["plain", "it's", "back\\slash", "\\'", "'; drop table x; --", "E'", "ü 😀 \n\t\r", "$$ $tag$", "", "\\\\''\\"];

describe("sqlLiteral", () => {
  let sql: postgres.Sql;

  before(() => {
    sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
  });

  after(async () => {
    await sql.end({ timeout: 5 });
  });

  for (const conforming of ["on", "off"]) {
    it(`reads back every text exactly (standard_conforming_strings = ${conforming})`, async () => {
      await sql.begin(async (tx) => {
        await tx.unsafe(`set local standard_conforming_strings = ${conforming}`);
        for (const text of TEXTS) {
          const [{ v }] = await tx.unsafe<{ v: string }[]>(`select ${sqlLiteral(text)}::text as v`);
          assert.equal(v, text, `round trip of ${JSON.stringify(text)}`);
        }
      });
    });
  }

  it("refuses a NUL with a RangeError instead of sending a truncated text", () => {
    assert.throws(() => sqlLiteral("a\0b"), RangeError);
  });
});
