/**
 * The in-process channel: Go's `chan T` for promises.
 *
 * Internals: a ring buffer of values, and two doubly linked FIFO queues of
 * waiters (pending senders, pending receivers, see `_wait_queue.ts`), which
 * {@linkcode select} and the networked channels join through
 * `channelHooks`. A waiter is unlinked in O(1) when it is served, aborted,
 * or when a sibling case of its select wins. Invariant: a value is handed
 * over synchronously, in one turn of the event loop, so no value is lost or
 * delivered twice.
 *
 * @module
 */
import { ChannelClosedError } from "./errors.ts";
import { channelHooks, checkSignal, NONE, unlink, type Waiter, WaitQueue } from "./_wait_queue.ts";

/**
 * What {@linkcode Channel.tryReceive} returns: a value (`"ok"`), nothing ready
 * yet (`"empty"`), or closed and drained (`"closed"`).
 *
 * @typeParam T The channel's value type.
 */
export type TryReceiveResult<T> =
  | { state: "ok"; value: T }
  | { state: "empty" }
  | { state: "closed" };

/** Options of a channel operation that may wait. */
export interface ChannelWaitOptions {
  /**
   * Gives up the wait: the promise rejects with the signal's reason and the
   * operation has no effect (an aborted send's value is not delivered; an
   * aborted receive takes no value). A signal that is already aborted
   * rejects at once, even when the operation could complete.
   */
  signal?: AbortSignal;
}

const EMPTY: unique symbol = Symbol("empty");
const CLOSED: unique symbol = Symbol("closed");
const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY_RESULT: { state: "empty" } = Object.freeze({ state: "empty" as const });
const CLOSED_RESULT: { state: "closed" } = Object.freeze({ state: "closed" as const });
const DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true as const,
  value: undefined,
});

// What a waiting OpWaiter does (a numeric tag; no enum, for type stripping).
type Mode = 0 | 1 | 2;
const SEND: Mode = 0;
const RECEIVE: Mode = 1;
const ITERATE: Mode = 2;

/** A plain send, receive or iteration step waiting in a queue. */
class OpWaiter<T> implements Waiter<T> {
  prev: Waiter<T> | null = null;
  next: Waiter<T> | null = null;
  queue: WaitQueue<T> | null = null;
  value: T;
  readonly #mode: Mode;
  readonly #resolve: (value: T | typeof DONE) => void;
  readonly #reject: (reason: unknown) => void;
  #signal: AbortSignal | undefined;

  constructor(
    mode: Mode,
    value: T,
    resolve: (value: T | typeof DONE) => void,
    reject: (reason: unknown) => void,
    signal: AbortSignal | undefined,
  ) {
    this.#mode = mode;
    this.value = value;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    if (signal !== undefined) signal.addEventListener("abort", this, { once: true });
  }

  /** The abort listener (an object listener saves a closure per wait). */
  handleEvent(): void {
    const signal = this.#signal!;
    this.#signal = undefined;
    unlink(this);
    this.#reject(signal.reason);
  }

  complete(value: T): void {
    this.#unlisten();
    this.#resolve(value);
  }

  fail(): void {
    this.#unlisten();
    if (this.#mode === ITERATE) this.#resolve(DONE);
    else {
      this.#reject(
        new ChannelClosedError(
          this.#mode === SEND
            ? "Cannot send: channel is closed"
            : "Cannot receive: channel is closed",
        ),
      );
    }
  }

  #unlisten(): void {
    if (this.#signal !== undefined) {
      this.#signal.removeEventListener("abort", this);
      this.#signal = undefined;
    }
  }
}

/**
 * A Go-style channel: a typed FIFO pipe between async tasks, with an
 * optional buffer and backpressure.
 *
 * - **Capacity 0** (the default) is a rendezvous: {@linkcode Channel.send}
 *   resolves only once a receiver has taken the value.
 * - **Capacity n** buffers up to n values; `send` waits while the buffer is
 *   full.
 * - **FIFO**: values come out in the order they went in; waiting senders
 *   and waiting receivers are served in the order they started waiting.
 * - **Close**: {@linkcode Channel.close} makes further sends fail with
 *   {@linkcode ChannelClosedError} (Go panics there) and rejects the senders
 *   still waiting; receivers first drain the buffered values, then get
 *   {@linkcode ChannelClosedError} (`for await` just ends).
 * - **Cancellation**: every waiting call takes an `AbortSignal`; an aborted
 *   call has no effect on the channel.
 * - Use {@linkcode select} to wait on several channels at once.
 *
 * `undefined` is a valid value, which is why {@linkcode Channel.tryReceive}
 * returns a tagged result. Promises (thenables) sent through a channel are
 * unwrapped by the receiving `await`, as everywhere in JavaScript.
 *
 * @typeParam T The type of the values the channel carries.
 *
 * @example A producer and a consumer
 * ```ts
 * import { Channel } from "@netkit/netkit/chan";
 *
 * const ch = new Channel<number>(2);
 * const producer = (async () => {
 *   for (let i = 0; i < 5; i++) await ch.send(i);
 *   ch.close();
 * })();
 *
 * const received: number[] = [];
 * for await (const n of ch) received.push(n);
 * await producer;
 * console.log(received); // [0, 1, 2, 3, 4]
 * ```
 *
 * @example Closing with `await using`
 * ```ts
 * import { Channel } from "@netkit/netkit/chan";
 *
 * let ref: Channel<string>;
 * {
 *   await using ch = new Channel<string>(1);
 *   ref = ch;
 *   await ch.send("hi");
 * }
 * console.log(ref.closed); // true
 * ```
 */
