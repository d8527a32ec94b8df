/**
 * jsr.json is the one source of the registry fields: `check:manifests --write` copies them into
 * deno.json (keeping deno.json's own settings and layout), and the check names each field whose
 * copy drifted.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "../scripts/build.ts";
import { checkManifests, formatJson, syncDenoJson } from "../scripts/check_manifests.ts";
import { copyManifests, editJson as edit, type Json, readJson } from "./support/manifest_copy.ts";

describe("manifests: jsr.json is the source of deno.json's registry fields", () => {
  let dir = "";
  const copy = (): string => copyManifests(dir);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "agentpool-manifest-source-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the repository's deno.json carries every jsr.json field, in the repository's own layout", () => {
    assert.equal(syncDenoJson(ROOT), undefined);
    const jsr = readJson(ROOT, "jsr.json");
    const deno = readJson(ROOT, "deno.json");
    for (const [field, value] of Object.entries(jsr)) assert.deepEqual(deno[field], value, field);
    for (const file of ["jsr.json", "deno.json"]) assert.equal(formatJson(readJson(ROOT, file)), readFileSync(join(ROOT, file), "utf8"), file);
  });

  it("a drifted copy is named field by field, with the command that fixes it", () => {
    const target = copy();
    edit(target, "deno.json", (d) => {
      d.license = "Apache-2.0";
      d.publish = { include: ["mod.ts"] };
      delete (d.exports as Json)["./hono"];
    });
    const problems = checkManifests(target).join("\n");
    assert.match(problems, /deno\.json 'license' is "Apache-2\.0" but jsr\.json says "MIT"/);
    assert.match(problems, /deno\.json 'publish' is .* but jsr\.json says/);
    assert.match(problems, /deno\.json exports .* but jsr\.json exports .*\.\/hono/);
    assert.match(problems, /run "npm run check:manifests -- --write"/);
  });

  it("--write copies an edit of jsr.json into deno.json and keeps deno.json's own settings", () => {
    const target = copy();
    edit(target, "jsr.json", (j) => {
      j.version = "0.2.0";
      (j.exports as Json)["./extra"] = "./mod.ts";
    });
    edit(target, "package.json", (p) => {
      p.version = "0.2.0";
      (p.exports as Json)["./extra"] = { types: "./dist/mod.d.ts", import: "./dist/mod.js" };
    });
    const before = readJson(target, "deno.json");
    assert.ok(checkManifests(target).some((p) => /deno\.json 'version' is "0\.1\.0" but jsr\.json says "0\.2\.0"/.test(p)));
    const text = syncDenoJson(target);
    assert.ok(text !== undefined);
    writeFileSync(join(target, "deno.json"), text);
    assert.deepEqual(checkManifests(target), []);
    const after = readJson(target, "deno.json");
    assert.equal(after.version, "0.2.0");
    assert.equal((after.exports as Json)["./extra"], "./mod.ts");
    assert.deepEqual(after.lint, before.lint, "deno.json's own settings stay");
    assert.deepEqual(Object.keys(after), Object.keys(before), "and its field order");
    assert.equal(syncDenoJson(target), undefined, "a second sync changes nothing");
  });
});
