/**
 * The session-statement check the pg factory runs on every query: what leaves state past its
 * transaction (and costs a DISCARD ALL on release) and what does not.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isSessionStatement } from "../src/pg/session.ts";

test("statements whose effect outlives the transaction are seen, in any case, after comments, in any statement of a text", () => {
  for (const text of [
    "set search_path = x",
    "SET ROLE x",
    "  reset all",
    "set session authorization default",
    "listen ch",
    "prepare p as select 1",
    "declare c cursor with hold for select 1",
    "load 'x'",
    "discard all",
    "deallocate all",
    "create temp table t (x int)",
    "CREATE TEMPORARY TABLE t ()",
    "create global temporary table t ()",
    "create or replace temp view v as select 1",
    "select pg_advisory_lock(1)",
    "SELECT PG_TRY_ADVISORY_LOCK(1)",
    "select set_config('a', 'b', false)",
    "begin; set search_path = x",
    "-- a comment\nset x = 1",
    "/* a comment */ set x = 1",
  ]) assert.equal(isSessionStatement(text), true, text);
});

test("transaction-scoped and ordinary statements are not", () => {
  for (const text of [
    "select 1",
    "begin",
    "commit",
    "set local x = 1",
    "set transaction isolation level serializable",
    "SET CONSTRAINTS ALL DEFERRED",
    "select pg_advisory_xact_lock(1)",
    "insert into settings values (1) on conflict (id) do update set v = 2",
    "create table t ()",
    "create temporaryx",
    "settle",
    "delete from t",
    "update t set x = 1",
    "with x as (select 1) select * from x",
    "",
  ]) assert.equal(isSessionStatement(text), false, text);
});