export class Channel<T> implements AsyncIterable<T>, AsyncDisposable {
  readonly #capacity: number;
  // Ring buffer: #len values from #buf[#head], wrapping around.
  #buf: (T | undefined)[] = [];
  #head = 0;
  #len = 0;
  readonly #senders: WaitQueue<T> = new WaitQueue<T>();
  readonly #receivers: WaitQueue<T> = new WaitQueue<T>();
  #closed = false;
  #onClose: Set<() => void> | null = null;

  static {
    channelHooks.canReceive = (ch) => ch.#len > 0 || ch.#senders.head !== null || ch.#closed;
    channelHooks.canSend = (ch) => ch.#receivers.head !== null || ch.#len < ch.#capacity;
    channelHooks.hasValues = (ch) => ch.#len > 0 || ch.#senders.head !== null;
    channelHooks.poll = (ch) => {
      const value = ch.#poll();
      return value === EMPTY || value === CLOSED ? NONE : value;
    };
    channelHooks.waitReceive = (ch, w) => ch.#receivers.push(w);
    channelHooks.waitSend = (ch, w) => ch.#senders.push(w);
    channelHooks.onClose = (ch, fn) => {
      (ch.#onClose ??= new Set()).add(fn);
      return () => ch.#onClose?.delete(fn);
    };
    channelHooks.requeue = (ch, values) => ch.#requeue(values);
  }

  /**
   * Makes a channel.
   *
   * @param capacity How many values the channel buffers: 0 (the default)
   *   makes a rendezvous channel, where a send waits for a receiver.
   * @throws {TypeError} If `capacity` is not a number.
   * @throws {RangeError} If `capacity` is not a non-negative integer.
   *
   * @example A rendezvous and a buffered channel
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const unbuffered = new Channel<string>();
   * const buffered = new Channel<string>(16);
   * console.log(unbuffered.capacity, buffered.capacity); // 0 16
   * ```
   */
  constructor(capacity: number = 0) {
    if (typeof capacity !== "number") {
      throw new TypeError(
        `Cannot create channel: capacity must be a number, received ${typeof capacity}`,
      );
    }
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError(
        `Cannot create channel: capacity must be a non-negative integer, received ${capacity}`,
      );
    }
    this.#capacity = capacity;
  }

