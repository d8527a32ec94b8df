/**
 * The core stays runtime-neutral and driver-agnostic: no `node:*`, no `Deno.`/`Bun.`, no bare
 * packages (postgres, hono, ...), nothing imported from outside src/core/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const CORE = fileURLToPath(new URL("../src/core/", import.meta.url));

/** Every module specifier in `source`: static and dynamic imports, re-exports, `import type`. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*["']([^"']+)["']/g, // import x from "y", export * from "y"
    /\bimport\s*["']([^"']+)["']/g, // import "y"
    /\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g, // import("y")
    /\brequire\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g, // require("y")
  ];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) found.push(m[1]);
  return found;
}

/** Source with comments removed, so a doc example mentioning `Deno.env` does not count. */
function code(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** Problems of one file (a path relative to src/core), as messages. */
function problems(file: string, source: string): string[] {
  const out: string[] = [];
  const body = code(source);
  for (const spec of specifiers(body)) {
    if (spec.startsWith("node:")) out.push(`${file} imports ${spec}`);
    else if (!spec.startsWith("./") && !spec.startsWith("../")) out.push(`${file} imports "${spec}" (a package or URL)`);
    else {
      const target = relative(CORE, resolve(CORE, dirname(file), spec));
      if (target.startsWith("..") || target.includes(`..${sep}`)) out.push(`${file} imports "${spec}" (outside src/core)`);
    }
  }
  for (const [pattern, what] of [
    [/\bDeno\s*\./, "Deno."],
    [/\bBun\s*\./, "Bun."],
    [/\bprocess\s*\./, "process."],
    [/\b(?:require|__dirname|__filename|Buffer)\b/, "a Node global"],
    [/\bglobalThis\s*\.\s*(?:Deno|Bun|process)\b/, "a runtime global"],
  ] as const) {
    if (pattern.test(body)) out.push(`${file} references ${what}`);
  }
  return out;
}

test("core purity: the checker itself catches each kind of violation", () => {
  const bad: Record<string, string> = {
    a: `import { readFile } from "node:fs";`,
    b: `import postgres from "postgres";`,
    c: `import { Hono } from "hono";`,
    d: `import { x } from "../postgres/factory.ts";`,
    e: `export * from "../../mod.ts";`,
    f: `const env = Deno.env.get("X");`,
    g: `const v = Bun.version;`,
    h: `const m = await import("node:crypto");`,
    i: `import type { Sql } from "postgres";`,
    j: `import "https://deno.land/x/y.ts";`,
    k: `const p = process.env.X;`,
  };
  for (const [name, source] of Object.entries(bad)) {
    assert.ok(problems(name, source).length > 0, `not caught: ${source}`);
  }
  const good = `/** Example: Deno.env.get("X"); import x from "node:fs" */\nimport type { Clock } from "./clock.ts";\n// Bun.sleep(1)\nexport { a } from "./a.ts";\nconst url = "https://example.com"; // comment`;
  assert.deepEqual(problems("good.ts", good), []);
  assert.deepEqual(problems(join("sub", "x.ts"), `import { y } from "../pool.ts";`), [], "a subfolder may import core files");
  assert.equal(problems(join("sub", "x.ts"), `import { y } from "../../mod.ts";`).length, 1);
});

test("core purity: src/core imports only web-standard APIs and its own files", () => {
  const files = (readdirSync(CORE, { recursive: true }) as string[]).filter((f) => /\.[cm]?[jt]sx?$/.test(f));
  assert.ok(files.includes("pool.ts") && files.includes("mod.ts"), `found ${files}`);
  const found: string[] = [];
  for (const file of files) found.push(...problems(file, readFileSync(join(CORE, file), "utf8")));
  assert.deepEqual(found, []);
});
