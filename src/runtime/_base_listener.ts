// Internal: what every adapter's Listener shares: a FIFO of accepted conns,
// a FIFO of waiting accept() calls, the queue bound, close and iteration.
// Runtime-free: subclasses feed conns in with `_deliver` (push-based runtimes)
// or pull them on demand from `_demand` (Deno).
import { acceptAll } from "./accept_all.ts";
import { ListenerClosedError } from "./errors.ts";
import { mapError } from "./_map_error.ts";
import { opened, released } from "./_resources.ts";
import type {
  AbortOptions,
  AcceptReadiness,
  Addr,
  Conn,
  Listener,
  ReadinessOptions,
} from "./types.ts";

/**
 * An accept() or an iterator's next() waiting for a conn. No closure of its
 * own unless it has a signal: one accept per conn is the hot path.
 */
interface Waiter {
  resolve(value: Conn | IteratorResult<Conn, void>): void;
  reject(err: unknown): void;
  /** A next() of {@linkcode ConnIterator}: takes an iterator result, ends (not rejects) at close. */
  iterator: ConnIterator | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Stops listening to a waiter's signal (it was answered). */
function release(waiter: Waiter): void {
  if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
}

const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });

/**
 * The default backlog: the kernel accept queue and the bound on the adapter's
 * queue of accepted connections. Linux caps the kernel's at
 * `net.core.somaxconn` (4096 since Linux 5.4, 128 before), so asking for
 * 4096 gets the most the kernel allows without reading /proc. Node's 511 left
 * 30-47 % of a 5,000-connect burst retrying SYNs for over 15 s.
 */
export const DEFAULT_BACKLOG = 4096;

/** Validates a `backlog` option. */
export function checkBacklog(backlog: unknown): number {
  if (backlog === undefined) return DEFAULT_BACKLOG;
  if (typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 1) {
    throw new RangeError(
      `Cannot listen: backlog must be a positive integer, received ${String(backlog)}`,
    );
  }
  return backlog;
}

/** The shared part of every adapter's {@linkcode Listener}. */
export abstract class BaseListener implements Listener {
  abstract readonly addr: Addr;
  abstract readonly fd: number | undefined;
  abstract readonly native: unknown;

  #closed = false;
  #dropped = 0;
  readonly #bound: number;
  readonly #queue: Conn[] = [];
  readonly #waiters: Waiter[] = [];
  #acceptWatch: ((state: AcceptReadiness) => void) | null = null;

  constructor(bound: number) {
    this.#bound = bound;
    opened("listeners");
  }

  /** Closes the native listener. */
  protected abstract _close(): void | Promise<void>;

  /** Called when accept() waits and nothing is queued (pull-based runtimes). */
  protected _demand(): void {}

  /** How many accept() calls (and readiness watches, while the queue has room) wait. */
  protected get _waiting(): number {
    const watching = this.#acceptWatch !== null && this.#queue.length < this.#bound;
    return this.#waiters.length + (watching ? 1 : 0);
  }