  /**
   * How many values the channel buffers (0 for a rendezvous channel).
   *
   * @returns The capacity given to the constructor.
   *
   * @example Reading the capacity
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * console.log(new Channel<number>(8).capacity); // 8
   * ```
   */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * How many values are buffered, waiting for a receiver (Go's `len(ch)`).
   * Values of senders that wait for buffer space are not counted.
   *
   * @returns The number of buffered values, from 0 to {@linkcode Channel.capacity}.
   *
   * @example Watching the buffer fill
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<number>(4);
   * await ch.send(1);
   * await ch.send(2);
   * console.log(ch.size); // 2
   * ```
   */
  get size(): number {
    return this.#len;
  }

  /**
   * Whether {@linkcode Channel.close} was called. A closed channel may still
   * hold buffered values for receivers.
   *
   * @returns `true` once the channel is closed.
   *
   * @example Checking for close
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<number>();
   * console.log(ch.closed); // false
   * ch.close();
   * console.log(ch.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends a value: hands it to a waiting receiver, or buffers it, or waits
   * until one of the two is possible. On a rendezvous channel the promise
   * resolves once a receiver has taken the value.
   *
   * Waiting senders are served in FIFO order. If the signal aborts while the
   * send waits, the value is not delivered and the promise rejects with the
   * signal's reason; if a receiver took the value first, the promise
   * resolves.
   *
   * @param value The value to send.
   * @param options `signal` to give up waiting.
   * @returns A promise that resolves once the value is buffered or received.
   * @throws {ChannelClosedError} (rejects) If the channel is closed, or
   *   closes while the send waits.
   * @throws {TypeError} If `options` or `options.signal` has the wrong type.
   *
   * @example Sending to a waiting receiver
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<string>();
   * const received = ch.receive();
   * await ch.send("ping");
   * console.log(await received); // "ping"
   * ```
   *
   * @example Giving up with a timeout
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<string>(); // nobody receives
   * try {
   *   await ch.send("lost", { signal: AbortSignal.timeout(10) });
   * } catch (err) {
   *   console.log((err as Error).name); // "TimeoutError"
   * }
   * ```
   */
  send(value: T, options?: ChannelWaitOptions): Promise<void> {
    const signal = checkSignal(options, "send");
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    if (this.#closed) {
      return Promise.reject(new ChannelClosedError("Cannot send: channel is closed"));
    }
    if (this.#offer(value)) return RESOLVED;
    return new Promise<void>((resolve, reject) => {
      this.#senders.push(
        new OpWaiter<T>(SEND, value, resolve as () => void, reject, signal),
      );
    });
  }

  /**
   * Sends a value if that can be done without waiting (Go's `select` with a
   * `default` case).
   *
   * @param value The value to send.
   * @returns `true` if the value was handed to a waiting receiver or
   *   buffered, `false` if the send would have to wait.
   * @throws {ChannelClosedError} If the channel is closed.
   *
   * @example Dropping values when the consumer lags
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<number>(1);
   * console.log(ch.trySend(1)); // true
   * console.log(ch.trySend(2)); // false: the buffer is full
   * ```
   */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChannelClosedError("Cannot send: channel is closed");
    return this.#offer(value);
  }

