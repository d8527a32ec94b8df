#!/usr/bin/env node
// The `agentpool` command. In this repo it runs the TypeScript CLI through tsx; installed from npm
// (no src/ in the package) it runs the compiled CLI in dist/ (scripts/build.ts compiles src/cli/main.ts).
import { existsSync } from "node:fs";
import process from "node:process";

const source = new URL("../src/cli/main.ts", import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(new URL("../dist/src/cli/main.js", import.meta.url).href));
}
process.exitCode = await main(process.argv.slice(2));
