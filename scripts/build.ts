/**
 * `npm run build`: compile the package's entry points to JavaScript + `.d.ts` for npm.
 *
 * The entry points are the values of `jsr.json`'s `exports` (the `.ts` sources Deno and JSR
 * users import). Each is compiled with the repo's TypeScript 7 `tsc` and
 * `--rewriteRelativeImportExtensions`, so `./src/core/mod.ts` imports become `./src/core/mod.js`.
 * The output keeps the source layout: `mod.ts` → `dist/mod.js` + `dist/mod.d.ts`,
 * `src/admin/mod.ts` → `dist/src/admin/mod.js`, ... `package.json`'s `exports` point there
 * (`scripts/check_manifests.ts` checks that they do).
 *
 * Usage: `node --import tsx scripts/build.ts [--out-dir DIR]` (default `dist`, relative to the
 * repo root; the directory is emptied first). Exits 1 with the compiler's messages on errors.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** A package entry point: its subpath (`"."`, `"./hono"`) and its source relative to the root. */
export interface Entry {
  subpath: string;
  source: string;
}

/** The entry points, read from `jsr.json`'s `exports` (a string export means `"."`). */
export function entryPoints(root: string = ROOT): Entry[] {
  const jsr = JSON.parse(readFileSync(join(root, "jsr.json"), "utf8")) as { exports?: unknown };
  const exports = typeof jsr.exports === "string" ? { ".": jsr.exports } : jsr.exports;
  if (exports === null || typeof exports !== "object") throw new Error("jsr.json has no 'exports'");
  return Object.entries(exports as Record<string, unknown>).map(([subpath, source]) => {
    if (typeof source !== "string") throw new Error(`jsr.json export ${subpath} is not a path string`);
    return { subpath, source: source.replace(/^\.\//, "") };
  });
}

/**
 * Sources compiled too although no subpath exports them: the command-line tool, so an installed
 * package's `bin` launcher can run `dist/src/cli/main.js` without tsx. Skipped when absent.
 */
export const INTERNAL_ENTRIES: readonly string[] = ["src/cli/main.ts"];

/** `src/admin/mod.ts` → `./dist/src/admin/mod.js` (or `.d.ts` with `kind` "types"). */
export function distPath(source: string, kind: "import" | "types", outDir = "dist"): string {
  const base = source.replace(/^\.\//, "").replace(/\.ts$/, "");
  return `./${outDir}/${base}${kind === "types" ? ".d.ts" : ".js"}`;
}

/** The compiler options of the npm build (the rest of the type checking is `tsconfig.json`'s). */
function buildConfig(root: string, outDir: string, entries: Entry[]): unknown {
  return {
    compilerOptions: {
      target: "ES2023",
      lib: ["ES2023", "ESNext.Disposable", "DOM"],
      module: "NodeNext",
      moduleResolution: "NodeNext",
      allowImportingTsExtensions: true,
      rewriteRelativeImportExtensions: true,
      declaration: true,
      strict: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      noImplicitOverride: true,
      skipLibCheck: true,
      // The published code is web-standard; Node's types only resolve the few `node:` imports
      // outside the core, and never leak into the emitted declarations (checked below).
      types: ["node"],
      typeRoots: [join(root, "node_modules", "@types")],
      rootDir: root,
      outDir,
      newLine: "lf",
      removeComments: false,
    },
    files: [
      ...entries.map((e) => join(root, e.source)),
      ...INTERNAL_ENTRIES.filter((source) => existsSync(join(root, source))).map((source) => join(root, source)),
    ],
  };
}

/** `from "./x.ts"`, `import("../y.ts")`: relative specifiers ending in `.ts` (not `.d.ts`). */
const RELATIVE_TS_SPECIFIER = /((?:from\s+|import\s*\(\s*)["'])(\.{1,2}\/[^"']*?)(?<!\.d)\.ts(["'])/g;

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /\.(js|d\.ts)$/.test(f));
}

/**
 * Compile every entry point into `outDir` (absolute, or relative to `root`), emptied first.
 *
 * @returns the emitted files, relative to `outDir`.
 * @throws {Error} with the compiler output when `tsc` fails or an entry is missing.
 */
export function build(outDir: string = "dist", root: string = ROOT): string[] {
  const out = resolve(root, outDir);
  const entries = entryPoints(root);
  for (const entry of entries) {
    if (!existsSync(join(root, entry.source))) {
      throw new Error(`Entry point ${entry.subpath} → ${entry.source} does not exist`);
    }
  }
  rmSync(out, { recursive: true, force: true });
  const configDir = mkdtempSync(join(tmpdir(), "agentpool-build-"));
  try {
    const config = join(configDir, "tsconfig.build.json");
    writeFileSync(config, JSON.stringify(buildConfig(root, out, entries), null, 2));
    const tsc = join(root, "node_modules", ".bin", "tsc");
    const result = spawnSync(tsc, ["-p", config], { cwd: root, encoding: "utf8" });
    if (result.error) throw new Error(`Cannot run ${tsc}: ${result.error.message}`);
    if (result.status !== 0) {
      throw new Error(`tsc failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
    }
  } finally {
    rmSync(configDir, { recursive: true, force: true });
  }
  const files = listFiles(out);
  // tsc rewrites `.ts` in the emitted JavaScript but keeps it in declarations; rewrite those too so
  // every TypeScript consumer (any moduleResolution) resolves `./x.js` → `./x.d.ts`.
  for (const file of files.filter((f) => f.endsWith(".d.ts"))) {
    const path = join(out, file);
    const text = readFileSync(path, "utf8");
    const rewritten = text.replace(RELATIVE_TS_SPECIFIER, (_m, head: string, spec: string, quote: string) => `${head}${spec}.js${quote}`);
    if (rewritten !== text) writeFileSync(path, rewritten);
  }
  for (const entry of entries) {
    for (const kind of ["import", "types"] as const) {
      const file = resolve(root, distPath(entry.source, kind, relative(root, out)));
      if (!existsSync(file)) throw new Error(`Build did not emit ${relative(root, file)} for ${entry.subpath}`);
    }
  }
  // The package must not depend on the consumer having Node's types, or on TypeScript sources.
  for (const file of files) {
    const text = readFileSync(join(out, file), "utf8");
    if (file.endsWith(".d.ts") && /reference types="node"/.test(text)) {
      throw new Error(`${file} references Node's types; consumers on Deno/Bun/edge would need @types/node`);
    }
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, ""); // examples in docs may say .ts
    if (new RegExp(RELATIVE_TS_SPECIFIER.source).test(code)) {
      throw new Error(`${file} still imports a .ts file (rewriteRelativeImportExtensions did not apply)`);
    }
  }
  return files;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("scripts/build.ts")) {
  const i = process.argv.indexOf("--out-dir");
  const outDir = i >= 0 ? process.argv[i + 1] : "dist";
  if (outDir === undefined || outDir === "") {
    console.error("Usage: build.ts [--out-dir DIR]");
    process.exit(2);
  }
  try {
    const started = performance.now();
    const files = build(outDir);
    const ms = Math.round(performance.now() - started);
    // stderr: `npm pack --json` runs this as prepack, and its stdout must be the JSON alone.
    console.error(`build: ${files.length} files in ${outDir}/ (${entryPoints().map((e) => e.subpath).join(", ")}) in ${ms} ms`);
  } catch (error) {
    console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