  /**
   * Receives the next value: a buffered one, or one from a waiting sender,
   * or waits for a send. Waiting receivers are served in FIFO order; each
   * value goes to exactly one receiver.
   *
   * @param options `signal` to give up waiting; an aborted receive takes no
   *   value.
   * @returns A promise of the next value.
   * @throws {ChannelClosedError} (rejects) If the channel is closed and has
   *   no buffered value left, or closes while the receive waits.
   * @throws {TypeError} If `options` or `options.signal` has the wrong type.
   *
   * @example Receiving buffered values
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<number>(2);
   * await ch.send(1);
   * await ch.send(2);
   * console.log(await ch.receive(), await ch.receive()); // 1 2
   * ```
   *
   * @example Draining a closed channel
   * ```ts
   * import { Channel, ChannelClosedError } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<number>(1);
   * await ch.send(7);
   * ch.close();
   * console.log(await ch.receive()); // 7
   * await ch.receive().catch((err) => {
   *   console.log(err instanceof ChannelClosedError); // true
   * });
   * ```
   */
  receive(options?: ChannelWaitOptions): Promise<T> {
    const signal = checkSignal(options, "receive");
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    const value = this.#poll();
    if (value === EMPTY) {
      return new Promise<T>((resolve, reject) => {
        this.#receivers.push(
          new OpWaiter<T>(
            RECEIVE,
            undefined as T,
            resolve as (value: T | typeof DONE) => void,
            reject,
            signal,
          ),
        );
      });
    }
    if (value === CLOSED) {
      return Promise.reject(new ChannelClosedError("Cannot receive: channel is closed"));
    }
    return Promise.resolve(value);
  }

  /**
   * Receives a value if one is ready, without waiting (Go's `select` with a
   * `default` case, or `v, ok := <-ch` on a closed channel).
   *
   * @returns `{ state: "ok", value }` with the next value, `{ state: "empty" }`
   *   if none is ready, or `{ state: "closed" }` if the channel is closed and
   *   drained.
   *
   * @example Polling a channel
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<number>(1);
   * console.log(ch.tryReceive()); // { state: "empty" }
   * ch.trySend(1);
   * console.log(ch.tryReceive()); // { state: "ok", value: 1 }
   * ch.close();
   * console.log(ch.tryReceive()); // { state: "closed" }
   * ```
   */
  tryReceive(): TryReceiveResult<T> {
    const value = this.#poll();
    if (value === EMPTY) return EMPTY_RESULT;
    if (value === CLOSED) return CLOSED_RESULT;
    return { state: "ok", value };
  }

  /**
   * Closes the channel. Senders that wait reject with
   * {@linkcode ChannelClosedError}, and so does every later send; receivers
   * get the buffered values, then reject with {@linkcode ChannelClosedError};
   * `for await` loops end. Closing a closed channel does nothing.
   *
   * @example Ending a consumer's loop
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<string>(2);
   * await ch.send("a");
   * await ch.send("b");
   * ch.close();
   * for await (const s of ch) console.log(s); // "a", then "b"
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Senders first: a select with a send case on this channel rejects.
    for (let w = this.#senders.shift(); w !== null; w = this.#senders.shift()) w.fail();
    for (let w = this.#receivers.shift(); w !== null; w = this.#receivers.shift()) w.fail();
    const watchers = this.#onClose;
    if (watchers !== null) {
      this.#onClose = null;
      for (const fn of watchers) fn();
    }
  }

  /**
   * Closes the channel, so that `await using ch = new Channel()` closes it
   * at the end of the block.
   *
   * @returns A promise that resolves once the channel is closed.
   *
   * @example Closing at the end of a block
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<number>();
   * await ch[Symbol.asyncDispose]();
   * console.log(ch.closed); // true
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return RESOLVED;
  }

  /**
   * Iterates over the received values until the channel is closed and
   * drained (Go's `for v := range ch`). Leaving the loop early does not close
   * the channel. Several loops may consume one channel; each value goes to
   * one of them.
   *
   * @returns An async iterator of the received values.
   *
   * @example Ranging over a channel
   * ```ts
   * import { Channel } from "@netkit/netkit/chan";
   *
   * const ch = new Channel<number>(3);
   * for (const n of [1, 2, 3]) await ch.send(n);
   * ch.close();
   * let sum = 0;
   * for await (const n of ch) sum += n;
   * console.log(sum); // 6
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    const next = (): Promise<IteratorResult<T, undefined>> => {
      const value = this.#poll();
      if (value === CLOSED) return Promise.resolve(DONE);
      if (value !== EMPTY) return Promise.resolve({ done: false, value });
      return new Promise<T | typeof DONE>((resolve, reject) => {
        this.#receivers.push(new OpWaiter<T>(ITERATE, undefined as T, resolve, reject, undefined));
      }).then((v) => v === DONE ? DONE : { done: false, value: v as T });
    };
    const iterator: AsyncIterableIterator<T> = {
      next,
      return: (): Promise<IteratorResult<T, undefined>> => Promise.resolve(DONE),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Delivers `value` now if possible (the channel must be open). */
  #offer(value: T): boolean {
    const receiver = this.#receivers.shift();
    if (receiver !== null) {
      receiver.complete(value);
      return true;
    }
    if (this.#len < this.#capacity) {
      this.#push(value);
      return true;
    }
    return false;
  }

  /** Takes the next value now if possible. */
  #poll(): T | typeof EMPTY | typeof CLOSED {
    if (this.#len > 0) {
      const value = this.#shift();
      // Under capacity again (the buffer may hold requeued values past it).
      const sender = this.#len < this.#capacity ? this.#senders.shift() : null;
      if (sender !== null) {
        this.#push(sender.value);
        sender.complete(sender.value);
      }
      return value;
    }
    const sender = this.#senders.shift();
    if (sender !== null) {
      const value = sender.value;
      sender.complete(value);
      return value;
    }
    return this.#closed ? CLOSED : EMPTY;
  }

  #push(value: T): void {
    const buf = this.#buf;
    if (this.#len === buf.length) {
      this.#grow();
      this.#buf[this.#len++] = value;
      return;
    }
    let i = this.#head + this.#len;
    if (i >= buf.length) i -= buf.length;
    buf[i] = value;
    this.#len++;
  }

  #shift(): T {
    const buf = this.#buf;
    const value = buf[this.#head] as T;
    buf[this.#head] = undefined;
    this.#head = this.#head + 1 === buf.length ? 0 : this.#head + 1;
    this.#len--;
    return value;
  }

  /** Puts values back at the front (see `channelHooks.requeue`). */
  #requeue(values: readonly T[]): void {
    let i = 0;
    // Receivers wait only while the buffer is empty and no sender waits.
    while (i < values.length && this.#len === 0) {
      const receiver = this.#receivers.shift();
      if (receiver === null) break;
      receiver.complete(values[i++]);
    }
    const need = this.#len + values.length - i;
    if (need > this.#buf.length) this.#grow(need);
    for (let j = values.length - 1; j >= i; j--) {
      this.#head = this.#head === 0 ? this.#buf.length - 1 : this.#head - 1;
      this.#buf[this.#head] = values[j];
      this.#len++;
    }
  }

  /**
   * Doubles the ring (up to the capacity, or to `min` for requeued values)
   * and unwraps it to start at 0.
   */
  #grow(min: number = 0): void {
    const old = this.#buf;
    const size = Math.max(Math.min(Math.max(old.length * 2, 8), this.#capacity), min);
    const buf = new Array<T | undefined>(size);
    for (let i = 0; i < this.#len; i++) {
      let j = this.#head + i;
      if (j >= old.length) j -= old.length;
      buf[i] = old[j];
    }
    this.#buf = buf;
    this.#head = 0;
  }
}
