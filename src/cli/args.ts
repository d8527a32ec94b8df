/**
 * One command-line parser for every `agentpool` subcommand and benchmark script: `node:util`
 * `parseArgs` (on Node, Deno and Bun) for the tokens, plus typed value checks, so every command
 * reports bad input the same way — a {@linkcode UsageError} naming the flag and the value:
 *
 * - `Unknown option "--frobnicate" (see 'agentpool stress --help')`
 * - `Missing value for --max`
 * - `Invalid value for --agents: "0" (expected an integer >= 1)`
 *
 * `--flag value` and `--flag=value` both work; a negative number is a value (`--overflow -1` is
 * checked as a value, not taken for an option).
 *
 * @module
 */

import { parseArgs } from "node:util";

/**
 * A bad command line: the caller prints the message and exits 2 (`agentpool monitor`: 1).
 *
 * @example
 * ```ts
 * import { UsageError } from "./args.ts";
 * throw new UsageError('Invalid value for --agents: "0" (expected an integer >= 1)');
 * ```
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * How one option is read: a flag (boolean) or a value checked by `parse`.
 *
 * @example
 * ```ts
 * import { type OptionSpec, valueOption, integer } from "./args.ts";
 * const agents: OptionSpec<number> = valueOption(integer(1));
 * ```
 */
export interface OptionSpec<T> {
  readonly kind: "flag" | "value";
  /** One-letter alias, e.g. `h` for `-h`. */
  readonly short?: string;
  /** May be given several times (values are collected in order). */
  readonly multiple?: boolean;
  /** Checks and converts a value; throws {@linkcode UsageError} naming `flag`. */
  readonly parse: (flag: string, raw: string) => T;
}

/** What {@linkcode parseCommandLine} returns for a spec: each option's value, undefined when absent. */
export type ParsedOptions<S> = {
  [K in keyof S]: S[K] extends OptionSpec<infer T> ? (S[K] extends { multiple: true } ? T[] : T) | undefined : never;
};

/**
 * A boolean flag (`--json`, `-h`); `--json=x` is refused.
 *
 * @example
 * ```ts
 * import { flagOption } from "./args.ts";
 * const spec = { json: flagOption(), help: flagOption("h") };
 * ```
 */
export function flagOption(short?: string): OptionSpec<boolean> {
  return { kind: "flag", ...(short === undefined ? {} : { short }), parse: () => true };
}

/**
 * An option with a value checked by `parse` (see {@linkcode integer}, {@linkcode number}, …).
 *
 * @example
 * ```ts
 * import { integer, valueOption } from "./args.ts";
 * const spec = { agents: valueOption(integer(1)) };
 * ```
 */
export function valueOption<T>(parse: (flag: string, raw: string) => T, options: { short?: string } = {}): OptionSpec<T> {
  return { kind: "value", ...options, parse };
}

/**
 * An option that may be repeated; comma-separated values count as several (`--peer a,b --peer c`).
 *
 * @example
 * ```ts
 * import { listOption, oneOf } from "./args.ts";
 * const spec = { peer: listOption(oneOf(["pg-pool", "postgres.js"])) };
 * ```
 */
export function listOption<T>(parse: (flag: string, raw: string) => T, options: { short?: string } = {}): OptionSpec<T> & { multiple: true } {
  return { kind: "value", multiple: true, ...options, parse };
}

function invalid(flag: string, raw: string, expected: string): UsageError {
  return new UsageError(`Invalid value for ${flag}: ${JSON.stringify(raw)} (expected ${expected})`);
}

/**
 * An integer `>= min` (and `<= max` when given).
 *
 * @example
 * ```ts
 * import { integer } from "./args.ts";
 * integer(1)("--agents", "50"); // 50
 * ```
 */
