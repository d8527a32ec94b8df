/**
 * `npm start` (also `agentpool demo`): starts an embedded PostgreSQL 18 (or uses `DATABASE_URL`),
 * runs a team of demo agents through the pool at a watchable pace, serves the admin dashboard,
 * prints its URL and a one-line status every few seconds, and on Ctrl-C stops the agents, closes
 * the pool, stops the server, removes the embedded database and exits 0.
 *
 * ```sh
 * npm start                                   # embedded PostgreSQL, dashboard on :8080 if free
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm start
 * node --import tsx src/cli/demo.ts --agents 20 --duration 30 --port 0
 * ```
 *
 * Environment: `DATABASE_URL`, `AGENTPOOL_DEMO_SECONDS` (stop by itself after that long),
 * `AGENTPOOL_DEMO_PORT` (0 = any free port).
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { adminRouter } from "../admin/router.ts";
import { createMetrics } from "../core/metrics_tracker.ts";
import { PooledDatabaseAdapter } from "../postgres/adapter.ts";
import { createPostgresPool } from "../postgres/create_pool.ts";
import { flagOption, integer, number, parseCommandLine, port as portNumber, UsageError, valueOption } from "./args.ts";
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from "./embedded_postgres.ts";
import { withoutNewSignalHooks } from "./signals.ts";
import { sleep } from "./sleep.ts";
import { runtimeName } from "./runtime_info.ts";
import { pickPort, type RunningServer, serveFetch } from "./serve.ts";
import { AgentTeam } from "./workload.ts";

/** Options of the demo (flags override the environment). */
export interface DemoArgs {
  agents: number;
  /** Stop by itself after this many seconds; undefined runs until Ctrl-C. */
  duration: number | undefined;
  /** Dashboard port; 0 picks a free one. Default 8080 if free. */
  port: number | undefined;
  databaseUrl: string | undefined;
  help: boolean;
}

const USAGE = `Usage: npm start [-- options]   (or: agentpool demo [options])

Starts PostgreSQL (embedded, unless DATABASE_URL is set), a team of demo agents, and the admin
dashboard. Ctrl-C stops everything.

Options:
  --agents N      demo agents (default 12)
  --duration S    stop by itself after S seconds (env AGENTPOOL_DEMO_SECONDS)
  --port N        dashboard port, 0 = any free port (env AGENTPOOL_DEMO_PORT; default 8080 if free)
  -h, --help      show this help`;

const SPEC = {
  agents: valueOption(integer(1)),
  duration: valueOption(number("positive")),
  port: valueOption(portNumber),
  help: flagOption("h"),
};

/**
 * Parses the demo's flags and environment (flags win); bad input throws {@linkcode UsageError}
 * naming the flag or variable and the value.
 *
 * @example
 * ```ts
 * parseDemoArgs(["--agents", "5"], { AGENTPOOL_DEMO_SECONDS: "10" }); // { agents: 5, duration: 10, ... }
 * ```
 */
export function parseDemoArgs(argv: readonly string[], env: Record<string, string | undefined>): DemoArgs {
  const { values } = parseCommandLine("agentpool demo", argv, SPEC);
  const fromEnv = <T>(name: string, parse: (flag: string, raw: string) => T): T | undefined => env[name] ? parse(name, env[name]!) : undefined;
  return {
    agents: values.agents ?? 12,
    duration: values.duration ?? fromEnv("AGENTPOOL_DEMO_SECONDS", SPEC.duration.parse),
    port: values.port ?? fromEnv("AGENTPOOL_DEMO_PORT", SPEC.port.parse),
    databaseUrl: env.DATABASE_URL || undefined,
    help: values.help ?? false,
  };
}

/**
 * Runs the demo until `stop` aborts (or the duration passes); resolves to the exit code.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * process.once("SIGINT", () => stop.abort());
 * process.exitCode = await runDemo(parseDemoArgs([], process.env), stop.signal);
 * ```
 */
