/**
 * `agentpool monitor <admin-url>`: a live, top-like terminal view of a pool's agents and
 * connections, read from the admin router's `/snapshot` JSON. `--once` prints one screen, `--json`
 * prints the raw snapshot (one JSON document per refresh), for scripts.
 *
 * Exit codes: 0 ok, 1 bad usage, 2 unreachable or not an admin router, 3 unauthorised.
 *
 * @module
 */

import process from "node:process";
import type { PoolSnapshot } from "../admin/snapshot.ts";
import { flagOption, integer, parseCommandLine, text, UsageError, valueOption } from "./args.ts";
import { renderMonitor } from "./monitor_view.ts";

/**
 * The usage text.
 *
 * @example
 * ```ts
 * import { MONITOR_USAGE } from "./monitor.ts";
 * console.log(MONITOR_USAGE);
 * ```
 */
export const MONITOR_USAGE: string = `Usage: agentpool monitor <admin-url> [options]

Live view of a pool's agents and connections, from an agentpool admin router
(e.g. http://localhost:8787/pool, where adminRouter() is mounted).

  --interval MS   refresh every MS milliseconds (default 1000, at least 100)
  --once          print one screen and exit
  --json          print the /snapshot JSON instead (one document per refresh)
  --token TOKEN   bearer token (default: the AGENTPOOL_TOKEN environment variable)
  --no-color      no ANSI colours (also when NO_COLOR is set or stdout is not a terminal)
  -h, --help      this text

Exit codes: 0 ok, 1 bad usage, 2 unreachable / not an admin router, 3 unauthorised.`;

/** Where the monitor reads and writes; injected in tests. */
export interface MonitorIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number; readonly rows?: number };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fetch: (input: Request) => Promise<Response>;
  /** Calls `stop` on Ctrl-C / SIGTERM; returns a function that unregisters it. */
  readonly onInterrupt: (stop: () => void) => () => void;
}

/**
 * The real terminal: process stdout/stderr/env, global fetch, SIGINT/SIGTERM.
 *
 * @example
 * ```ts
 * import { main, processIo } from "./monitor.ts";
 * await main(["http://localhost:8787/pool", "--once"], processIo());
 * ```
 */
export function processIo(): MonitorIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    fetch: (request) => fetch(request),
    onInterrupt: (stop) => {
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      return () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      };
    },
  };
}

/**
 * A failure with the exit code it maps to (1 usage, 2 unreachable, 3 unauthorised).
 *
 * @example
 * ```ts
 * import { MonitorError } from "./monitor.ts";
 * throw new MonitorError("cannot reach http://localhost:8787/pool/snapshot: ECONNREFUSED", 2);
 * ```
 */
export class MonitorError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "MonitorError";
    this.exitCode = exitCode;
  }
}

interface MonitorArgs {
  url: string;
  intervalMs: number;
  once: boolean;
  json: boolean;
  token: string | undefined;
  color: boolean;
}

const SPEC = {
  interval: valueOption(integer(100)),
  once: flagOption(),
  json: flagOption(),
  token: valueOption(text),
  "no-color": flagOption(),
  help: flagOption("h"),
};

