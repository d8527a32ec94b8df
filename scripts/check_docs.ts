/**
 * `npm run check:docs`: every JSDoc `@example` in the package's sources type-checks, as a user
 * would write it.
 *
 * Runs `deno check --doc` on every entry point of `jsr.json` and on every other `.ts` file under
 * `src/` (examples on internal modules count too). Examples import the package by its npm name
 * (`agentpool`, `agentpool/hono`, ...): an import map made from `jsr.json`'s `exports` points those
 * names at the sources, so nothing is hand-listed twice. Exits with deno's status, after one line
 * per file with a failing example.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import process from "node:process";
import { entryPoints, ROOT } from "./build.ts";

/**
 * The import map that resolves the package's own specifiers (`agentpool`, `agentpool/hono`) to
 * its sources, from `package.json`'s name and `jsr.json`'s exports.
 *
 * @example
 * ```ts
 * import { selfImportMap } from "./check_docs.ts";
 * selfImportMap().imports["agentpool/hono"]; // "file:///…/src/admin/mod.ts"
 * ```
 */
export function selfImportMap(root: string = ROOT): { imports: Record<string, string> } {
  const { name } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string };
  const imports: Record<string, string> = {};
  for (const { subpath, source } of entryPoints(root)) {
    imports[subpath === "." ? name : `${name}/${subpath.slice(2)}`] = new URL(source, `file://${root}/`).href;
  }
  return { imports };
}

/**
 * The files whose examples are checked: the entry points first, then the rest of `src/`, sorted.
 *
 * @example
 * ```ts
 * import { documentedFiles } from "./check_docs.ts";
 * documentedFiles()[0]; // "mod.ts"
 * ```
 */
export function documentedFiles(root: string = ROOT): string[] {
  const entries = entryPoints(root).map((e) => e.source);
  const rest = (readdirSync(join(root, "src"), { recursive: true }) as string[])
    .filter((file) => file.endsWith(".ts"))
    .map((file) => join("src", file))
    .filter((file) => !entries.includes(file))
    .sort();
  return [...entries, ...rest];
}

/** The files `deno check` output names as failing (the source a `file.ts#12-20.ts` block came from). */
function failingFiles(output: string, root: string): string[] {
  // NO_COLOR is set for the run, so the output has no colour escapes.
  const plain = output;
  const files = new Set<string>();
  for (const m of plain.matchAll(/at (file:\/\/\/[^\s#:]+)(?:#[^\s:]*)?:\d+:\d+/g)) {
    files.add(relative(root, new URL(m[1]).pathname));
  }
  return [...files].sort();
}

if (process.argv[1]?.endsWith("check_docs.ts")) {
  const dir = mkdtempSync(join(tmpdir(), "agentpool-docs-"));
  try {
    const importMap = join(dir, "import_map.json");
    writeFileSync(importMap, JSON.stringify(selfImportMap()));
    const files = documentedFiles();
    const deno = join(ROOT, "node_modules", ".bin", "deno");
    const run = spawnSync(deno, ["check", "--doc", "--quiet", "--import-map", importMap, ...files], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    process.stdout.write(run.stdout);
    process.stderr.write(run.stderr);
    if (run.status !== 0) {
      const failing = failingFiles(`${run.stdout}\n${run.stderr}`, ROOT);
      console.error(`\ncheck:docs: examples that do not type-check, in ${failing.length} of ${files.length} files:`);
      for (const file of failing) console.error(`  - ${file}`);
      process.exit(run.status ?? 1);
    }
    console.log(`check:docs: ok — the JSDoc examples of ${files.length} files type-check`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