export function integer(min: number, max = Infinity): (flag: string, raw: string) => number {
  return (flag, raw) => {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(flag, raw, max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`);
    }
    return value;
  };
}

/**
 * A TCP port, 0-65535 (0: any free port).
 *
 * @example
 * ```ts
 * import { port } from "./args.ts";
 * port("--port", "8080"); // 8080
 * ```
 */
export function port(flag: string, raw: string): number {
  const value = integer(0)(flag, raw);
  if (value > 65535) throw new UsageError(`Invalid value for ${flag}: ${value} (expected a port number, 0-65535)`);
  return value;
}

/**
 * A finite number `> 0` (`"positive"`), `>= 0` (`"non-negative"`), or in `(0, 1]` (`"fraction"`).
 *
 * @example
 * ```ts
 * import { number } from "./args.ts";
 * number("positive")("--duration", "2.5"); // 2.5
 * ```
 */
export function number(kind: "positive" | "non-negative" | "fraction"): (flag: string, raw: string) => number {
  return (flag, raw) => {
    const value = Number(raw);
    const ok = raw.trim() !== "" && Number.isFinite(value) &&
      (kind === "non-negative" ? value >= 0 : value > 0) && (kind !== "fraction" || value <= 1);
    if (!ok) throw invalid(flag, raw, kind === "positive" ? "a positive number" : kind === "fraction" ? "a number in (0, 1]" : "a number >= 0");
    return value;
  };
}

/**
 * `MIN-MAX` (or one number) of milliseconds, as `[min, max]`.
 *
 * @example
 * ```ts
 * import { msRange } from "./args.ts";
 * msRange("--think", "10-40"); // [10, 40]
 * ```
 */
export function msRange(flag: string, raw: string): [number, number] {
  const match = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(raw.trim());
  const lo = match ? Number(match[1]) : NaN;
  const hi = match ? Number(match[2] ?? match[1]) : NaN;
  if (!match || lo > hi) throw invalid(flag, raw, "MIN-MAX milliseconds, e.g. 5-25");
  return [lo, hi];
}

/**
 * One of `names`.
 *
 * @example
 * ```ts
 * import { oneOf } from "./args.ts";
 * oneOf(["cpu", "wall"])("--clock", "cpu"); // "cpu"
 * ```
 */
export function oneOf<T extends string>(names: readonly T[]): (flag: string, raw: string) => T {
  return (flag, raw) => {
    if (!(names as readonly string[]).includes(raw)) throw invalid(flag, raw, `one of ${names.join(", ")}`);
    return raw as T;
  };
}

/**
 * A `postgres:` / `postgresql:` URL. The message names the flag but never echoes the value (it
 * may carry a password).
 *
 * @example
 * ```ts
 * import { postgresUrl } from "./args.ts";
 * postgresUrl("--database-url", "postgres://postgres@127.0.0.1:5432/postgres");
 * ```
 */
export function postgresUrl(flag: string, raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(`Invalid value for ${flag}: not a URL (expected postgres://user@host:port/database)`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new UsageError(`Invalid value for ${flag}: protocol ${JSON.stringify(parsed.protocol)} (expected postgres: or postgresql:)`);
  }
  return raw;
}

/** Any non-empty text (a file name, a token). */
export function text(flag: string, raw: string): string {
  if (raw === "") throw invalid(flag, raw, "a non-empty value");
  return raw;
}

/**
 * Parses `argv` against `spec` (keys are the long names without `--`). `positionals` is how many
 * positional arguments the command takes (default 0). Throws {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import { flagOption, integer, parseCommandLine, valueOption } from "./args.ts";
 * const { values } = parseCommandLine("agentpool stress", ["--agents=5", "--json"], {
 *   agents: valueOption(integer(1)),
 *   json: flagOption(),
 * });
 * values.agents; // 5
 * ```
 */
export function parseCommandLine<S extends Record<string, OptionSpec<unknown>>>(
  command: string,
  argv: readonly string[],
  spec: S,
  options: { positionals?: number } = {},
): { values: ParsedOptions<S>; positionals: string[] } {
  const config: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  const byShort = new Map<string, string>();
  for (const [name, option] of Object.entries(spec)) {
    config[name] = { type: option.kind === "flag" ? "boolean" : "string", ...(option.short ? { short: option.short } : {}) };
    if (option.short) byShort.set(option.short, name);
  }
  // Non-strict: we check the tokens ourselves, so every runtime gives the same messages.
  const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    const name = token.name.length === 1 ? byShort.get(token.name) ?? token.name : token.name;
    const option = spec[name];
    if (option === undefined) throw new UsageError(`Unknown option ${JSON.stringify(token.rawName)} (see '${command} --help')`);
    const flag = token.rawName;
    let value: unknown;
    if (option.kind === "flag") {
      if (token.inlineValue === true) throw new UsageError(`Option ${flag} takes no value: current value is ${JSON.stringify(token.value)}`);
      value = true;
    } else {
      const raw = token.value;
      // `--max --json`: the next token is an option, not a value (a negative number is a value).
      if (raw === undefined || (!token.inlineValue && raw.startsWith("-") && !/^-\d/.test(raw))) {
        throw new UsageError(`Missing value for ${flag}`);
      }
      if (option.multiple) {
        const list = (values[name] ??= []) as unknown[];
        for (const part of splitList([raw])) list.push(option.parse(flag, part));
        continue;
      }
      value = option.parse(flag, raw);
    }
    values[name] = value;
  }
  const allowed = options.positionals ?? 0;
  if (positionals.length > allowed) {
    throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[allowed])} (see '${command} --help')`);
  }
  return { values: values as ParsedOptions<S>, positionals };
}

/**
 * Splits comma-separated list values (`--peer a,b`) and drops empty parts.
 *
 * @example
 * ```ts
 * import { splitList } from "./args.ts";
 * splitList(["a,b", "c"]); // ["a", "b", "c"]
 * ```
 */
export function splitList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
}
