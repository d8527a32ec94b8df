/**
 * The statement reader (src/session/classify.ts): conservative whatever the comments, case,
 * quoting, schema or statement count; exact about transaction control. Pure, no database.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ALL_RESETS, analyzeSql, classifyStatement, Effect } from "../src/session/classify.ts";
import { resetStatements } from "../src/session/reset_plan.ts";
import { SessionTracker } from "../src/session/tracker.ts";
import { agentApplicationName, beginWithApplicationName, TaggedBegins } from "../src/session/application_name.ts";

test("transaction control, however it is written", () => {
  const cases: [string, string][] = [
    ["/* planner step 3 */ begin", "open"],
    ["-- note\n  START TRANSACTION READ ONLY", "open"],
    ["select 1; begin", "open"],
    ["begin; insert into t values (1); commit", "closed"],
    ["COMMIT", "closed"],
    ["end work;", "closed"],
    ["abort", "closed"],
    ["prepare transaction 'x'", "closed"],
    ["rollback to savepoint a", "unchanged"],
    ["rollback work to a", "unchanged"],
    ["commit and chain", "open"],
    ["commit and no chain", "closed"],
    ["commit prepared 'x'", "unchanged"],
    ["select 'begin'", "unchanged"],
    ["select 1 as begin_date", "unchanged"],
    ["do $$ begin perform 1; end $$", "unchanged"],
    ["select $tag$; begin $tag$", "unchanged"],
    ["select E'\\'; begin'", "unchanged"],
  ];
  for (const [text, expected] of cases) assert.equal(analyzeSql(text).transaction, expected, JSON.stringify(text));
});

test("session effects, however they are written", () => {
  const cases: [string, number][] = [
    ["select 1", 0],
    ["insert into t select * from u", 0],
    ["create table t (x int)", 0],
    ["set local statement_timeout = 5", 0],
    ["set transaction isolation level serializable", 0],
    ["SET search_path = x", Effect.SETTINGS],
    ["set session statement_timeout = 5", Effect.SETTINGS],
    ["select \"pg_catalog\" . \"set_config\"('a.b', 'c', false)", Effect.SETTINGS],
    ["/* x */ SET ROLE app", Effect.AUTHORIZATION],
    ["set session authorization app", Effect.AUTHORIZATION],
    ["select pg_advisory_lock(1)", Effect.ADVISORY_LOCKS],
    ["select pg_advisory_xact_lock(1)", 0],
    ["listen ch", Effect.LISTEN],
    ["create temporary table x (y int)", Effect.TEMP],
    ["create table pg_temp.x (y int)", Effect.TEMP],
    ["prepare p as select 1", Effect.PREPARED],
    ["declare c cursor with hold for select 1", Effect.CURSORS],
    ["declare c cursor for select 1", 0],
    ["select nextval('s')", Effect.SEQUENCES],
    ["do $$ begin perform set_config('a.b', 'c', false); end $$", ALL_RESETS],
    ["call my_procedure()", ALL_RESETS],
    ["load 'auto_explain'", Effect.RETIRE],
    ["discard all", Effect.RETIRE],
    ["deallocate all", Effect.RETIRE],
    ["select 1; set role x; listen y", Effect.AUTHORIZATION | Effect.LISTEN],
    ["select '; set role x'", 0],
    ["select 1 -- ; set role x\n", 0],
    ["select 1 /* /* nested */ ; set role x */", 0],
  ];
  for (const [text, expected] of cases) assert.equal(analyzeSql(text).effects, expected, JSON.stringify(text));
});

test("classifyStatement: the contract's coarse reading", () => {
  assert.equal(classifyStatement("select * from tasks"), "read");
  assert.equal(classifyStatement("update tasks set x = 1"), "dml");
  assert.equal(classifyStatement("-- hi\nBEGIN"), "session");
  assert.equal(classifyStatement("select set_config('a.b', 'c', false)"), "session");
});

test("reset plan: one string per set of effects, ROLLBACK first, never DISCARD ALL", () => {
  assert.equal(resetStatements(0, false), null);
  assert.equal(resetStatements(0, true), "rollback");
  const all = resetStatements(ALL_RESETS, true)!;
  assert.match(all, /^rollback; set session authorization default; reset role; reset all; close all; /);
  assert.doesNotMatch(all, /discard all|deallocate all/i);
});

test("tracker: ParameterStatus changes are exact; a value back at its baseline is clean", () => {
  const session = new SessionTracker();
  session.parameter("application_name", "agentpool");
  session.started();
  assert.equal(session.baseline("application_name"), "agentpool");
  session.parameter("application_name", "agentpool:planner-1"); // set_config(..., true) in a transaction
  assert.equal(session.clean, false);
  session.parameter("application_name", "agentpool"); // COMMIT reverted it
  assert.equal(session.clean, true);
  session.parameter("is_superuser", "off");
  assert.equal(session.takeReset().statements, "set session authorization default; reset role");
  assert.equal(session.clean, true);
  session.note("load 'x'");
  assert.match(String(session.takeReset().retire), /no reset/);
});

test("application_name: printable ASCII, 63 bytes, quotes and backslashes escaped", () => {
  assert.equal(agentApplicationName("agentpool", "plänner"), "agentpool:pl?nner");
  assert.equal(agentApplicationName("a", "x".repeat(100)).length, 63);
  assert.equal(
    beginWithApplicationName("begin", "a:o'b\\c"),
    "begin; set local application_name = E'a:o''b\\\\c'",
  );
});

test("tagged BEGINs: built once per text, base and agent; bounded in all", () => {
  const begins = new TaggedBegins();
  const first = begins.text("begin", "agentpool", "o'b");
  assert.equal(first, beginWithApplicationName("begin", agentApplicationName("agentpool", "o'b")));
  assert.equal(begins.text("begin", "agentpool", "o'b"), first);
  assert.equal(begins.text("begin read only", "agentpool", "o'b"), "begin read only; set local application_name = E'agentpool:o''b'");
  assert.equal(begins.text("begin", "svc", "o'b"), "begin; set local application_name = E'svc:o''b'");
  // The pg facade passes the caller's BEGIN text: 10,000 distinct ones stay correct and bounded.
  for (let i = 0; i < 10_000; i++) {
    const text = `/* request ${i} */ begin`;
    assert.equal(begins.text(text, "agentpool", `agent-${i}`), `${text}; set local application_name = E'agentpool:agent-${i}'`);
  }
  assert.ok(begins.size <= 4096, `holds ${begins.size} texts`);
  for (let i = 0; i < 10_000; i++) begins.text("begin", "agentpool", `agent-${i}`);
  assert.ok(begins.size <= 4096, `holds ${begins.size} texts`);
});
