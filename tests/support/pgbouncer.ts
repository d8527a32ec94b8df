/**
 * A throwaway PgBouncer (Debian `pgbouncer`) in transaction mode in front of the test database.
 * Works on Node (tsx), Deno and Bun. No npm package ships PgBouncer: gate the tests that use it
 * with `requireTool("pgbouncer")` (support/tools.ts), which also honours `AGENTPOOL_HIDE_TOOLS`.
 *
 * PgBouncer refuses to run as root, so it runs as user `postgres` (`runuser -u postgres --
 * pgbouncer CONFIG`) in the foreground, in its own process group, and `stop()` signals that group.
 * Its config lives in a fresh temp dir owned by `postgres`. Clients log in with any user and no
 * password (`auth_type = trust`); PgBouncer logs in to the upstream server as the `user` and
 * `password` given here (forced user), so the upstream may use scram (embedded PG 18) or trust (PG 15).
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import type postgres from "postgres";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freePort, portAccepts } from "./free_port.ts";
import { requireTool } from "./tools.ts";

/** Options for {@linkcode startPgBouncer}. */
export interface PgBouncerOptions {
  /** Upstream server, e.g. `DATABASE_URL`. Its host, port and database are used. */
  upstreamUrl: string;
  /** Upstream login (forced for every server connection). Default: the URL's user and password. */
  user?: string;
  password?: string;
  /** Server connections per (database, user) pair: `default_pool_size`. Default 4. */
  poolSize?: number;
  /** `max_client_conn`. Default 500. */
  maxClientConnections?: number;
  /** `pool_mode`. Default `"transaction"`. */
  poolMode?: "session" | "transaction" | "statement";
  /** Listen here instead of a free port (to restart PgBouncer where its clients expect it). */
  port?: number;
  /**
   * Extra database aliases with their own `pool_size`, each leading to the upstream database
   * (e.g. a small pool for control traffic): `{ agentpool_ctl: 1 }`. Connect with `urlFor(alias)`.
   */
  aliases?: Readonly<Record<string, number>>;
  /** More `[pgbouncer]` settings, e.g. `{ query_wait_timeout: 1 }` (written last, so they win). */
  settings?: Readonly<Record<string, string | number>>;
}

