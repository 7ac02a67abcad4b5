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
export function acceptAll<C>(
  listener: { accept(options?: AbortOptions): Promise<C>; readonly closed?: boolean },
  options?: AcceptAllOptions,
): AsyncGenerator<C, void, undefined> {
  if (options === undefined || (options.signal === undefined && options.onError === undefined)) {
    return new AcceptIterator(listener);
  }
  return acceptWithOptions(listener, options);
}

const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });

/**
 * What an `async function*` over `accept()` would be, without its cost per
 * conn (a generator resume and two more promises): next() is accept() plus
 * one `then`. Calls to next() made while one is pending wait for it, as a
 * generator's do.
 */
class AcceptIterator<C> implements AsyncGenerator<C, void, undefined> {
  readonly #listener: { accept(): Promise<C> };
  #done = false;
  /** next() calls not answered yet, and the last one's promise. */
  #outstanding = 0;
  #tail: Promise<IteratorResult<C, void>> | null = null;
  // A conn accepted for a next() made before return() is still handed out,
  // as a generator would: dropping it here would leak it.
  readonly #onConn = (conn: C): IteratorResult<C, void> => {
    this.#outstanding--;
    return { done: false, value: conn };
  };
  readonly #onError = (err: unknown): IteratorResult<C, void> => {
    this.#outstanding--;
    this.#done = true;
    if (err instanceof ListenerClosedError) return DONE;
    throw err;
  };
  readonly #run = (): IteratorResult<C, void> | Promise<IteratorResult<C, void>> => {
    if (this.#done) {
      this.#outstanding--;
      return DONE;
    }
    try {
      return this.#listener.accept().then(this.#onConn, this.#onError);
    } catch (err) {
      return Promise.resolve(err).then(this.#onError);
    }
  };

  constructor(listener: { accept(): Promise<C> }) {
    this.#listener = listener;
  }

  next(): Promise<IteratorResult<C, void>> {
    if (this.#done && this.#outstanding === 0) return Promise.resolve(DONE);
    this.#outstanding++;
    // A next() is pending: start after it, as a generator would.
    const p = this.#outstanding === 1
      ? Promise.resolve(this.#run())
      : this.#tail!.then(this.#run, this.#run);
    this.#tail = p;
    return p;
  }

  return(): Promise<IteratorResult<C, void>> {
    this.#done = true;
    return Promise.resolve(DONE);
  }

  throw(err: unknown): Promise<IteratorResult<C, void>> {
    this.#done = true;
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.#done = true;
    return Promise.resolve();
  }
}

/** acceptAll() with a signal or an error handler: a generator (rarely hot). */
async function* acceptWithOptions<C>(
  listener: { accept(options?: AbortOptions): Promise<C>; readonly closed?: boolean },
  options: AcceptAllOptions,
): AsyncGenerator<C, void, undefined> {
  const signal = options.signal;
  const onError = options.onError;
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
