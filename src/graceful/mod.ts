/**
 * Graceful draining: track every connection as idle, in use or disowned,
 * then stop accepting, close the idle ones and wait for the busy ones, with
 * a timeout. goji's `graceful/listener` and `graceful` packages, for Deno,
 * Bun and Node, without their limits (no timeout on a manual drain, no
 * counts, process-wide state).
 *
 * - {@linkcode wrap} turns a netkit {@linkcode Listener} into a
 *   {@linkcode GracefulListener}: its connections are
 *   {@linkcode GracefulConn}s whose state changes by {@linkcode Mode}
 *   (Manual, Automatic, Deadline), by {@linkcode markIdle},
 *   {@linkcode markInUse} and {@linkcode disown}. It can `closeIdle()`,
 *   `drain({ timeout, signal })` and `drainAll()`, and tells `stats`.
 * - A new connection is fresh: it counts as in use until its first read, or
 *   until its grace period (5 s by default) passes with no data, so that
 *   `closeIdle()` and a drain never close a connection whose request is
 *   already on its way (golang/go#22682). A drain also serves the
 *   connections the runtime had already accepted instead of resetting them.
 * - {@linkcode gracefulHttp} does the same for a `node:http` or `node:https`
 *   server from the request lifecycle, with `shutdown({ timeout, signal })`
 *   and `handleSignals()` (SIGINT/SIGTERM; a second signal forces).
 * - A drain that runs out of time force-closes what is left and rejects
 *   with {@linkcode DrainTimeoutError}, which says how many were cut.
 * - `Deno.serve` and `Bun.serve` have their own graceful stop without a
 *   timeout (`server.shutdown()`, `server.stop()`) and no counts;
 *   {@linkcode gracefulHttp}'s documentation shows how to add the timeout
 *   (Bun: a timer that calls `stop(true)`; Deno: a timer that ends the
 *   process, since aborting `Deno.serve`'s signal during `shutdown()` throws).
 *
 * @example Draining a line-based server with a deadline
 * ```ts
 * import { Mode, wrap } from "@netkit/netkit/graceful";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * const listener = wrap(await listen({ hostname: "127.0.0.1", port: 0 }), Mode.Automatic);
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 *
 * const serving = (async () => {
 *   for await (const conn of listener) {
 *     (async () => {
 *       const buf = new Uint8Array(1024);
 *       try {
 *         while (true) {
 *           const n = await conn.read(buf); // data marks the conn in use
 *           if (n === null) break;
 *           await conn.write(buf.subarray(0, n)); // answer the request
 *           conn.markIdle(); // between requests: a drain may close it
 *         }
 *       } catch {
 *         // closed by the drain
 *       } finally {
 *         conn.close();
 *       }
 *     })();
 *   }
 * })();
 *
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await client.write(new TextEncoder().encode("ping\n"));
 * await client.read(new Uint8Array(5));
 *
 * await listener.drain({ timeout: 10_000 });
 * await serving;
 * console.log(listener.stats.accepted, listener.stats.closed); // 1 1
 * ```
 *
 * @module
 */
export { wrap } from "./listener.ts";
export type { GracefulListener } from "./listener.ts";
export { disown, markIdle, markInUse } from "./conn.ts";
export type { GracefulConn } from "./conn.ts";
export { Mode } from "./types.ts";
export type {
  GracefulConnState,
  GracefulDrainOptions,
  GracefulOptions,
  GracefulStats,
} from "./types.ts";
export { gracefulHttp } from "./http.ts";
export type {
  GracefulHttp,
  GracefulHttpOptions,
  HandleSignalsOptions,
  HttpEventListener,
  HttpServerLike,
  HttpStats,
  ShutdownReport,
  ShutdownSignal,
} from "./http.ts";
export { DrainTimeoutError, NotManagedError } from "./errors.ts";
export { ListenerClosedError } from "../runtime/mod.ts";
