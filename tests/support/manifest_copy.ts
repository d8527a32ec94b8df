/**
 * Scratch copies of the three manifests (package.json, jsr.json, deno.json) with empty stand-ins
 * for the exported sources, for tests that break one manifest and read what the check says.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { entryPoints, ROOT } from "../../scripts/build.ts";
import { formatJson } from "../../scripts/check_manifests.ts";

/** A parsed manifest. */
export type Json = Record<string, unknown>;

/** `file` in `dir`, parsed. */
export function readJson(dir: string, file: string): Json {
  return JSON.parse(readFileSync(join(dir, file), "utf8")) as Json;
}

/** A new folder under `parent` holding the repository's manifests and a stub of every exported source. */
export function copyManifests(parent: string): string {
  const target = mkdtempSync(join(parent, "m-"));
  for (const file of ["package.json", "jsr.json", "deno.json"]) copyFileSync(join(ROOT, file), join(target, file));
  for (const { source } of entryPoints()) {
    mkdirSync(dirname(join(target, source)), { recursive: true });
    writeFileSync(join(target, source), "export {};\n");
  }
  return target;
}

/** Rewrites `file` in `target` after `change` edited its parsed content. */
export function editJson(target: string, file: string, change: (json: Json) => void): void {
  const json = readJson(target, file);
  change(json);
  writeFileSync(join(target, file), formatJson(json));
}
