/**
 * The manifest and pack checks used by CI: package.json, jsr.json and deno.json agree (and the
 * check fails loudly when they do not), and the pack check refuses tests, sources and secrets.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { entryPoints, ROOT } from "../scripts/build.ts";
import { checkManifests } from "../scripts/check_manifests.ts";
import { checkPackContents, findSecrets } from "../scripts/check_pack.ts";

type Json = Record<string, unknown>;
const readJson = (dir: string, file: string): Json => JSON.parse(readFileSync(join(dir, file), "utf8")) as Json;

describe("packaging: manifests agree", () => {
  let dir = "";

  /** A copy of the three manifests plus empty stand-ins for the exported sources. */
  const copy = (): string => {
    const target = mkdtempSync(join(dir, "m-"));
    for (const file of ["package.json", "jsr.json", "deno.json"]) copyFileSync(join(ROOT, file), join(target, file));
    for (const { source } of entryPoints()) {
      mkdirSync(dirname(join(target, source)), { recursive: true });
      writeFileSync(join(target, source), "export {};\n");
    }
    return target;
  };
  const edit = (target: string, file: string, change: (json: Json) => void): void => {
    const json = readJson(target, file);
    change(json);
    writeFileSync(join(target, file), JSON.stringify(json, null, 2));
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "agentpool-manifests-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the repository's package.json, jsr.json and deno.json agree", () => {
    assert.deepEqual(checkManifests(ROOT), []);
    const pkg = readJson(ROOT, "package.json");
    const jsr = readJson(ROOT, "jsr.json");
    assert.equal(pkg.version, jsr.version);
    assert.ok(Object.keys(jsr.exports as Json).includes("./hono"), "the admin router is the ./hono subpath");
  });

  it("reports a version mismatch", () => {
    const target = copy();
    edit(target, "package.json", (p) => void (p.version = "9.9.9"));
    const problems = checkManifests(target);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /package\.json 'version' is "9\.9\.9" but jsr\.json says/);
  });

  it("reports a JSR name that is not the npm name under a scope", () => {
    const target = copy();
    edit(target, "jsr.json", (j) => void (j.name = "@agentpool/other"));
    edit(target, "deno.json", (d) => void (d.name = "@agentpool/other"));
    assert.match(checkManifests(target).join("\n"), /jsr\.json 'name' is "@agentpool\/other"; expected "@<scope>\/agentpool"/);
  });

  it("reports a subpath that only one registry has", () => {
    const target = copy();
    edit(target, "jsr.json", (j) => void ((j.exports as Json)["./extra"] = "./mod.ts"));
    const problems = checkManifests(target).join("\n");
    assert.match(problems, /missing on npm: \.\/extra/);
    assert.match(problems, /deno\.json exports .* but jsr\.json exports/);
  });

  it("reports an npm export that does not point at the build of its source", () => {
    const target = copy();
    edit(target, "package.json", (p) => void ((p.exports as Json)["."] = { types: "./dist/mod.d.ts", import: "./mod.ts" }));
    assert.match(checkManifests(target).join("\n"), /export \. 'import' is "\.\/mod\.ts"; the build of \.\/mod\.ts is \.\/dist\/mod\.js/);
  });

  it("reports an exported source that does not exist", () => {
    const target = copy();
    rmSync(join(target, "mod.ts"));
    assert.match(checkManifests(target).join("\n"), /jsr\.json export \. → \.\/mod\.ts does not exist/);
  });

  it("the command exits 1 with a clear message on disagreement", async () => {
    const target = copy();
    edit(target, "deno.json", (d) => void (d.version = "0.0.0-other"));
    const script = join(ROOT, "scripts", "check_manifests.ts");
    // Run the real script against the copy by importing it with a different root.
    const program = `import { checkManifests } from ${JSON.stringify(script)};
      const p = checkManifests(${JSON.stringify(target)}); if (p.length) { console.error(p.join("\\n")); process.exit(1); }`;
    const node = process.versions.bun || "Deno" in globalThis ? "node" : process.execPath;
    await assert.rejects(
      promisify(execFile)(node, ["--import", "tsx", "--input-type=module", "-e", program], { cwd: ROOT }),
      (error: { code?: number; stderr?: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr ?? "", /deno\.json 'version' is "0\.0\.0-other" but jsr\.json says/);
        return true;
      },
    );
  });
});

