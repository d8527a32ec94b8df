/**
 * Serve a fetch handler (a Hono app) on the runtime at hand: `Deno.serve` on Deno, `Bun.serve` on
 * Bun, `@hono/node-server` on Node. For the demo; the admin router itself stays runtime-neutral.
 *
 * @module
 */

import { createServer } from "node:net";
import { freePort } from "./free_port.ts";
import { runtimeId } from "./runtime_info.ts";

type Fetch = (request: Request) => Response | Promise<Response>;

/** A running HTTP server. */
export interface RunningServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

interface DenoServe {
  serve(options: { port: number; hostname: string; onListen?: () => void }, handler: Fetch): { shutdown(): Promise<void>; finished: Promise<void> };
}
interface BunServe {
  serve(options: { port: number; hostname: string; fetch: Fetch }): { stop(force?: boolean): void | Promise<void>; port: number };
}

/** Whether `port` can be bound on `host` right now. */
export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * `preferred` when it is free, else any free port.
 *
 * @example
 * ```ts
 * const port = await pickPort(8080);
 * ```
 */
export async function pickPort(preferred: number, host = "127.0.0.1"): Promise<number> {
  if (preferred > 0 && await portIsFree(preferred, host)) return preferred;
  return await freePort(host);
}

/**
 * Serves `fetch` on 127.0.0.1:`port` with the runtime's own server.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { pickPort, serveFetch } from "./serve.ts";
 * const app = new Hono().get("/pool", (c) => c.text("ok"));
 * const server = await serveFetch(app.fetch, await pickPort(8080));
 * console.log(`${server.origin}/pool`);
 * await server.close();
 * ```
 */
export async function serveFetch(fetch: Fetch, port: number, hostname = "127.0.0.1"): Promise<RunningServer> {
  const origin = `http://${hostname}:${port}`;
  const runtime = runtimeId();
  if (runtime === "deno") {
    const deno = (globalThis as unknown as { Deno: DenoServe }).Deno;
    // Deno.serve binds before it returns (and throws if it cannot); onListen only silences its log.
    const server = deno.serve({ port, hostname, onListen: () => {} }, fetch);
    return { port, origin, close: () => server.shutdown() };
  }
  if (runtime === "bun") {
    const bun = (globalThis as unknown as { Bun: BunServe }).Bun;
    const server = bun.serve({ port, hostname, fetch });
    return { port, origin, close: async () => void await server.stop(true) };
  }
  const { serve } = await import("@hono/node-server");
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch, port, hostname }, () => resolve(s));
    s.once("error", reject);
  });
  return {
    port,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
