// Internal: what every adapter's Conn shares (deadlines, write ordering, close,
// lazy web streams, leak accounting). Runtime-free: subclasses supply the I/O.
import { readableOf, writableOf } from "./conn_streams.ts";
import { ClosedError } from "./errors.ts";
import type { ChunkQueue } from "./_chunk_queue.ts";
import { type Cuttable, DeadlineClock } from "./_deadline.ts";
import { mapError } from "./_map_error.ts";
import { opened, released } from "./_resources.ts";
import type {
  Addr,
  Conn,
  Deadline,
  ReadinessOptions,
  ReadReadiness,
  WriteReadiness,
} from "./types.ts";

/**
 * Handed to a subclass's read or write. `cancelled` turns true when the
 * caller was answered already (deadline passed, conn closed): the operation
 * must then not hand data to the caller's buffer any more.
 */
export interface OpToken {
  cancelled: boolean;
}

/** A read or write readiness callback. */
type ReadWatch = (state: ReadReadiness) => void;
type WriteWatch = (state: WriteReadiness) => void;

function checkWatch(callback: unknown, action: string): void {
  if (callback !== null && typeof callback !== "function") {
    throw new TypeError(`Cannot ${action}: the callback must be a function or null`);
  }
}

/**
 * A guarded operation, as the clock sees it: a deadline or a close cuts it
 * (the caller is answered, the token cancelled) unless it finished first.
 */
class GuardOp implements Cuttable {
  #done = false;
  readonly #token: OpToken;
  readonly #reject: (err: Error) => void;

  constructor(token: OpToken, reject: (err: Error) => void) {
    this.#token = token;
    this.#reject = reject;
  }

  cut(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#token.cancelled = true;
    this.#reject(err);
  }

  /** The operation settled: true if the caller is still to be answered (it was not cut). */
  finish(clock: DeadlineClock): boolean {
    if (this.#done) return false;
    this.#done = true;
    clock.delete(this);
    return true;
  }
}

/** The shared part of every adapter's {@linkcode Conn}. */
export abstract class BaseConn implements Conn {
  abstract readonly localAddr: Addr;
  abstract readonly remoteAddr: Addr;
  abstract readonly native: unknown;
  abstract readonly fd: number | undefined;

  #closeCalled = false;
  /** closeWrite() was called: writes fail with ClosedError on every runtime. */
  #writeShut = false;
  #gone = false;
  readonly #readClock = new DeadlineClock("read");
  readonly #writeClock = new DeadlineClock("write");
  #writeTail: Promise<void> | null = null;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  // Readiness (whenReadable / whenWritable): one one-shot watch per side.
  #readWatch: ReadWatch | null = null;
  #readFire: ReadWatch | undefined;
  #writeWatch: WriteWatch | null = null;
  #writeFailed = false;
  /**
   * Set by push-based adapters (node:net, Bun): reads are served from this
   * queue, which settles them itself, so `_read` is never called.
   */
  protected _queue: ChunkQueue | undefined = undefined;

  constructor() {
    opened("conns");
  }

  /**
   * A read that settles itself, registered with `clock` (see PendingRead),
   * or `undefined` to go through `_read` (and a guard) instead.
   */
  protected _readDirect(
    _buf: Uint8Array,
    _clock: DeadlineClock,
  ): Promise<number | null> | undefined {
    return undefined;
  }
  /** Reads into `buf`; resolves with the count or `null` at EOF (unless `_queue` is set). */
  protected _read(_buf: Uint8Array, _token: OpToken): Promise<number | null> {
    return Promise.reject(new TypeError("Cannot read: this connection has no reader"));
  }
  /**
   * Writes all of `bytes` (possibly none, after a partial `_tryWrite`),
   * then waits until the runtime can take more.
   */
  protected abstract _write(bytes: Uint8Array, token: OpToken): Promise<void>;
  /**
   * Hands `bytes` to the runtime now, if it can: returns how many it took,
   * or -1 if this runtime has no synchronous write (then `_write` does all).
   */
  protected _tryWrite(_bytes: Uint8Array): number {
    return -1;
  }
  /** Whether the runtime can take more bytes now (no drain to wait for). */
  protected _writable(): boolean {
    return true;
  }
  /** Sends FIN. */
  protected abstract _closeWrite(): Promise<void>;
  /** Closes the native socket; must end in `_released()` once it is gone. */
  protected abstract _close(): void;
  abstract setNoDelay(noDelay?: boolean): void;
  abstract setKeepAlive(keepAlive?: boolean, delayMs?: number): void;

