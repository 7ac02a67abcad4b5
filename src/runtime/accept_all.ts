// Iterating a listener's connections until it closes: what every Listener's
// (and every wrapper's) async iterator does. Runtime-free.
import { ListenerClosedError } from "./errors.ts";
import type { AbortOptions } from "./types.ts";

/** The first wait after a failed accept, in milliseconds (Go's `http.Server`). */
const FIRST_BACKOFF = 5;
/** The longest wait between failed accepts, in milliseconds. */
const MAX_BACKOFF = 1000;

/** Options of {@linkcode acceptAll}. */
export interface AcceptAllOptions {
  /**
   * Ends the iteration, without an error, when it aborts: it is passed to
   * every `accept()` and cuts a backoff short.
   *
   * @default {none}
   */
  signal?: AbortSignal;
  /**
   * Called with each failed accept (a listener that closes is not a
   * failure), which is then not thrown: the iteration waits (5 ms, doubling
   * on each failure in a row up to 1 s, as Go's `http.Server` does) and
   * accepts again. For errors such as running out of file descriptors,
   * which pass.
   *
   * @default {none: the error is thrown}
   */
  onError?: (err: unknown) => void;
}

/**
 * Yields each connection `listener.accept()` returns, and ends (without an
 * error) once the listener is closed or `options.signal` aborts. Any other
 * accept error is thrown, or, with `options.onError`, handed to it and
 * retried after a backoff. Every netkit listener iterates this way; wrappers
 * of a `Listener` can implement `[Symbol.asyncIterator]` with it.
 *
 * @typeParam C The connection type the listener returns.
 * @param listener Anything with an `accept()` that rejects with
 * `ListenerClosedError` once closed (and, if it has one, a `closed` flag).
 * @param options A `signal` that ends the iteration, and `onError` to keep
 * going after failed accepts.
 * @returns An async iterator over the accepted connections.
 * @throws {Error} What `accept()` rejects with, except `ListenerClosedError`,
 * unless `options.onError` is given.
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
 *
 * @example A server that outlives failed accepts and stops on a signal
 * ```ts
 * import { acceptAll, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const stop = new AbortController();
 * const served = (async () => {
 *   const options = { signal: stop.signal, onError: (err: unknown) => console.error(err) };
 *   for await (const conn of acceptAll(listener, options)) conn.close();
 * })();
 * stop.abort();
 * await served; // ended by the signal; the listener is still open
 * ```
 */
export async function* acceptAll<C>(
  listener: { accept(options?: AbortOptions): Promise<C>; readonly closed?: boolean },
  options?: AcceptAllOptions,
): AsyncGenerator<C, void, undefined> {
  const signal = options?.signal;
  const onError = options?.onError;
  let backoff = 0;
  while (!aborted(signal)) {
    let conn: C;
    try {
      conn = await (signal === undefined ? listener.accept() : listener.accept({ signal }));
    } catch (err) {
      if (err instanceof ListenerClosedError || aborted(signal)) return;
      if (onError === undefined) throw err;
      if (listener.closed === true) return;
      onError(err);
      backoff = backoff === 0 ? FIRST_BACKOFF : Math.min(backoff * 2, MAX_BACKOFF);
      await sleep(backoff, signal);
      continue;
    }
    backoff = 0;
    yield conn;
  }
}

function aborted(signal: AbortSignal | undefined): boolean {
  return signal !== undefined && signal.aborted;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
