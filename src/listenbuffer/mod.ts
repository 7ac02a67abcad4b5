/**
 * Listen now, accept later: bind a socket at once, so that its port is known
 * and clients can connect, and serve those clients only once the program is
 * ready. Docker's `pkg/listenbuffer`, for Deno, Bun and Node, without its
 * bugs.
 *
 * - {@linkcode listenBuffer} binds and returns a {@linkcode BufferedListener}
 *   whose accept() waits until a promise settles, an `AbortSignal` aborts or
 *   `activate()` is called.
 * - Connections made in between are not lost: they are all served after
 *   activation, in arrival order. On Deno they wait in the kernel's accept
 *   queue; on Bun and Node (which accept eagerly) they wait paused, unread,
 *   in a queue bounded by `backlog` (default 4096); past the bound they are
 *   closed at once and counted in `dropped`.
 * - `timeout` bounds the wait: if the program is not ready in time, the
 *   listener closes, the waiting connections are closed, and accept() rejects
 *   with `TimeoutError`.
 * - `close()` before activation wakes every waiting accept() with
 *   `ListenerClosedError`.
 *
 * @example A server that binds first and warms up second
 * ```ts ignore
 * import { listenBuffer } from "@netkit/netkit/listenbuffer";
 *
 * async function warmUp(): Promise<void> {
 *   // load caches, connect to the database, ...
 * }
 *
 * const listener = await listenBuffer({ port: 8080, timeout: 30_000 }, warmUp());
 * console.log("listening on", listener.addr); // clients may connect now
 * for await (const conn of listener) {
 *   // served only once warmUp() has settled, in arrival order
 *   conn.close();
 * }
 * ```
 *
 * @module
 */
export { listenBuffer } from "./listen_buffer.ts";
export type {
  Activation,
  BufferedListener,
  ListenBufferExtraOptions,
  ListenBufferOptions,
} from "./listen_buffer.ts";
export { ListenerClosedError, TimeoutError } from "../runtime/mod.ts";
