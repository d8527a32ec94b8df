/**
 * `npm run check:manifests`: the three manifests describe one package.
 *
 * - `jsr.json` is the source of the registry fields (name, version, license, `exports` of the
 *   `.ts` sources, `publish`): `deno.json` carries a copy of every one of them next to its own
 *   settings (lint, compilerOptions, ...). `npm run check:manifests -- --write` writes that copy
 *   after an edit of `jsr.json`; the check reports any field where the copy differs.
 * - `package.json` has the same version and the same subpaths; each npm export has `types` and
 *   `import` conditions pointing at the build output of the matching source (see `scripts/build.ts`),
 *   `main`/`types` match `"."`, and `files` ships `dist/`.
 * - every exported source file exists.
 *
 * Exits 1 and prints one line per disagreement; prints a one-line summary and exits 0 otherwise.
 *
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { distPath, ROOT } from "./build.ts";

type Json = Record<string, unknown>;

function readJson(root: string, file: string, problems: string[]): Json | undefined {
  const path = join(root, file);
  if (!existsSync(path)) {
    problems.push(`${file}: missing`);
    return undefined;
  }
  try {
    const value = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value as Json;
  } catch (error) {
    problems.push(`${file}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    return undefined;
  }
}

/** `exports` as a subpath → value map; a bare string export is `"."`. */
function exportMap(manifest: Json): Record<string, unknown> {
  const exports = manifest.exports;
  if (typeof exports === "string") return { ".": exports };
  if (exports === null || typeof exports !== "object" || Array.isArray(exports)) return {};
  return exports as Record<string, unknown>;
}

function sameKeys(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((k) => b.includes(k));
}

const show = (value: unknown): string => JSON.stringify(value) ?? "undefined";

/**
 * Compare `package.json`, `jsr.json` and `deno.json` in `root`.
 *
 * @returns one message per disagreement; empty when they agree.
 */
export function checkManifests(root: string = ROOT): string[] {
  const problems: string[] = [];
  const pkg = readJson(root, "package.json", problems);
  const jsr = readJson(root, "jsr.json", problems);
  const deno = readJson(root, "deno.json", problems);
  if (pkg === undefined || jsr === undefined || deno === undefined) return problems;

  // JSR side: jsr.json is the source; deno.json must carry the same value for each of its fields.
  for (const field of ["name", "version"] as const) {
    if (typeof jsr[field] !== "string" || jsr[field] === "") problems.push(`jsr.json: '${field}' is missing`);
  }
  const jsrExports = exportMap(jsr);
  const denoExports = exportMap(deno);
  const jsrSubpaths = Object.keys(jsrExports);
  if (jsrSubpaths.length === 0) problems.push("jsr.json: 'exports' is missing or empty");
  if (!jsrSubpaths.includes(".")) problems.push(`jsr.json: 'exports' has no "." entry`);
  const copyProblems: string[] = [];
  for (const field of Object.keys(jsr)) {
    if (field === "exports") continue;
    if (show(deno[field]) !== show(jsr[field])) {
      copyProblems.push(`deno.json '${field}' is ${show(deno[field])} but jsr.json says ${show(jsr[field])}`);
    }
  }
  if (!sameKeys(jsrSubpaths, Object.keys(denoExports))) {
    copyProblems.push(`deno.json exports ${show(Object.keys(denoExports))} but jsr.json exports ${show(jsrSubpaths)}`);
  }
  for (const [subpath, source] of Object.entries(jsrExports)) {
    if (subpath in denoExports && denoExports[subpath] !== source) {
      copyProblems.push(`export ${subpath}: deno.json says ${show(denoExports[subpath])}, jsr.json says ${show(source)}`);
    }
  }
  if (copyProblems.length > 0) {
    copyProblems[copyProblems.length - 1] += ` (jsr.json is the source: run "npm run check:manifests -- --write" to copy it into deno.json)`;
    problems.push(...copyProblems);
  }
  for (const [subpath, source] of Object.entries(jsrExports)) {
    if (typeof source !== "string" || !source.endsWith(".ts")) {
      problems.push(`jsr.json export ${subpath} must be a .ts source path: current value is ${show(source)}`);
      continue;
    }
    if (!existsSync(join(root, source))) problems.push(`jsr.json export ${subpath} → ${source} does not exist`);
  }

  // npm side: the same package name (JSR adds a scope), same version, same subpaths, pointing at the build output.
  if (typeof jsr.name === "string" && typeof pkg.name === "string" && !jsr.name.endsWith(`/${pkg.name}`)) {
    problems.push(`jsr.json 'name' is ${show(jsr.name)}; expected "@<scope>/${pkg.name}" to match package.json`);
  }
  if (pkg.version !== jsr.version) {
    problems.push(`package.json 'version' is ${show(pkg.version)} but jsr.json says ${show(jsr.version)}`);
  }
  const pkgExports = exportMap(pkg);
  const pkgSubpaths = Object.keys(pkgExports).filter((k) => k !== "./package.json");
  if (!sameKeys(pkgSubpaths, jsrSubpaths)) {
    const missing = jsrSubpaths.filter((k) => !pkgSubpaths.includes(k));
    const extra = pkgSubpaths.filter((k) => !jsrSubpaths.includes(k));
    problems.push(
      `package.json exports ${show(pkgSubpaths)} but jsr.json exports ${show(jsrSubpaths)}` +
        (missing.length > 0 ? `; missing on npm: ${missing.join(", ")}` : "") +
        (extra.length > 0 ? `; only on npm: ${extra.join(", ")}` : ""),
    );
  }
  for (const [subpath, source] of Object.entries(jsrExports)) {
    if (typeof source !== "string" || !(subpath in pkgExports)) continue;
    const target = pkgExports[subpath];
    const want = { types: distPath(source, "types"), import: distPath(source, "import") };
    if (target === null || typeof target !== "object" || Array.isArray(target)) {
      problems.push(`package.json export ${subpath} must be ${show(want)}: current value is ${show(target)}`);
      continue;
    }
    const conditions = target as Record<string, unknown>;
    for (const condition of ["types", "import"] as const) {
      if (conditions[condition] !== want[condition]) {
        problems.push(
          `package.json export ${subpath} '${condition}' is ${show(conditions[condition])}; ` +
            `the build of ${source} is ${want[condition]}`,
        );
      }
    }
    if (Object.keys(conditions)[0] !== "types") {
      problems.push(`package.json export ${subpath}: 'types' must be the first condition`);
    }
  }
  const main = jsrExports["."];
  if (typeof main === "string") {
    if (pkg.main !== undefined && pkg.main !== distPath(main, "import")) {
      problems.push(`package.json 'main' is ${show(pkg.main)}; the "." export is ${distPath(main, "import")}`);
    }
    if (pkg.types !== undefined && pkg.types !== distPath(main, "types")) {
      problems.push(`package.json 'types' is ${show(pkg.types)}; the "." export is ${distPath(main, "types")}`);
    }
  }
  const files = pkg.files;
  if (!Array.isArray(files) || !files.some((f) => typeof f === "string" && /^(\.\/)?dist\/?(\*\*)?$/.test(f))) {
    problems.push(`package.json 'files' must list "dist/": current value is ${show(files)}`);
  }
  return problems;
}

