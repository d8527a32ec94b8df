/**
 * Which runtime and machine a CLI run is on, and its heap: Node, Deno and Bun detected through
 * `globalThis` (this is src/cli; the core never does this).
 *
 * @module
 */

import os from "node:os";
import process from "node:process";

interface DenoLike {
  version: { deno: string };
  memoryUsage?: () => { heapUsed: number };
}
interface BunLike {
  version: string;
  gc?: (force: boolean) => void;
}

const g = globalThis as unknown as { Deno?: DenoLike; Bun?: BunLike; gc?: () => void };

/**
 * `node v20.20.2`, `deno 2.9.6` or `bun 1.4.5`.
 *
 * @example
 * ```ts
 * console.log(runtimeName());
 * ```
 */
export function runtimeName(): string {
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  return `node ${process.version}`;
}

/** `node`, `deno` or `bun`. */
export function runtimeId(): "node" | "deno" | "bun" {
  return g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";
}

/**
 * `2 × AMD EPYC 7B13, 23.5 GiB, linux x64, load 1.2` (1-minute load average at the start).
 *
 * @example
 * ```ts
 * console.log(machineName());
 * ```
 */
export function machineName(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model?.replace(/\s+/g, " ").trim() || "unknown CPU";
  const load = os.loadavg()[0];
  return `${cpus.length} × ${model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.arch()}, load ${load.toFixed(1)}`;
}

/**
 * Heap in use, in MB; `gc: true` collects first where the runtime allows it (Bun always, Node with
 * `--expose-gc`), and says whether it did.
 *
 * @example
 * ```ts
 * const { mb, collected } = heapMB(true);
 * ```
 */
export function heapMB(gc = false): { mb: number; collected: boolean } {
  let collected = false;
  if (gc) {
    if (typeof g.Bun?.gc === "function") {
      g.Bun.gc(true);
      collected = true;
    } else if (typeof g.gc === "function") {
      g.gc();
      collected = true;
    }
  }
  const used = typeof process.memoryUsage === "function"
    ? process.memoryUsage().heapUsed
    : g.Deno?.memoryUsage?.().heapUsed ?? NaN;
  return { mb: used / 2 ** 20, collected };
}
