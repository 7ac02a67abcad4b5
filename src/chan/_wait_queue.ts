// Internal: the wait queues of a Channel, and the hooks through which
// select() and the networked channels (exporter, importer) take part in
// them without going through promises. Not re-exported by mod.ts.
import type { Channel } from "./channel.ts";

/**
 * A pending send or receive, linked into one channel's wait queue. The
 * channel unlinks the waiter before it calls `complete` or `fail`.
 */
export interface Waiter<T> {
  /** Previous waiter in the queue. */
  prev: Waiter<T> | null;
  /** Next waiter in the queue. */
  next: Waiter<T> | null;
  /** The queue the waiter is linked into, or `null`. */
  queue: WaitQueue<T> | null;
  /** A sender's value (unused by receivers). */
  value: T;
  /** A receiver got `value`, or a sender's value was taken (`value` unused). */
  complete(value: T): void;
  /** The channel closed while the waiter waited. */
  fail(): void;
}

/** A FIFO of waiters with O(1) push, shift and removal. */
export class WaitQueue<T> {
  /** The first waiter. */
  head: Waiter<T> | null = null;
  /** The last waiter. */
  tail: Waiter<T> | null = null;

  /** Appends `w`. */
  push(w: Waiter<T>): void {
    w.queue = this;
    w.prev = this.tail;
    w.next = null;
    if (this.tail === null) this.head = w;
    else this.tail.next = w;
    this.tail = w;
  }

  /** Removes and returns the first waiter, or `null`. */
  shift(): Waiter<T> | null {
    const w = this.head;
    if (w !== null) this.remove(w);
    return w;
  }

  /** Unlinks `w`; no-op when `w` is not in this queue. */
  remove(w: Waiter<T>): void {
    if (w.queue !== this) return;
    if (w.prev === null) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = null;
    w.next = null;
    w.queue = null;
  }
}

/** Unlinks `w` from whatever queue it is in. */
export function unlink<T>(w: Waiter<T>): void {
  if (w.queue !== null) w.queue.remove(w);
}

/** What {@linkcode ChannelHooks.poll} returns when it takes no value. */
export const NONE: unique symbol = Symbol("none");

/** What select and the networked channels need to see of a channel. */
export interface ChannelHooks {
  /**
   * Takes the next value now if possible (like `tryReceive`, without the
   * result object); {@linkcode NONE} if the channel is empty or closed and
   * drained (then `ch.closed` tells which).
   */
  poll<T>(ch: Channel<T>): T | typeof NONE;
  /** Whether a receive would complete now (value, waiting sender, or closed). */
  canReceive(ch: Channel<unknown>): boolean;
  /** Whether a send on an open channel would complete now. */
  canSend(ch: Channel<unknown>): boolean;
  /** Whether values wait in the channel: buffered, or held by waiting senders. */
  hasValues(ch: Channel<unknown>): boolean;
  /** Queues a receive waiter (the channel must not be ready to receive). */
  waitReceive<T>(ch: Channel<T>, w: Waiter<T>): void;
  /** Queues a send waiter (the channel must be open and not ready to send). */
  waitSend<T>(ch: Channel<T>, w: Waiter<T>): void;
  /**
   * Calls `fn` once, after the channel's waiters were failed, when the
   * channel closes. Returns the function that removes `fn`.
   */
  onClose(ch: Channel<unknown>, fn: () => void): () => void;
  /**
   * Puts `values` back at the front of the channel, in their order, ahead
   * of everything buffered and of waiting senders: first to waiting
   * receivers, the rest into the buffer, even past its capacity (sends then
   * wait until it is under capacity again). Works on a closed channel too,
   * whose receivers still get buffered values.
   */
  requeue<T>(ch: Channel<T>, values: readonly T[]): void;
}

/** Filled in by {@linkcode Channel}'s static block. */
export const channelHooks: ChannelHooks = {} as ChannelHooks;

/** Checks the options of a waiting call and returns its signal. */
export function checkSignal(options: unknown, action: string): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot ${action}: options must be an object, received ${String(options)}`);
  }
  const signal = (options as { signal?: unknown }).signal;
  if (signal === undefined) return undefined;
  if (
    signal === null || typeof signal !== "object" ||
    typeof (signal as AbortSignal).addEventListener !== "function" ||
    typeof (signal as AbortSignal).aborted !== "boolean"
  ) {
    throw new TypeError(
      `Cannot ${action}: signal must be an AbortSignal, received ${String(signal)}`,
    );
  }
  return signal as AbortSignal;
}
