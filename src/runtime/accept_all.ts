// Iterating a listener's connections until it closes: what every Listener's
// (and every wrapper's) async iterator does. Runtime-free.
import { ListenerClosedError } from "./errors.ts";

/**
 * Yields each connection `listener.accept()` returns, and ends (without an
 * error) once the listener is closed. Any other accept error is thrown.
 * Every netkit listener iterates this way; wrappers of a `Listener` can
 * implement `[Symbol.asyncIterator]` with it.
 *
 * @typeParam C The connection type the listener returns.
 * @param listener Anything with an `accept()` that rejects with
 * `ListenerClosedError` once closed.
 * @returns An async iterator over the accepted connections.
 * @throws {Error} What `accept()` rejects with, except `ListenerClosedError`.
 *
 * @example Serving until the listener closes
 * ```ts
 * import { acceptAll, listen } from "@netkit/netkit/runtime";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const served = (async () => {
 *   for await (const conn of acceptAll(listener)) conn.close();
 * })();
 * await listener.close();
 * await served; // the loop ended when the listener closed
 * ```
 */
export async function* acceptAll<C>(
  listener: { accept(): Promise<C> },
): AsyncGenerator<C, void, undefined> {
  while (true) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof ListenerClosedError) return;
      throw err;
    }
    yield conn;
  }
}