  /**
   * Starts (`fire` set) or cancels (`null`) the adapter's read readiness
   * watch: call `fire` once, never synchronously, with what the next read
   * meets; level (`edge` false) fires at once when data or an end waits.
   */
  protected _watchReadable(_fire: ReadWatch | null, _edge: boolean): void {
    throw new TypeError("Cannot watch readability: this connection has no readiness");
  }

  /** Subclasses call this once the native socket is really gone. */
  protected _released(): void {
    if (this.#gone) return;
    this.#gone = true;
    released("conns");
  }

  get closed(): boolean {
    return this.#closeCalled || this.#gone;
  }

  read(buf: Uint8Array): Promise<number | null> {
    if (!(buf instanceof Uint8Array)) {
      return Promise.reject(new TypeError("Cannot read: the buffer must be a Uint8Array"));
    }
    if (this.#closeCalled) {
      return Promise.reject(new ClosedError("Cannot read: the connection is closed"));
    }
    const clock = this.#readClock;
    if (clock.expired) return Promise.reject(clock.error());
    // A queue settles its reads itself, registered with the clock.
    const queue = this._queue;
    if (queue !== undefined) return queue.read(buf, clock);
    const direct = this._readDirect(buf, clock);
    if (direct !== undefined) return direct;
    const token: OpToken = { cancelled: false };
    return this.#guard(clock, token, this._read(buf, token), "read");
  }

  write(bytes: Uint8Array): Promise<number> {
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(new TypeError("Cannot write: the data must be a Uint8Array"));
    }
    if (this.#closeCalled) {
      return Promise.reject(new ClosedError("Cannot write: the connection is closed"));
    }
    if (this.#writeShut) {
      // Deno's own error here is BrokenPipe (a reset), node:net's and Bun's a
      // closed socket: the caller shut this side itself, so ClosedError.
      return Promise.reject(
        new ClosedError("Cannot write: the connection is closed for writing (closeWrite)"),
      );
    }
    if (this.#writeClock.expired) return Promise.reject(this.#writeClock.error());
    const n = bytes.byteLength;
    if (n === 0) return Promise.resolve(0);
    const token: OpToken = { cancelled: false };
    const prev = this.#writeTail;
    let rest = bytes;
    if (prev === null) {
      // Fast path: the runtime takes the bytes at once.
      const taken = this._tryWrite(bytes);
      if (taken === n && this._writable()) return Promise.resolve(n);
      if (taken >= 0) rest = bytes.subarray(taken);
    }
    const inner = prev === null
      ? this._write(rest, token)
      : prev.then(() => (token.cancelled ? undefined : this._write(rest, token)));
    return this.#guardWrite(token, inner, n);
  }

  /**
   * A write's promise (resolves with `n`), settled with `inner` unless the
   * write clock or a close answers first; and the write tail (`inner` done,
   * either way), which the next write waits for. One `then` on `inner` does
   * both (a write that waits costs the guard's promise and the tail's).
   */
  #guardWrite(token: OpToken, inner: Promise<void>, n: number): Promise<number> {
    const clock = this.#writeClock;
    return new Promise<number>((resolve, reject) => {
      const op = new GuardOp(token, reject);
      clock.add(op);
      const tail: Promise<void> = inner.then(
        () => {
          this.#writeEnded(tail);
          if (op.finish(clock)) resolve(n);
        },
        (err) => {
          this.#writeFailed = true;
          this.#writeEnded(tail);
          if (op.finish(clock)) reject(this.#failure(err, "write"));
        },
      );
      this.#writeTail = tail;
    });
  }

  /** `tail`'s write is done: if no write was queued behind it, none waits now. */
  #writeEnded(tail: Promise<void>): void {
    if (this.#writeTail !== tail) return;
    this.#writeTail = null;
    if (this.#writeWatch !== null) this.#writeReady();
  }

  async closeWrite(): Promise<void> {
    if (this.#closeCalled) throw new ClosedError("Cannot close write: the connection is closed");
    this.#writeShut = true;
    if (this.#writeTail !== null) await this.#writeTail;
    try {
      await this._closeWrite();
    } catch (err) {
      throw mapError(err, "close write");
    }
  }

  close(): void {
    if (this.#closeCalled) return;
    this.#closeCalled = true;
    this.#readClock.failAll(() => new ClosedError("Cannot read: the connection is closed"));
    this.#writeClock.failAll(() => new ClosedError("Cannot write: the connection is closed"));
    this._close();
    if (this.#readWatch !== null) this.#readReady("closed");
    if (this.#writeWatch !== null) this.#writeReady();
  }

  whenReadable(callback: ReadWatch | null, options?: ReadinessOptions): void {
    checkWatch(callback, "watch readability");
    this.#readWatch = callback;
    if (callback === null) {
      this._watchReadable(null, false);
    } else if (this.#closeCalled) {
      queueMicrotask(() => this.#readReady("closed"));
    } else {
      this.#readFire ??= (state) => this.#readReady(state);
      this._watchReadable(this.#readFire, options?.edge === true);
    }
  }

  whenWritable(callback: WriteWatch | null, options?: ReadinessOptions): void {
    checkWatch(callback, "watch writability");
    this.#writeWatch = callback;
    // Edge: wait for the writes in flight to complete (nothing happens until
    // some write waits). Level: also fire now if no write waits.
    if (callback !== null && (this.#closeCalled || options?.edge !== true)) {
      queueMicrotask(() => {
        if (this.#writeWatch === callback) this.#writeReady();
      });
    }
  }

  #readReady(state: ReadReadiness): void {
    const callback = this.#readWatch;
    if (callback === null) return;
    this.#readWatch = null;
    callback(this.#closeCalled ? "closed" : state);
  }

  /** Fires the write watch, unless a write still waits for the runtime. */
  #writeReady(): void {
    const callback = this.#writeWatch;
    if (callback === null) return;
    if (!this.#closeCalled && (this.#writeTail !== null || !this._writable())) return;
    this.#writeWatch = null;
    callback(this.#closeCalled ? "closed" : this.#writeFailed ? "error" : "ready");
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  setReadDeadline(deadline: Deadline): void {
    this.#readClock.set(deadline);
  }

  setWriteDeadline(deadline: Deadline): void {
    this.#writeClock.set(deadline);
  }

  setDeadline(deadline: Deadline): void {
    this.#readClock.set(deadline);
    this.#writeClock.set(deadline);
  }

  get readable(): ReadableStream<Uint8Array> {
    return (this.#readable ??= readableOf(this));
  }

  get writable(): WritableStream<Uint8Array> {
    return (this.#writable ??= writableOf(this));
  }

  /** Settles with `inner`, unless the clock or a close answers first. */
  #guard<T>(clock: DeadlineClock, token: OpToken, inner: Promise<T>, action: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op = new GuardOp(token, reject);
      clock.add(op);
      inner.then(
        (value) => {
          if (op.finish(clock)) resolve(value);
        },
        (err) => {
          if (op.finish(clock)) reject(this.#failure(err, action));
        },
      );
    });
  }

  /** What a guarded operation that failed rejects with. */
  #failure(err: unknown, action: string): Error {
    return this.#closeCalled
      ? new ClosedError(`Cannot ${action}: the connection is closed`, { cause: err })
      : mapError(err, action);
  }
}