/** A running PgBouncer owned by the caller: always `stop()` it (or `await using`). */
export interface PgBouncer extends AsyncDisposable {
  /** `postgres://<user>@127.0.0.1:<port>/<database>`: no password (client auth is trust). */
  readonly url: string;
  /** The URL of one of the `aliases`. */
  urlFor(alias: string): string;
  readonly port: number;
  /** `default_pool_size`: the most server connections PgBouncer opens per database/user. */
  readonly poolSize: number;
  /** The last lines PgBouncer logged, for failure messages. */
  logs(): string;
  /** SIGTERM (immediate shutdown), SIGKILL after 5 s; waits until the port is closed; removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const LOG_LINES = 60;
const START_TIMEOUT_MS = 10_000;

function quote(value: string): string {
  // libpq-style connstring value in pgbouncer.ini: single quotes, \ and ' escaped.
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function postgresIds(): { uid: number; gid: number } {
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) throw new Error("PgBouncer needs the system user 'postgres' (apt-get install pgbouncer)");
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Start PgBouncer on a free port of 127.0.0.1 in front of `upstreamUrl`.
 *
 * @throws {Error} with PgBouncer's log when it does not come up within 10 s, or naming the
 *   install command when PgBouncer is missing.
 *
 * @example
 * ```ts
 * import { createPostgresPool } from "../../mod.ts";
 * import { databaseUrl } from "./db.ts";
 * await using bouncer = await startPgBouncer({ upstreamUrl: databaseUrl(), poolSize: 4 });
 * const pool = createPostgresPool(bouncer.url, { postgres: { prepare: false } });
 * ```
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const tool = requireTool("pgbouncer");
  if (tool.location === undefined) throw new Error(tool.missing);
  const upstream = new URL(options.upstreamUrl);
  const user = options.user ?? (decodeURIComponent(upstream.username) || "postgres");
  const password = options.password ?? decodeURIComponent(upstream.password);
  const database = decodeURIComponent(upstream.pathname.replace(/^\//, "")) || "postgres";
  const host = upstream.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  const upstreamPort = upstream.port || "5432";
  const poolSize = options.poolSize ?? 4;
  const port = options.port ?? await freePort();

  const dir = mkdtempSync(join(tmpdir(), "agentpool-pgbouncer-"));
  const { uid, gid } = postgresIds();
  const config = join(dir, "pgbouncer.ini");
  const userlist = join(dir, "userlist.txt");
  const server = [`host=${quote(host)}`, `port=${upstreamPort}`, `user=${quote(user)}`];
  if (password !== "") server.push(`password=${quote(password)}`);
  const aliases = Object.entries(options.aliases ?? {}).map(([alias, size]) =>
    `${alias} = ${server.join(" ")} dbname=${quote(database)} pool_size=${size}`
  );
  writeFileSync(
    config,
    [
      "[databases]",
      ...aliases,
      `* = ${server.join(" ")}`,
      "",
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${userlist}`,
      `pool_mode = ${options.poolMode ?? "transaction"}`,
      `default_pool_size = ${poolSize}`,
      "min_pool_size = 0",
      "reserve_pool_size = 0",
      `max_client_conn = ${options.maxClientConnections ?? 500}`,
      // A client's server-side session is only borrowed per transaction: these are the only
      // startup parameters that must not be forwarded (postgres.js sends none of them by default).
      "ignore_startup_parameters = extra_float_digits,options",
      "server_login_retry = 1",
      "log_connections = 0",
      "log_disconnections = 0",
      ...Object.entries(options.settings ?? {}).map(([key, value]) => `${key} = ${value}`),
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  writeFileSync(userlist, `"${user}" ""\n`, { mode: 0o600 });
  for (const path of [dir, config, userlist]) chownSync(path, uid, gid);
  chmodSync(dir, 0o700);

  const lines: string[] = [];
  const remember = (chunk: string): void => {
    lines.push(...chunk.split("\n").filter((l) => l !== ""));
    if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
  };
  // detached: its own process group, so stop() reaches pgbouncer behind runuser.
  const child = spawn("runuser", ["-u", "postgres", "--", tool.location.path, config], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.setEncoding("utf8").on("data", remember);
  child.stderr?.setEncoding("utf8").on("data", remember);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
    child.once("error", (error) => {
      remember(`spawn failed: ${error.message}`);
      exited = true;
      resolve();
    });
  });
  const logs = (): string => lines.join("\n").split(password === "" ? "\u0000" : password).join("***");

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const signal = (name: NodeJS.Signals): void => {
        if (exited || child.pid === undefined) return;
        try {
          process.kill(-child.pid, name);
        } catch {
          // already gone
        }
      };
      signal("SIGTERM");
      const killer = setTimeout(() => signal("SIGKILL"), 5000);
      await exit;
      clearTimeout(killer);
      // A stopped daemon can linger as <defunct> while its socket closes: wait for the port.
      for (let i = 0; i < 100 && await portAccepts(port); i++) await sleep(50);
      child.stdout?.destroy();
      child.stderr?.destroy();
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const deadline = performance.now() + START_TIMEOUT_MS;
  while (!(await portAccepts(port))) {
    if (exited || performance.now() > deadline) {
      await stop();
      throw new Error(`PgBouncer did not start on 127.0.0.1:${port}:\n${logs()}`);
    }
    await sleep(50);
  }

  const urlFor = (name: string): string => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${encodeURIComponent(name)}`;
  return {
    url: urlFor(database),
    urlFor,
    port,
    poolSize,
    logs,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * The teardown of a test that gave PgBouncer its own upstream role: stops PgBouncer, ends the
 * role's sessions, drops `schemas`, what the role owns and the role, and ends `admin`. Every step
 * runs even if one fails; the first failure is thrown.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * declare const admin: postgres.Sql;
 * declare const bouncer: PgBouncer | undefined;
 * await dropBouncerRole(admin, { bouncer, role: "bouncer_x", schemas: ["bouncer_x"] });
 * ```
 */
export async function dropBouncerRole(
  admin: postgres.Sql,
  options: { bouncer: PgBouncer | undefined; role: string; schemas: readonly string[] },
): Promise<void> {
  const { bouncer, role, schemas } = options;
  const failures: unknown[] = [];
  const step = async (work: () => Promise<unknown> | undefined): Promise<void> => {
    try {
      await work();
    } catch (error) {
      failures.push(error);
    }
  };
  await step(() => bouncer?.stop());
  // PgBouncer is gone, so its sessions are closing; drop what the test made.
  await step(() => admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`));
  for (const schema of schemas) await step(() => admin.unsafe(`drop schema if exists ${schema} cascade`));
  await step(() => admin.unsafe(`drop owned by ${role} cascade`)); // also revokes its grants
  await step(() => admin.unsafe(`drop role if exists ${role}`));
  await step(() => admin.end({ timeout: 5 }));
  if (failures.length > 0) throw failures[0];
}