function parseMonitorArgs(argv: string[], io: MonitorIo): MonitorArgs | "help" {
  const { values, positionals } = parseCommandLine("agentpool monitor", argv, SPEC, { positionals: 1 });
  if (values.help) return "help";
  if (positionals.length !== 1) throw new UsageError("Missing argument <admin-url>");
  let url: URL;
  try {
    url = new URL(positionals[0]);
  } catch {
    throw new UsageError(`Invalid value for <admin-url>: ${JSON.stringify(positionals[0])} (expected a URL such as http://localhost:8787/pool)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`Invalid value for <admin-url>: protocol ${JSON.stringify(url.protocol)} (expected http: or https:)`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new UsageError(`credentials in the URL (${shown(url.href)}) are not supported: pass the bearer token with --token or AGENTPOOL_TOKEN`);
  }
  const token = values.token ?? io.env.AGENTPOOL_TOKEN;
  const color = !values["no-color"] && io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
  return { url: url.href.replace(/\/+$/, ""), intervalMs: values.interval ?? 1000, once: values.once ?? false, json: values.json ?? false, token: token || undefined, color };
}

/** Strips credentials from a URL before it is printed. */
function shown(url: string): string {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  return u.href.replace(/\/+$/, "");
}

/**
 * Fetches one snapshot; throws {@linkcode MonitorError} with a clear message.
 *
 * @example
 * ```ts
 * import { fetchSnapshot, processIo } from "./monitor.ts";
 * const snap = await fetchSnapshot(processIo(), "http://localhost:8787/pool", process.env.AGENTPOOL_TOKEN, 5000);
 * ```
 */
export async function fetchSnapshot(io: MonitorIo, url: string, token: string | undefined, timeoutMs: number): Promise<PoolSnapshot> {
  const target = `${url}/snapshot`;
  const headers: Record<string, string> = { accept: "application/json" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await io.fetch(new Request(target, { headers, signal: AbortSignal.timeout(timeoutMs) }));
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
    const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    throw new MonitorError(`cannot reach ${shown(target)}: ${why}`, 2);
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    const hint = token === undefined ? "pass --token or set AGENTPOOL_TOKEN" : "the token was not accepted";
    throw new MonitorError(`unauthorised (HTTP ${response.status}) at ${shown(target)}: ${hint}`, 3);
  }
  const text = await response.text();
  if (!response.ok) throw new MonitorError(`HTTP ${response.status} from ${shown(target)}: is this an agentpool admin router URL?`, 2);
  try {
    const body = JSON.parse(text) as PoolSnapshot;
    if (typeof body?.stats?.total !== "number" || !Array.isArray(body.agents)) throw new Error("unexpected shape");
    return body;
  } catch {
    throw new MonitorError(`${shown(target)} did not answer with an agentpool snapshot: is this an agentpool admin router URL?`, 2);
  }
}

const CLEAR = "\x1b[H\x1b[2J";
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

/**
 * Runs `agentpool monitor` with `argv` (the arguments after `monitor`); resolves to the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./monitor.ts";
 * const code = await main(["http://localhost:8787/pool", "--once", "--json"]);
 * ```
 */
export async function main(argv: string[], io: MonitorIo = processIo()): Promise<number> {
  let args: MonitorArgs;
  try {
    const parsed = parseMonitorArgs(argv, io);
    if (parsed === "help") {
      io.stdout.write(`${MONITOR_USAGE}\n`);
      return 0;
    }
    args = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`agentpool monitor: ${error.message}\n\n${MONITOR_USAGE}\n`);
    return 1;
  }
  const timeoutMs = Math.max(5000, args.intervalMs);
  const draw = (snapshot: PoolSnapshot, notice?: string): string =>
    args.json ? `${JSON.stringify(snapshot)}\n` : renderMonitor(snapshot, {
      url: shown(args.url),
      color: args.color,
      width: io.stdout.columns ?? 160,
      rows: args.once || io.stdout.rows === undefined ? Infinity : Math.max(6, io.stdout.rows - 8),
      notice,
    });

  let snapshot: PoolSnapshot;
  try {
    snapshot = await fetchSnapshot(io, args.url, args.token, timeoutMs);
  } catch (error) {
    const e = error instanceof MonitorError ? error : new MonitorError(String(error), 2);
    io.stderr.write(`agentpool monitor: ${e.message}\n`);
    return e.exitCode;
  }
  if (args.once) {
    io.stdout.write(draw(snapshot));
    return 0;
  }
  return await live(io, args, snapshot, draw, timeoutMs);
}

/** The refresh loop: redraws every interval until interrupted; errors after the first screen are shown, not fatal. */
function live(
  io: MonitorIo,
  args: MonitorArgs,
  first: PoolSnapshot,
  draw: (snapshot: PoolSnapshot, notice?: string) => string,
  timeoutMs: number,
): Promise<number> {
  const tty = io.stdout.isTTY === true && !args.json;
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = first;
    let stopped = false;
    const show = (text: string): void => void io.stdout.write(tty ? CLEAR + text : args.json ? text : `${text}\n`);
    const stop = (): void => {
      stopped = true;
      clearTimeout(timer);
      unregister();
      if (tty) io.stdout.write(SHOW_CURSOR);
      resolve(0);
    };
    const unregister = io.onInterrupt(stop);
    const tick = async (): Promise<void> => {
      try {
        last = await fetchSnapshot(io, args.url, args.token, timeoutMs);
        if (!stopped) show(draw(last));
      } catch (error) {
        if (!stopped && !args.json) show(draw(last, `${(error as Error).message} — retrying every ${args.intervalMs} ms`));
        if (!stopped && args.json) io.stderr.write(`agentpool monitor: ${(error as Error).message}\n`);
      }
      if (!stopped) timer = setTimeout(tick, args.intervalMs);
    };
    if (tty) io.stdout.write(HIDE_CURSOR);
    show(draw(first));
    timer = setTimeout(tick, args.intervalMs);
  });
}
