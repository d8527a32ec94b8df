/**
 * Free TCP port lookup for tests and the test runner; works on Node, Deno and Bun.
 *
 * @module
 */
import { connect, createServer } from "node:net";

/**
 * Ask the OS for a currently free TCP port on `host`.
 *
 * The port is released before this resolves, so another process could take it
 * in between; callers that bind it should retry on "address in use".
 *
 * @example Start a server on a free port
 * ```ts
 * const port = await freePort();
 * ```
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close((error) => {
        if (error) reject(error);
        else if (port > 0) resolve(port);
        else reject(new Error(`Cannot find a free port: unexpected address ${String(address)}`));
      });
    });
  });
}

/**
 * Whether 127.0.0.1:`port` accepts a TCP connection right now.
 *
 * @example Wait for a server to come up
 * ```ts
 * while (!(await portAccepts(5432))) await new Promise((r) => setTimeout(r, 50));
 * ```
 */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}
