// Internal: the pump that feeds the sending halves of a networked channel
// from a local Channel, round robin over the links that have credit.
//
// It goes through no promise per value: it is a receive waiter in the local
// channel's queue, served synchronously by the channel (see _wait_queue.ts).
import type { Channel } from "./channel.ts";
import type { OutLink } from "./_out_link.ts";
import { turnOver } from "./_turn.ts";
import { channelHooks, NONE, unlink, type Waiter, type WaitQueue } from "./_wait_queue.ts";

/** A pump sends at most this many values in one call, then yields. */
const YIELD_VALUES = 2048;
/** A pump looks at the clock every this many values. */
const CLOCK_EVERY = 64;

/**
 * Takes values from a local channel and hands each to one of its links that
 * has credit (round robin), only while some link has credit: otherwise the
 * values stay in the channel, whose buffer then fills and blocks senders.
 * It finishes (and its owner closes the links) once the channel is closed
 * and drained and no link has values in flight: until then, values that a
 * link gives back can still go to another.
 */
export class Pump implements Waiter<unknown> {
  prev: Waiter<unknown> | null = null;
  next: Waiter<unknown> | null = null;
  queue: WaitQueue<unknown> | null = null;
  value: unknown = undefined;
  readonly channel: Channel<unknown>;
  readonly links: OutLink[] = [];
  #credit = 0;
  #rr = 0;
  #stopped = false;
  /** A value taken that no link could take (credits off, or its connection blocked). */
  #held: unknown = NONE;
  /** The continuation after a yield. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #resume = (): void => {
    this.#timer = undefined;
    this.kick();
  };
  /** Values dispatched since the clock was last read. */
  #count = 0;
  readonly #onFinish: () => void;

  /** `onFinish` runs once when the channel is closed and drained. */
  constructor(channel: Channel<unknown>, onFinish: () => void) {
    this.channel = channel;
    this.#onFinish = onFinish;
  }

  /** Whether the pump stopped (finished, or stopped by its owner). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Adds a link and starts feeding it. */
  add(link: OutLink): void {
    link.pump = this;
    this.links.push(link);
    this.#credit += link.credit;
    this.kick();
  }

  /** Removes a link (its credit no longer counts). */
  remove(link: OutLink): void {
    const i = this.links.indexOf(link);
    if (i === -1) return;
    this.links.splice(i, 1);
    link.pump = null;
    this.#credit -= link.credit;
    if (this.#rr >= this.links.length) this.#rr = 0;
    if (this.#credit <= 0) unlink(this);
  }

  /** A link got `n` credits back. */
  credited(n: number): void {
    this.#credit += n;
    this.kick();
  }

  /** Stops for good without finishing; the values stay in the channel. */
  stop(): void {
    this.#stopped = true;
    this.#cancelYield();
    unlink(this);
    for (const link of this.links) link.pump = null;
    this.links.length = 0;
    this.#credit = 0;
  }

  /**
   * Sends what the channel holds, as far as credits and the connections'
   * byte budgets allow, then waits. Yields to the event loop after
   * `YIELD_VALUES` values so that other connections are served meanwhile.
   */
  kick(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    const ch = this.channel;
    if (this.#held !== NONE) {
      if (this.#next() === -1) {
        unlink(this);
        return;
      }
      const v = this.#held;
      this.#held = NONE;
      this.#dispatch(v);
    }
    let budget = YIELD_VALUES;
    while (this.#held === NONE) {
      if (this.#next() === -1) break;
      if (--budget < 0 || (++this.#count >= CLOCK_EVERY && this.#busy())) {
        unlink(this);
        this.#timer = setTimeout(this.#resume, 0);
        return;
      }
      const v = channelHooks.poll(ch);
      if (v === NONE) {
        if (ch.closed) {
          this.#closedAndDrained();
          return;
        }
        if (this.queue === null) channelHooks.waitReceive(ch, this);
        return;
      }
      this.#dispatch(v);
    }
    if (this.queue !== null) unlink(this);
  }

  /** Waiter: a sender handed over a value. */
  complete(value: unknown): void {
    this.#dispatch(value);
    if (++this.#count >= CLOCK_EVERY && this.#busy()) {
      unlink(this);
      this.#timer = setTimeout(this.#resume, 0);
      return;
    }
    this.kick();
  }

  /**
   * Whether this turn of the event loop has run long enough: a producer that
   * hands over values synchronously (or by microtasks) would otherwise keep
   * the event loop from serving other connections.
   */
  #busy(): boolean {
    this.#count = 0;
    return turnOver();
  }

  /** Waiter: the channel closed (and is drained). */
  fail(): void {
    this.#closedAndDrained();
  }

  #closedAndDrained(): void {
    for (const link of this.links) {
      if (link.inflight > 0) {
        unlink(this); // a credit or a value given back kicks it again
        return;
      }
    }
    this.#finish();
  }

  #finish(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancelYield();
    unlink(this);
    this.#onFinish();
  }

  #cancelYield(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** The index of the next link (round robin) with credit and room; -1 if none. */
  #next(): number {
    if (this.#credit <= 0) return -1;
    const links = this.links;
    const n = links.length;
    for (let k = 0; k < n; k++) {
      let i = this.#rr + k;
      if (i >= n) i -= n;
      const link = links[i];
      if (link.credit > 0 && !link.session.blocked) return i;
    }
    return -1;
  }

  #dispatch(value: unknown): void {
    const i = this.#next();
    if (i !== -1) {
      const link = this.links[i];
      this.#rr = i + 1 >= this.links.length ? 0 : i + 1;
      if (link.write(value)) {
        this.#credit--;
        if (link.remaining === 0) {
          link.close();
          link.onCountDone?.();
        }
      }
      return;
    }
    // No link can take it now: recount, and keep the value for the next one.
    this.#credit = 0;
    for (const link of this.links) this.#credit += link.credit;
    this.#held = value;
    unlink(this);
  }
}
