/**
 * Test file discovery: every `*.test.ts` under `tests/`, sorted, relative to the repo root.
 *
 * Node 20 needs every file listed explicitly (a directory or glob finds 0 tests), so the
 * runner always passes the expanded list to all three runtimes.
 *
 * @module
 */
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";

const TEST_FILE = /\.test\.ts$/;

/**
 * Expand `paths` (files or directories; default `tests`) to sorted `*.test.ts` files relative to `root`.
 *
 * @throws {Error} when a path does not exist or a named file is not a `*.test.ts` file.
 */
export function findTestFiles(root: string, paths: string[]): string[] {
  const found = new Set<string>();
  for (const path of paths.length > 0 ? paths : ["tests"]) {
    const absolute = resolve(root, path);
    let isDirectory: boolean;
    try {
      isDirectory = statSync(absolute).isDirectory();
    } catch {
      throw new Error(`No such test file or directory: ${path}`);
    }
    if (!isDirectory) {
      if (!TEST_FILE.test(absolute)) throw new Error(`Not a test file (expected *.test.ts): ${path}`);
      found.add(toPosix(relative(root, absolute)));
      continue;
    }
    const entries = readdirSync(absolute, { recursive: true, encoding: "utf8" });
    for (const entry of entries) {
      if (TEST_FILE.test(entry) && !entry.split(sep).includes("node_modules")) {
        found.add(toPosix(relative(root, join(absolute, entry))));
      }
    }
  }
  return [...found].sort();
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}
