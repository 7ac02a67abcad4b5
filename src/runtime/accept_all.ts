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
export function acceptAll<C>(
  listener: { accept(): Promise<C> },
): AsyncGenerator<C, void, undefined> {
  return new AcceptIterator(listener);
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
  readonly #onConn = (conn: C): IteratorResult<C, void> => {
    this.#outstanding--;
    return this.#done ? DONE : { done: false, value: conn };
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