  /** Hands an accepted conn to a waiter, or queues it (bounded). */
  protected _deliver(conn: Conn): void {
    if (this.#closed) {
      conn.close();
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      release(waiter);
      waiter.resolve(waiter.iterator === null ? conn : { done: false, value: conn });
      return;
    }
    if (this.#queue.length >= this.#bound) {
      this.#dropped++;
      conn.close();
      return;
    }
    this.#queue.push(conn);
    if (this.#acceptWatch !== null) this.#acceptReady("ready");
  }

  /** Fails the oldest waiter with an accept error (EMFILE and the like). */
  protected _fail(err: unknown): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      if (this.#acceptWatch !== null) this.#acceptReady("error");
      return;
    }
    release(waiter);
    waiter.reject(mapError(err, "accept"));
    const iterator = waiter.iterator;
    if (iterator === null) return;
    // As a generator that threw: the iteration is over, for its other next() calls too.
    iterator.done = true;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const other = this.#waiters[i];
      if (other.iterator !== iterator) continue;
      this.#waiters.splice(i, 1);
      other.resolve(DONE);
    }
  }

  whenAcceptable(
    callback: ((state: AcceptReadiness) => void) | null,
    options?: ReadinessOptions,
  ): void {
    if (callback !== null && typeof callback !== "function") {
      throw new TypeError("Cannot watch acceptability: the callback must be a function or null");
    }
    this.#acceptWatch = callback;
    if (callback === null) return;
    if (this.#closed || (options?.edge !== true && this.#queue.length > 0)) {
      queueMicrotask(() => {
        if (this.#acceptWatch !== callback) return;
        if (this.#closed) this.#acceptReady("closed");
        else if (this.#queue.length > 0) this.#acceptReady("ready");
        else this._demand(); // an accept() took it: wait for the next one
      });
      return;
    }
    this._demand();
  }

  #acceptReady(state: AcceptReadiness): void {
    const callback = this.#acceptWatch;
    if (callback === null) return;
    this.#acceptWatch = null;
    callback(state);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get pending(): number | undefined {
    return this.#queue.length;
  }

  get dropped(): number {
    return this.#dropped;
  }

  accept(options?: AbortOptions): Promise<Conn> {
    if (this.#closed) {
      return Promise.reject(new ListenerClosedError("Cannot accept: the listener is closed"));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<Conn>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: resolve as Waiter["resolve"],
        reject,
        iterator: null,
        signal,
        onAbort: undefined,
      };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
      this._demand();
    });
  }

  /**
   * @internal {@linkcode ConnIterator.next}: what `acceptAll(this)` does,
   * with one promise per conn instead of three (accept's, its `then`, the
   * iterator's): a waiting next() is resolved with its iterator result
   * directly, and ends the iteration when the listener closes.
   */
  _next(iterator: ConnIterator): Promise<IteratorResult<Conn, void>> {
    if (iterator.done || this.#closed) {
      iterator.done = true;
      return Promise.resolve(DONE);
    }
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve({ done: false, value: queued });
    return new Promise<IteratorResult<Conn, void>>((resolve, reject) => {
      this.#waiters.push({
        resolve: resolve as Waiter["resolve"],
        reject,
        iterator,
        signal: undefined,
        onAbort: undefined,
      });
      this._demand();
    });
  }

  /**
   * Iterates the conns until the listener closes, as `acceptAll(this)`
   * does (through this object's accept(), where a subclass overrides it).
   */
  [Symbol.asyncIterator](): AsyncIterator<Conn> {
    if (this.accept !== BaseListener.prototype.accept) return acceptAll<Conn>(this);
    return new ConnIterator(this);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new ListenerClosedError("Cannot accept: the listener is closed");
    for (const waiter of this.#waiters.splice(0)) {
      release(waiter);
      if (waiter.iterator === null) waiter.reject(err);
      else {
        waiter.iterator.done = true;
        waiter.resolve(DONE);
      }
    }
    for (const conn of this.#queue.splice(0)) conn.close();
    if (this.#acceptWatch !== null) this.#acceptReady("closed");
    try {
      await this._close();
    } finally {
      released("listeners");
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Whether `listener` is one of the adapters' listeners iterating with its
 * own iterator (it does not override accept()): each next() then costs one
 * promise, against three for `acceptAll()` over its accept().
 */
export function iteratesOwn(listener: unknown): boolean {
  return listener instanceof BaseListener && listener.accept === BaseListener.prototype.accept;
}

/**
 * A {@linkcode BaseListener}'s own iterator (see `_next`). As a generator's,
 * next() calls made while one is pending are answered in order; after
 * return(), a failed accept or the close, next() is done. A conn accepted
 * for a next() made before return() is still handed out (dropping it would
 * leak it).
 */
class ConnIterator implements AsyncIterator<Conn, void, undefined> {
  readonly #listener: BaseListener;
  /** No more conns: returned, failed or closed. */
  done = false;

  constructor(listener: BaseListener) {
    this.#listener = listener;
  }

  next(): Promise<IteratorResult<Conn, void>> {
    return this.#listener._next(this);
  }

  return(): Promise<IteratorResult<Conn, void>> {
    this.done = true;
    return Promise.resolve(DONE);
  }

  throw(err: unknown): Promise<IteratorResult<Conn, void>> {
    this.done = true;
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.done = true;
    return Promise.resolve();
  }
}
