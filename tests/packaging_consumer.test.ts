/**
 * The npm package as a user gets it: build into a staging copy, `npm pack`, install the tarball
 * into a throwaway project under the OS temp dir (offline-first from the npm cache), type-check a
 * TypeScript consumer against the shipped `.d.ts`, and run one program on Node, Deno and Bun.
 *
 * The repo's own `dist/` is never touched, so this can run beside a developer's build.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { build, ROOT } from "../scripts/build.ts";
import { binTargets, checkPackContents, exportTargets, type PackageManifest, type PackedFile } from "../scripts/check_pack.ts";

const run = promisify(execFile);
const FIXTURES = join(ROOT, "tests", "support", "consumer");
const NPM_TIMEOUT_MS = 240_000;

/** Run a command; on failure the assertion message carries its output. */
async function sh(file: string, args: string[], cwd: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout } = await run(file, args, {
      cwd,
      timeout,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, NO_COLOR: "1", npm_config_loglevel: "error", npm_config_fund: "false", npm_config_audit: "false" },
    });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

describe("packaging: the packed tarball in a throwaway project", () => {
  let work = "";
  let project = "";
  let tarball = "";
  let packed: PackedFile[] = [];
  let bins: string[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "agentpool-consumer-"));
    // Staging copy: package.json (+ README/LICENSE when present) and a fresh dist/.
    const staging = join(work, "staging");
    mkdirSync(staging);
    for (const file of ["package.json", "README.md", "LICENSE"]) {
      if (existsSync(join(ROOT, file))) copyFileSync(join(ROOT, file), join(staging, file));
    }
    // The `bin` launcher(s), which npm always packs.
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageManifest;
    bins = binTargets(manifest);
    for (const bin of bins) {
      mkdirSync(dirname(join(staging, bin)), { recursive: true });
      copyFileSync(join(ROOT, bin), join(staging, bin));
    }
    build(join(staging, "dist"));
    // --ignore-scripts: prepack would rebuild into the staging dir with the repo's tools.
    const json = await sh("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], staging);
    const [report] = JSON.parse(json) as { filename: string; files: PackedFile[] }[];
    tarball = join(work, report.filename);
    packed = report.files;

    project = join(work, "app");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "agentpool-consumer", private: true, type: "module" }, null, 2),
    );
    for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith(".fixture"))) {
      copyFileSync(join(FIXTURES, file), join(project, file.replace(/\.fixture$/, "")));
    }
    const dev = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> })
      .devDependencies;
    // hono: the optional peer of "agentpool/hono"; @types/node: postgres.js's own types need it.
    const extras = [`hono@${dev.hono}`, `@types/node@${dev["@types/node"]}`];
    await sh(
      "npm",
      ["install", tarball, ...extras, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"],
      project,
      NPM_TIMEOUT_MS,
    );
  });

  after(() => {
    if (work !== "") rmSync(work, { recursive: true, force: true });
  });

  it("ships only dist, README, LICENSE and package.json", () => {
    const problems = checkPackContents(
      packed,
      exportTargets(),
      (path) => readFileSync(join(work, "staging", path), "utf8"),
      JSON.parse(readFileSync(join(work, "staging", "package.json"), "utf8")) as PackageManifest,
    ).filter((p) => !/^(README\.md|LICENSE): missing/.test(p)); // the staging copy has what the repo has
    assert.deepEqual(problems, []);
    assert.ok(packed.some((f) => f.path === "dist/mod.js"));
    assert.ok(packed.some((f) => f.path === "dist/mod.d.ts"));
  });

  it("installs with postgres as its only runtime dependency", () => {
    const installed = JSON.parse(readFileSync(join(project, "node_modules", "agentpool", "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    assert.deepEqual(Object.keys(installed.dependencies ?? {}), ["postgres"]);
    assert.ok(existsSync(join(project, "node_modules", "postgres", "package.json")));
  });

  it("type-checks a TypeScript consumer against the shipped .d.ts (tsc, NodeNext)", async () => {
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          lib: ["ES2023", "ESNext.Disposable", "DOM"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          // Node's types only because postgres.js's declarations use Buffer and node:stream;
          // agentpool's own declarations never reference them (scripts/build.ts checks that).
          types: ["node"],
          skipLibCheck: false,
        },
        files: ["check.ts"],
      }),
    );
    // skipLibCheck false: the shipped declarations themselves must type-check.
    await sh(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", "."], project);
  });

  it("the build logs to stderr, so `npm pack --json` (which runs it as prepack) prints only JSON", async () => {
    const node = process.versions.bun || "Deno" in globalThis ? "node" : process.execPath;
    const { stdout, stderr } = await run(
      node,
      ["--import", "tsx", join(ROOT, "scripts", "build.ts"), "--out-dir", join(work, "dist-cli")],
      { cwd: ROOT, timeout: 120_000 },
    );
    assert.equal(stdout, "");
    assert.match(stderr, /^build: \d+ files in /m);
  });

  it("the package's command runs from the installed package (no tsx, no sources)", async () => {
    const node = process.versions.bun || "Deno" in globalThis ? "node" : process.execPath;
    assert.ok(bins.length > 0, "package.json has a 'bin'");
    for (const bin of bins) {
      const stdout = await sh(node, [join(project, "node_modules", "agentpool", bin), "--help"], project);
      assert.match(stdout, /Usage: agentpool/);
    }
  });

  const expected = { used: 2, agents: ["critic-2", "planner-1"], reused: true, closed: true };
  const runtimes: [string, string, string[]][] = [
    ["node", process.platform === "win32" ? "node.exe" : "node", ["main.mjs"]],
    ["deno", join(ROOT, "node_modules", ".bin", "deno"), ["run", "-A", "--quiet", "main.mjs"]],
    ["bun", join(ROOT, "node_modules", ".bin", "bun"), ["run", "main.mjs"]],
  ];
  for (const [name, file, args] of runtimes) {
    it(`runs the same program on ${name}`, async () => {
      // Under Deno and Bun, process.execPath is their binary: always use the real node here.
      const executable = name === "node" ? (process.versions.bun || "Deno" in globalThis ? "node" : process.execPath) : file;
      const stdout = await sh(executable, args, project);
      const line = stdout.trim().split("\n").at(-1) ?? "";
      assert.deepEqual(JSON.parse(line), { runtime: name, ...expected });
    });
  }
});
