/**
 * The protocol-level CancelRequest: a 16-byte message on a fresh socket, carrying the backend's
 * process id and secret key. No session is opened (no authentication, no backend started), so a
 * cancel costs the server almost nothing and works even when every connection slot is taken.
 *
 * @module
 */

import { connect, type Socket } from "node:net";
import { PoolError } from "../core/errors.ts";

/** CancelRequest code: 1234 in the high 16 bits, 5678 in the low 16 bits. */
const CANCEL_REQUEST_CODE = 80877102;

/**
 * Where the server listens (TCP host and port, or a Unix socket directory: a host starting with
 * `/`) and which backend to cancel.
 *
 * @example
 * ```ts
 * import type { CancelTarget } from "./cancel.ts";
 * const target: CancelTarget = { host: "/var/run/postgresql", port: 5432, processID: 4242, secretKey: 1234 };
 * ```
 */
export interface CancelTarget {
  readonly host: string;
  readonly port: number;
  readonly processID: number;
  readonly secretKey: number;
}

/**
 * Sends a CancelRequest for `target` and resolves once the server has read it (it closes the
 * socket when done) or, at the latest, `timeoutMs` after the request was written. Rejects with a
 * `PoolError` (`CANCEL_FAILED` / `CANCEL_TIMEOUT`) when the server cannot be reached in time.
 *
 * @example
 * ```ts
 * import { sendCancelRequest } from "./cancel.ts";
 * declare const backend: { processID: number; secretKey: number }; // from a connected pg.Client
 * await sendCancelRequest({ host: "127.0.0.1", port: 5432, ...backend }, 2000);
 * ```
 */
export function sendCancelRequest(target: CancelTarget, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const message = new Uint8Array(16);
    const view = new DataView(message.buffer);
    view.setInt32(0, 16);
    view.setInt32(4, CANCEL_REQUEST_CODE);
    view.setInt32(8, target.processID);
    view.setInt32(12, target.secretKey);
    const unix = target.host.startsWith("/");
    const socket: Socket = unix ? connect(`${target.host}/.s.PGSQL.${target.port}`) : connect(target.port, target.host);
    let written = false;
    const timer = setTimeout(() => {
      socket.destroy();
      if (written) resolve(); // delivered; the server just did not close the socket yet
      else reject(new PoolError("CANCEL_TIMEOUT", `Cancelling backend ${target.processID} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (error?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error === undefined || written) resolve();
      else reject(new PoolError("CANCEL_FAILED", `Cannot cancel backend ${target.processID}: ${error.message}`));
    };
    socket.setNoDelay?.(true);
    socket.once("connect", () => {
      socket.write(message, () => void (written = true));
    });
    socket.once("error", done);
    socket.once("close", () => done());
    socket.resume(); // the server answers nothing; drain in case it ever does
  });
}
