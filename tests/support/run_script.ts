/**
 * Runs a TypeScript entry point of this repository as a child process on the runtime running the
 * test (Node through tsx, Deno, Bun) and collects its exit code and output.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeId } from "../../src/cli/runtime_info.ts";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../..", import.meta.url));

/** What a finished child printed and how it exited. */
export interface ScriptResult {
  code: number | null;
  /** The signal that ended the child, when one did (then `code` is null). */
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` (a path from the repository root) with `args`; `env` is added to this process's.
 * `v8Flags` go to V8 on Node and Deno (Bun has no V8 and ignores them).
 *
 * @example
 * ```ts
 * const { code, stderr } = await runScript("src/cli/main.ts", ["stress", "--agents", "many"]);
 * ```
 */
export function runScript(script: string, args: string[], env: Record<string, string> = {}, v8Flags: string[] = []): Promise<ScriptResult> {
  const file = join(ROOT, script);
  const deno = v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(",")}`] : [];
  const argv = runtimeId() === "deno"
    ? ["run", "-A", ...deno, file, ...args]
    : runtimeId() === "bun"
    ? [file, ...args]
    : [...v8Flags, "--import", "tsx", file, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
