/**
 * Readiness notification over many connections: easygo's `netpoll` for
 * Deno, Bun and Node.
 *
 * A server with many mostly idle connections registers them with one
 * {@linkcode Poller} and is called back when one is ready, instead of keeping
 * a pending `read()` (and its buffer) per connection. The work, and one
 * buffer, are needed only for the connections that speak.
 *
 * - {@linkcode handle} (and {@linkcode handleRead}, {@linkcode handleReadOnce},
 *   {@linkcode handleWrite}, {@linkcode handleWriteOnce},
 *   {@linkcode handleReadWrite}, {@linkcode handleListener}) says what to
 *   watch, as a {@linkcode Desc}.
 * - {@linkcode createPoller} makes the {@linkcode Poller}: `start(desc,
 *   callback)`, `stop(desc)`, `resume(desc)` and `close()`.
 * - {@linkcode Event} has easygo's flags and values; {@linkcode eventString}
 *   is its `Event.String()`.
 * - {@linkcode PollerClosedError}, {@linkcode AlreadyRegisteredError} and
 *   {@linkcode NotRegisteredError} are easygo's `ErrClosed`,
 *   `ErrRegistered` and `ErrNotRegistered`.
 *
 * How it differs from easygo: there is no fd to duplicate and no `Desc` to
 * close (easygo#5); the poller has `close()` (easygo#10) and delivers
 * `PollerClosed` everywhere; callbacks of one descriptor never overlap, and
 * `resume()` inside a callback is safe (easygo warns it can deadlock).
 * Underneath, each runtime's own event loop (epoll, kqueue) waits: Deno keeps
 * one small `read()` pending per watched conn and hands its bytes to the next
 * `read()`; Bun and node:net let the socket flow into the conn's bounded
 * buffer, since a paused socket hears no hang-up.
 *
 * @example A server where only the clients that speak cost work
 * ```ts
 * import { createPoller, Event, handleListener, handleRead } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using poller = createPoller();
 * const lines: string[] = [];
 * let heard!: () => void;
 * const first = new Promise<void>((resolve) => heard = resolve);
 *
 * const lnDesc = handleListener(listener, Event.Read | Event.OneShot);
 * poller.start(lnDesc, async (ev) => {
 *   if ((ev & Event.Read) === 0) return;
 *   const conn = await listener.accept();
 *   const desc = handleRead(conn);
 *   poller.start(desc, async (ev) => {
 *     // Hang-ups first: a reset comes as Read|ReadHup|Hup|Err, and reading throws.
 *     if ((ev & (Event.ReadHup | Event.Hup | Event.Err | Event.PollerClosed)) !== 0) {
 *       if ((ev & Event.PollerClosed) === 0) poller.stop(desc);
 *       conn.close();
 *     } else if ((ev & Event.Read) !== 0) {
 *       // A buffer per call, not per conn: it lives only while the conn speaks
 *       // (callbacks of different conns may overlap, so they do not share one).
 *       const buf = new Uint8Array(4096);
 *       const n = await conn.read(buf);
 *       if (n !== null) lines.push(new TextDecoder().decode(buf.subarray(0, n)));
 *       if (lines.length === 1) heard();
 *     }
 *   });
 *   poller.resume(lnDesc);
 * });
 *
 * const quiet = await connect({ hostname: "127.0.0.1", port }); // never speaks
 * const chatty = await connect({ hostname: "127.0.0.1", port });
 * await chatty.write(new TextEncoder().encode("hello"));
 * await first;
 * console.log(lines); // [ "hello" ]
 * quiet.close();
 * chatty.close();
 * ```
 *
 * @module
 */
export { Event, eventString } from "./event.ts";
export {
  type Desc,
  handle,
  handleListener,
  handleRead,
  handleReadOnce,
  handleReadWrite,
  handleWrite,
  handleWriteOnce,
} from "./handle.ts";
export { type CallbackFn, createPoller, type Poller, type PollerConfig } from "./poller.ts";
export { AlreadyRegisteredError, NotRegisteredError, PollerClosedError } from "./errors.ts";
