/**
 * A TCP proxy for fault tests: forwards 127.0.0.1:<port> to a target, counts the connections it
 * accepts, and can switch to "black-hole" mode, where the network looks alive but nothing answers.
 * Uses only `node:net`, so it runs on Node, Deno and Bun.
 *
 * Black-hole mode, as a dead NAT entry or a silently dropping firewall behaves:
 * - connections that were open when the switch happened stop forwarding in both directions, for
 *   good (bytes are swallowed, a FIN or RST from the client is not passed on);
 * - new connections are accepted (the TCP handshake succeeds) and then never answered.
 *
 * Switching back to `"forward"` forwards new connections again; connections swallowed by the
 * black hole stay dead (their protocol streams lost bytes), as after a real outage.
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from "node:net";

/** What the proxy does with traffic. */
export type ProxyMode = "forward" | "blackhole";

/** A running proxy; always `close()` it (it destroys every socket it holds). */
export interface TcpProxy extends AsyncDisposable {
  /** The local port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** Current mode. */
  readonly mode: ProxyMode;
  /** Connections accepted since start (every connect attempt of a client, including failed ones). */
  readonly accepted: number;
  /** Client connections currently open through the proxy. */
  readonly open: number;
  /** Switch mode; see the module notes. */
  setMode(mode: ProxyMode): void;
  /**
   * Stops listening, so connects are refused (ECONNREFUSED) as by a stopped server, instead of
   * accepted and closed; open connections are kept. {@linkcode resume} listens again on the same port.
   */
  refuse(): Promise<void>;
  /** Listens again after {@linkcode refuse}. */
  resume(): Promise<void>;
  /** `url` (a postgres:// URL) rewritten to go through the proxy. */
  urlFor(url: string): string;
  /** Stops listening and destroys every socket. Idempotent. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Swallowed by the black hole: never forwards again. */
  dead: boolean;
}

/**
 * Starts a proxy to `target` on a free port of 127.0.0.1.
 *
 * @example
 * ```ts
 * const proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
 * const sql = postgres(proxy.urlFor("postgres://postgres@127.0.0.1:5432/postgres"));
 * proxy.setMode("blackhole"); // queries on sql now hang
 * await proxy.close();
 * ```
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let mode: ProxyMode = "forward";
  let accepted = 0;
  let closed = false;

  const drop = (pair: Pair): void => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  // allowHalfOpen: a client's FIN must not make us close our side by ourselves (a black hole
  // answers nothing, not even a FIN); in forward mode we pass the FIN on explicitly.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    const pair: Pair = { client, upstream: undefined, dead: mode === "blackhole" };
    pairs.add(pair);
    // No Nagle delay: PostgreSQL's small request/response messages would wait for delayed ACKs.
    client.setNoDelay(true);
    client.on("error", () => {});
    client.on("close", () => {
      if (!pair.dead) drop(pair);
    });
    if (pair.dead || closed) {
      client.on("data", () => {}); // read and swallow
      return;
    }
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on("error", () => {});
    upstream.on("close", () => {
      if (!pair.dead) drop(pair);
    });
    client.on("data", (chunk) => {
      if (!pair.dead) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!pair.dead) client.write(chunk);
    });
    client.on("end", () => {
      if (!pair.dead) upstream.end();
    });
    upstream.on("end", () => {
      if (!pair.dead) client.end();
    });
  });

  const listen = (port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  let listening = true;
  await listen(0);
  const address = server.address();
  if (typeof address !== "object" || address === null) {
    server.close();
    throw new Error(`Cannot start TCP proxy: unexpected address ${String(address)}`);
  }
  const port = address.port;

  const proxy: TcpProxy = {
    port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    setMode(next: ProxyMode): void {
      mode = next;
      if (next === "blackhole") for (const pair of pairs) pair.dead = true;
    },
    async refuse(): Promise<void> {
      if (!listening || closed) return;
      listening = false;
      // close() stops accepting at once; its callback would wait for the open connections.
      server.close();
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    },
    async resume(): Promise<void> {
      if (listening || closed) return;
      await listen(port);
      listening = true;
    },
    urlFor(url: string): string {
      const parsed = new URL(url);
      parsed.hostname = "127.0.0.1";
      parsed.port = String(port);
      return parsed.toString();
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const stopped = listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      for (const pair of [...pairs]) drop(pair);
      await stopped;
    },
    [Symbol.asyncDispose](): Promise<void> {
      return this.close();
    },
  };
  return proxy;
}