export async function runDemo(args: DemoArgs, stop: AbortSignal, out: { write(text: string): unknown } = process.stdout): Promise<number> {
  const say = (line: string): void => void out.write(`${line}\n`);
  let embedded: EmbeddedPostgresServer | undefined;
  let http: RunningServer | undefined;
  let url = args.databaseUrl;
  try {
    if (url === undefined) {
      say("starting embedded PostgreSQL 18 (a temporary database, removed on exit) …");
      try {
        embedded = await withoutNewSignalHooks(() => startEmbeddedPostgres({ persistent: false }));
      } catch (error) {
        // Its messages say what to do in one line (e.g. as root from a directory others cannot enter).
        process.stderr.write(`agentpool demo: ${error instanceof Error ? error.message : String(error)}\n`);
        return 1;
      }
      url = embedded.url;
    }
    const pool = createPostgresPool(url, {
      name: "demo",
      minConnections: 2,
      maxConnections: 5,
      overflow: 3,
      metrics: createMetrics({ maxAgents: args.agents + 10 }),
      postgres: { applicationName: "agentpool-demo", onnotice: () => {} },
    });
    const team = new AgentTeam(new PooledDatabaseAdapter(pool), {
      agents: args.agents,
      schema: `agentpool_demo_${crypto.randomUUID().slice(0, 8)}`,
      agentPrefix: "demo",
      thinkMs: [150, 600],
      workMs: [20, 150],
      longHolders: 2,
      longHoldMs: [300, 1500],
      longHoldChance: 0.3,
      backlog: args.agents * 3,
      seedEveryMs: 500,
    });
    try {
      await team.setup();
      team.start();
      // A fresh token per run: it unlocks the revoke/readmit buttons; reads are open (local demo).
      const token = crypto.randomUUID().replaceAll("-", "");
      const app = new Hono();
      app.route("/pool", adminRouter(pool, { token, publicReads: true, title: "agentpool demo" }));
      app.get("/", (c) => c.redirect("/pool"));
      const port = args.port ?? await pickPort(8080);
      http = await serveFetch(app.fetch, port === 0 ? await pickPort(0) : port);
      say(`agentpool demo on ${runtimeName()}: ${args.agents} agents, pool 2–5 connections (+3 overflow), task schema ${team.schema}`);
      say(`dashboard: ${http.origin}/pool`);
      say(`admin token (for the revoke buttons): ${token}`);
      say("Ctrl-C stops the agents, closes the pool and removes the database.");
      const deadline = args.duration === undefined ? Infinity : performance.now() + args.duration * 1000;
      let last = 0;
      while (!stop.aborted && performance.now() < deadline) {
        const slept = Math.min(3000, deadline - performance.now());
        await sleep(slept, stop);
        if (stop.aborted || slept < 1000) continue; // no status line for a last sliver
        const s = pool.stats();
        const t = team.totals();
        const wait = s.latency?.wait;
        say(
          `${t.completions} tasks done (+${t.completions - last}) · held ${s.used} idle ${s.idle} pending ${s.pending} of ${s.total} open · ` +
            `wait p99 ${wait ? wait.p99.toFixed(1) : "-"} ms · errors ${t.unexpectedErrors} unexpected / ${t.expectedErrors} expected`,
        );
        last = t.completions;
      }
      say("stopping: agents finish their current task …");
    } finally {
      const result = await team.stop();
      await team.dropSchema().catch(() => {});
      await pool.close();
      say(`stopped: ${result.totals.completions} tasks completed, ${pool.stats().used} connections held after close`);
    }
  } finally {
    await http?.close();
    await embedded?.remove();
  }
  return 0;
}

/**
 * `agentpool demo [options]` / `npm start`; resolves to the exit code (0 after Ctrl-C).
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  let args: DemoArgs;
  try {
    args = parseDemoArgs(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`agentpool demo: ${error.message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    if (stop.signal.aborted) {
      process.stderr.write(`\n${signal} again: exiting without cleanup\n`);
      process.exit(130);
    }
    process.stdout.write(`\n${signal}: shutting down …\n`);
    stop.abort();
  };
  const onInt = (): void => onSignal("SIGINT");
  const onTerm = (): void => onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    return await runDemo(args, stop.signal);
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}

if ((import.meta as { main?: boolean }).main ?? process.argv[1] === fileURLToPath(import.meta.url)) {
  const code = await main(process.argv.slice(2));
  // Exit now: embedded-postgres and the driver may keep harmless handles alive for a while.
  process.exit(code);
}