describe("packaging: pack contents", () => {
  const good = [
    { path: "package.json", size: 1 },
    { path: "README.md", size: 1 },
    { path: "LICENSE", size: 1 },
    { path: "dist/mod.js", size: 1 },
    { path: "dist/mod.d.ts", size: 1 },
  ];
  const clean = (): string => "export {};";

  it("accepts dist, README, LICENSE and package.json", () => {
    assert.deepEqual(checkPackContents(good, ["dist/mod.js", "dist/mod.d.ts"], clean), []);
  });

  it("refuses tests, benchmark results, CI files, sources and env files", () => {
    const files = [
      ...good,
      { path: "tests/smoke.test.ts", size: 1 },
      { path: "benchmarks/results/run.json", size: 1 },
      { path: ".ci/run", size: 1 },
      { path: "src/core/pool.ts", size: 1 },
      { path: ".env", size: 1 },
      { path: "notes.txt", size: 1 },
    ];
    const problems = checkPackContents(files, [], clean).join("\n");
    assert.match(problems, /tests\/smoke\.test\.ts: a test file/);
    assert.match(problems, /benchmarks\/results\/run\.json: a benchmark/);
    assert.match(problems, /\.ci\/run: CI configuration/);
    assert.match(problems, /src\/core\/pool\.ts: a TypeScript source/);
    assert.match(problems, /\.env: an environment file/);
    assert.match(problems, /notes\.txt: not allowed/);
  });

  it("requires README, LICENSE and every export target", () => {
    const problems = checkPackContents([good[0], good[3]], ["dist/mod.js", "dist/mod.d.ts"], clean).join("\n");
    assert.match(problems, /README\.md: missing/);
    assert.match(problems, /LICENSE: missing/);
    assert.match(problems, /dist\/mod\.d\.ts: missing/);
  });

  it("finds database URLs with passwords, masked, and lets placeholders through", () => {
    const leaked = findSecrets('const url = "postgres://app:hunter2@db.internal:5432/main";');
    assert.deepEqual(leaked, ["postgres://app:<7 chars>@"]);
    assert.ok(!leaked.join("").includes("hunter2"));
    assert.deepEqual(findSecrets("postgres://app:***@db/main postgresql://u:secret@h/d ${user}:${pass}"), []);
    assert.deepEqual(findSecrets("postgres://postgres@127.0.0.1:5432/postgres"), []);
    assert.deepEqual(findSecrets("-----BEGIN RSA PRIVATE KEY-----"), ["a PEM private key"]);
    const problems = checkPackContents(good, [], (p) => (p === "dist/mod.js" ? "postgresql://root:toor@x/y" : ""));
    assert.deepEqual(problems, ["dist/mod.js: contains a secret (postgresql://root:<4 chars>@)"]);
  });

  it("allows the 'bin' launcher only when it runs from the package", () => {
    const files = [...good, { path: "bin/cli.mjs", size: 1 }];
    const manifest = { bin: { cli: "./bin/cli.mjs" }, dependencies: { postgres: "^3" } };
    const launcher = (text: string) => (p: string) => (p === "bin/cli.mjs" ? text : "");
    const ok = 'import process from "node:process";\nimport postgres from "postgres";\nimport { main } from "../dist/mod.js";';
    assert.deepEqual(checkPackContents(files, [], launcher(ok), manifest), []);
    const broken = 'import { register } from "tsx/esm/api";\nimport { main } from "../src/cli/main.ts";';
    const problems = checkPackContents(files, [], launcher(broken), manifest).join("\n");
    assert.match(problems, /imports 'tsx\/esm\/api', but 'tsx' is not a dependency/);
    assert.match(problems, /imports \.\.\/src\/cli\/main\.ts, which is not in the package/);
    // Without a 'bin' field the same file is simply not allowed.
    assert.match(checkPackContents(files, [], launcher(ok)).join("\n"), /bin\/cli\.mjs: not allowed/);
  });
});
