/**
 * The database server's CPU time spent on one peer's sessions, for the end-to-end suite: on this
 * project's machines the server shares the cores with the pool, so what a driver makes the server
 * do counts as much as its own CPU. Linux only, and only for a server on this machine: the
 * peer's backends are found in `pg_stat_activity` by their `application_name` and their CPU time
 * is read from `/proc/<pid>/schedstat` (ns, exact, unlike the 10 ms ticks of `/proc/<pid>/stat`).
 * Anywhere else the probe answers `undefined` and the row simply has no server column.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import postgres from "postgres";

/** CPU time (ns) a backend has run so far, or `undefined` when it is not a readable local postgres process. */
function backendCpuNs(pid: number): number | undefined {
  try {
    // A server in a container or on another host has pids that mean something else here.
    if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("postgres")) return undefined;
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return undefined;
  }
}

/** Measures the server CPU of the sessions whose `application_name` starts with a prefix. */
export interface ServerCpuProbe {
  /** Finds the sessions and reads their CPU time: call once they are all open. */
  start(): Promise<void>;
  /** CPU µs those sessions used since `start()`, or `undefined` when it cannot be measured here. */
  stop(): Promise<number | undefined>;
}

/**
 * A probe for the sessions named `<prefix>…` on the server at `url` (one extra connection, closed
 * by `stop()`).
 *
 * @example
 * ```ts
 * import { serverCpuProbe } from "./server_cpu.ts";
 * const probe = serverCpuProbe("postgres://postgres@127.0.0.1:5432/postgres", "agentpool-bench-adapter");
 * await probe.start();
 * // ... run the workload ...
 * const serverUs = await probe.stop(); // undefined unless the server runs on this Linux machine
 * ```
 */
export function serverCpuProbe(url: string, prefix: string): ServerCpuProbe {
  const admin = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: "agentpool-bench-probe" } });
  let pids: number[] = [];
  let startNs: number | undefined;
  const total = (): number | undefined => {
    let sum = 0;
    for (const pid of pids) {
      const ns = backendCpuNs(pid);
      if (ns === undefined) return undefined;
      sum += ns;
    }
    return pids.length > 0 ? sum : undefined;
  };
  return {
    async start() {
      try {
        const rows = await admin<{ pid: number }[]>`select pid from pg_stat_activity where application_name like ${prefix + "%"}`;
        pids = rows.map((row) => row.pid);
      } catch {
        pids = [];
      }
      startNs = total();
    },
    async stop() {
      const endNs = total();
      await admin.end({ timeout: 1 }).catch(() => {});
      return startNs === undefined || endNs === undefined ? undefined : (endNs - startNs) / 1000;
    },
  };
}

/** `url` with `application_name=<name>` in its query (postgres.js and pg both read it there). */
export function withApplicationName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("application_name", name);
  return parsed.href;
}