/** JSON as the repository writes it: two-space indent, short lists of scalars on one line. */
export function formatJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2);
  return `${
    text.replace(/\[\n(\s+)((?:"[^"\n]*"|[\d.eE+-]+|true|false|null)(?:,\n\s+(?:"[^"\n]*"|[\d.eE+-]+|true|false|null))*)\n\s*\]/g, (all, _indent, items: string) => {
      const inline = `[${items.split(/,\n\s+/).join(", ")}]`;
      return inline.length <= 80 ? inline : all;
    })
  }\n`;
}

/**
 * `deno.json` with every field of `jsr.json` copied in (its own fields kept, in their order).
 *
 * @returns the new text of `deno.json`, or undefined when it already carries the copy.
 */
export function syncDenoJson(root: string = ROOT): string | undefined {
  const jsr = JSON.parse(readFileSync(join(root, "jsr.json"), "utf8")) as Json;
  const current = readFileSync(join(root, "deno.json"), "utf8");
  const deno = JSON.parse(current) as Json;
  const synced: Json = {};
  for (const field of Object.keys(jsr)) if (!(field in deno)) synced[field] = jsr[field];
  for (const [field, value] of Object.entries(deno)) synced[field] = field in jsr ? jsr[field] : value;
  const text = formatJson(synced);
  return show(synced) === show(deno) ? undefined : text;
}

if (process.argv[1]?.endsWith("check_manifests.ts")) {
  if (process.argv.includes("--write")) {
    const text = syncDenoJson();
    if (text !== undefined) writeFileSync(join(ROOT, "deno.json"), text);
    console.log(text === undefined ? "check:manifests: deno.json already carries jsr.json's fields" : "check:manifests: copied jsr.json's fields into deno.json");
  }
  const problems = checkManifests();
  if (problems.length > 0) {
    console.error(`check:manifests: package.json, jsr.json and deno.json disagree (${problems.length}):`);
    for (const problem of problems) console.error(`  - ${problem}`);
    process.exit(1);
  }
  const jsr = JSON.parse(readFileSync(join(ROOT, "jsr.json"), "utf8")) as Json;
  console.log(
    `check:manifests: ok — ${show(jsr.name)} (JSR) / ${show(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).name)} (npm) ${String(jsr.version)}, ` +
      `exports ${Object.keys(exportMap(jsr)).join(", ")}`,
  );
}
