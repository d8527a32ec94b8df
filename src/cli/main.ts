/**
 * The `agentpool` command-line dispatcher: `agentpool <command> [args]`. Each command is a module
 * exporting `main(argv): Promise<number>` (the exit code), loaded only when asked for; add one by
 * adding a line to {@linkcode COMMANDS}.
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";

/** A subcommand: what `agentpool help` says about it, and how to load it. */
export interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ main(argv: string[]): Promise<number> }>;
}

/**
 * Subcommand name → module. Other commands (stress, demo, …) add their line here.
 *
 * @example Adding a command
 * ```ts
 * // stress: { summary: "load-test a pool", load: () => import("./stress.ts") },
 * Object.keys(COMMANDS); // ["monitor", ...]
 * ```
 */
export const COMMANDS: Readonly<Record<string, Command>> = {
  monitor: { summary: "live view of a pool's agents and connections via its admin router", load: () => import("./monitor.ts") },
  stress: { summary: "run a team of agents against PostgreSQL and check the pool's criteria", load: () => import("./stress.ts") },
  demo: { summary: "embedded PostgreSQL + demo agents + the admin dashboard (what npm start runs)", load: () => import("./demo.ts") },
};

/**
 * `agentpool help` text.
 *
 * @example
 * ```ts
 * import { usage } from "./main.ts";
 * console.log(usage());
 * ```
 */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const list = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join("\n");
  return `Usage: agentpool <command> [options]\n\nCommands:\n${list}\n\nRun 'agentpool <command> --help' for a command's options.`;
}

/**
 * Runs the command named by `argv[0]`; resolves to the exit code (1 for an unknown command).
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * process.exitCode = await main(["monitor", "http://localhost:8787/pool", "--once"]);
 * ```
 */
export async function main(
  argv: string[],
  out: { write(text: string): unknown } = process.stdout,
  err: { write(text: string): unknown } = process.stderr,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    (name === undefined ? err : out).write(`${usage()}\n`);
    return name === undefined ? 1 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    err.write(`agentpool: unknown command '${name}'\n\n${usage()}\n`);
    return 1;
  }
  const module = await command.load();
  return await module.main(rest);
}

// Run directly too: `node --import tsx src/cli/main.ts …`, `deno run -A src/cli/main.ts …`, `bun src/cli/main.ts …`.
if ((import.meta as { main?: boolean }).main ?? process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
