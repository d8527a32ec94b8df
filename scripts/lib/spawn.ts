/**
 * Run one test command in its own process group, stream its output to ours, and kill the
 * whole group on timeout or on request.
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";

/** How a child run ended. */
export interface RunResult {
  /** Exit code; `null` when killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  timedOut: boolean;
}

/** A started child run. */
export interface Running {
  result: Promise<RunResult>;
  /** Kill the child's process group: SIGTERM now, SIGKILL after a grace period. */
  kill(): void;
}

const KILL_GRACE_MS = 10_000;

/** Spawn `file args` with `env`, passing its output through, with a whole-run `timeoutMs` guard. */
export function runGroup(
  file: string,
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined>; timeoutMs: number },
): Running {
  const started = performance.now();
  // detached: own process group, so kill(-pid) also reaches grandchildren (test workers, servers).
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout.pipe(process.stdout, { end: false });
  child.stderr.pipe(process.stderr, { end: false });

  let timedOut = false;
  let escalation: ReturnType<typeof setTimeout> | undefined;
  const kill = (): void => {
    if (escalation !== undefined || child.pid === undefined) return;
    signalGroup(child.pid, "SIGTERM");
    escalation = setTimeout(() => signalGroup(child.pid!, "SIGKILL"), KILL_GRACE_MS);
    escalation.unref();
  };
  const guard = setTimeout(() => {
    timedOut = true;
    process.stderr.write(`\n!! ${file} ${args[0] ?? ""} timed out after ${options.timeoutMs / 60_000} min: killing it\n`);
    kill();
  }, options.timeoutMs);

  const result = new Promise<RunResult>((resolve) => {
    let done = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      clearTimeout(escalation);
      // Grandchildren may still hold the group after the leader exits; make sure they go too.
      if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
      resolve({ exitCode, signal, durationMs: performance.now() - started, timedOut });
    };
    child.once("error", (error) => {
      process.stderr.write(`${String(error)}\n`);
      finish(127, null);
    });
    child.once("close", finish);
  });
  return { result, kill };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
