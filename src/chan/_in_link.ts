// Internal: the receiving half of a networked channel on one connection.
//
// It goes through no promise per value: it is a send waiter in the local
// channel's queue, served synchronously by the channel (see _wait_queue.ts).
import type { Channel } from "./channel.ts";
import type { Codec } from "./codec.ts";
import { ChanValueError, type ChanValueIssue } from "./errors.ts";
import type { StandardSchemaV1, StandardSchemaV1Result } from "./standard_schema.ts";
import type { ChannelSession } from "./_channel_session.ts";
import { CLOSING, Link, type LinkState, OPEN } from "./_link.ts";
import { channelHooks, unlink, type Waiter, type WaitQueue } from "./_wait_queue.ts";

/** The receiver's waiter in the local channel's senders queue. */
class DeliveryWaiter implements Waiter<unknown> {
  prev: Waiter<unknown> | null = null;
  next: Waiter<unknown> | null = null;
  queue: WaitQueue<unknown> | null = null;
  value: unknown = undefined;
  readonly #link: InLink;

  constructor(link: InLink) {
    this.#link = link;
  }

  complete(): void {
    this.#link.delivered();
  }

  fail(): void {
    this.#link.channelClosed();
  }
}

/** A queued value that did not decode: its credit is returned in turn. */
const DROPPED: unique symbol = Symbol("dropped");

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && typeof x === "object" &&
    typeof (x as PromiseLike<unknown>).then === "function";
}

/**
 * The receiving half of a channel on one connection: decodes, validates and
 * delivers values into a local channel in order, and returns one credit per
 * value delivered (or dropped).
 */
export class InLink extends Link {
  readonly channel: Channel<unknown>;
  readonly schema: StandardSchemaV1<unknown, unknown> | undefined;
  readonly window: number;
  /** Values received whose credit was not returned yet. */
  outstanding = 0;
  /** Credits to return at the next flush (see CreditSource). */
  pendingCredit = 0;
  /** Called once when the peer's values are all delivered after it ended. */
  onDone: ((graceful: boolean) => void) | null = null;
  /** Called once when the local channel was closed by its owner. */
  onChannelClosed: (() => void) | null = null;
  #q: unknown[] = [];
  /** The payload size of each value in `#q`, counted against the connection's budget. */
  #sizes: number[] = [];
  #bytes = 0;
  #qh = 0;
  #checked = false;
  #busy = false;
  #ending = false;
  #graceful = false;
  #finished = false;
  #dead = false;
  readonly #waiter: DeliveryWaiter = new DeliveryWaiter(this);

  constructor(
    session: ChannelSession,
    id: number,
    name: string,
    channel: Channel<unknown>,
    codec: Codec<unknown>,
    schema: StandardSchemaV1<unknown, unknown> | undefined,
    window: number,
    state: LinkState,
    remaining: number,
  ) {
    super(session, id, name, codec, state, remaining);
    this.channel = channel;
    this.schema = schema;
    this.window = window;
  }

  /** CreditSource: credits go out only while the link is open. */
  get creditOpen(): boolean {
    return this.state === OPEN;
  }

  /** Values received and not yet in the local channel. */
  get queued(): number {
    return this.#q.length - this.#qh;
  }

  /** A DATA frame's payload; `false` if the peer had no credit for it. */
  data(buf: Uint8Array, off: number, len: number): boolean {
    // Credits count against what the peer was granted: returned ones only
    // once they are sent.
    if (this.outstanding + this.pendingCredit >= this.window || this.remaining === 0) return false;
    this.outstanding++;
    if (this.remaining > 0) this.remaining--;
    let value: unknown;
    try {
      value = this.codec.decode(buf.subarray(off, off + len));
    } catch (err) {
      this.session.report(
        new ChanValueError(`Cannot receive on "${this.name}": the value does not decode`, {
          channel: this.name,
          stage: "decode",
          cause: err,
        }),
      );
      // Credits go back in the order the values came, so that the sender
      // knows which ones were taken (see giveBack).
      if (this.#qh === this.#q.length && !this.#busy && this.#waiter.queue === null) {
        this.#credit(1);
      } else this.#q.push(DROPPED);
      if (this.remaining === 0) this.end(true);
      return true;
    }
    this.#push(value, len);
    if (this.remaining === 0) this.end(true);
    return true;
  }

  /**
   * The peer will send no more (`graceful`: it said so; else the connection
   * ended): deliver what is queued, then call `onDone`.
   */
  end(graceful: boolean): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#graceful = graceful;
    this.#process();
  }

  /**
   * This side stops receiving (hangup): values not yet in the local channel
   * are dropped uncredited, so the sender takes them back; the credits of
   * those delivered go out now, then CLOSE.
   */
  hangUp(): void {
    this.abandon();
    if (this.state !== OPEN) return;
    if (this.pendingCredit > 0) {
      this.session.writeCredit(this.id, this.pendingCredit);
      this.pendingCredit = 0;
    }
    this.state = CLOSING;
    this.session.writeClose(this.id);
  }

  /**
   * Credits every value received, delivered or still queued (the queued
   * ones will be delivered): the answer to the sender's CLOSE, or this
   * side's close when it keeps delivering.
   */
  creditAll(): void {
    const n = this.pendingCredit + this.outstanding;
    this.pendingCredit = 0;
    this.outstanding = 0;
    if (n > 0 && this.state === OPEN) this.session.writeCredit(this.id, n);
  }

  /** Ends the link from this side but goes on delivering what arrived. */
  closeKeep(): void {
    if (this.state !== OPEN) return;
    this.creditAll();
    this.state = CLOSING;
    this.session.writeClose(this.id);
  }

  /** This side gives up the link: queued values are dropped, no callbacks. */
  abandon(): void {
    this.#dead = true;
    this.#finished = true;
    this.#q = [];
    this.#sizes = [];
    this.#qh = 0;
    if (this.#bytes > 0) this.session.trackReceived(-this.#bytes);
    this.#bytes = 0;
    unlink(this.#waiter);
  }

  /** The waiter's value was taken by a receiver. */
  delivered(): void {
    this.#shift();
    this.#credit(1);
    this.#process();
  }

  /** The local channel was closed by its owner. */
  channelClosed(): void {
    if (this.#dead) return;
    this.hangUp();
    this.onChannelClosed?.();
  }

  #credit(n: number): void {
    this.outstanding -= n;
    if (this.state === OPEN) this.session.returnCredit(this, n);
  }

  #push(value: unknown, size: number): void {
    if (this.#dead) return;
    if (
      this.#qh === this.#q.length && !this.#busy && this.schema === undefined &&
      this.#waiter.queue === null
    ) {
      const ch = this.channel;
      if (!ch.closed && ch.trySend(value)) {
        this.#credit(1);
        return;
      }
    }
    this.#q.push(value);
    this.#sizes.push(size);
    this.#bytes += size;
    this.session.trackReceived(size);
    this.#process();
  }

  #shift(): void {
    const size = this.#sizes[this.#qh];
    this.#bytes -= size;
    this.session.trackReceived(-size);
    this.#q[this.#qh] = undefined;
    this.#qh++;
    this.#checked = false;
    if (this.#qh === this.#q.length) {
      this.#q.length = 0;
      this.#sizes.length = 0;
      this.#qh = 0;
    } else if (this.#qh >= 1024 && this.#qh * 2 >= this.#q.length) {
      this.#q = this.#q.slice(this.#qh);
      this.#sizes = this.#sizes.slice(this.#qh);
      this.#qh = 0;
    }
  }

  #process(): void {
    while (true) {
      if (this.#busy || this.#waiter.queue !== null || this.#dead) return;
      if (this.#qh === this.#q.length) {
        if (this.#ending && !this.#finished) {
          this.#finished = true;
          this.onDone?.(this.#graceful);
        }
        return;
      }
      if (this.#q[this.#qh] === DROPPED) {
        this.#shift();
        this.#credit(1);
        continue;
      }
      const ch = this.channel;
      if (ch.closed) {
        this.channelClosed();
        return;
      }
      if (this.schema !== undefined && !this.#checked) {
        let result: unknown;
        try {
          result = this.schema["~standard"].validate(this.#q[this.#qh]);
        } catch (err) {
          this.#reject(undefined, err);
          continue;
        }
        if (isThenable(result)) {
          this.#busy = true;
          result.then(
            (r) => {
              this.#busy = false;
              if (this.#dead) return;
              this.#apply(r);
              this.#process();
            },
            (err) => {
              this.#busy = false;
              if (this.#dead) return;
              this.#reject(undefined, err);
              this.#process();
            },
          );
          return;
        }
        if (!this.#apply(result)) continue;
      }
      const value = this.#q[this.#qh];
      if (ch.trySend(value)) {
        this.#shift();
        this.#credit(1);
        continue;
      }
      this.#waiter.value = value;
      channelHooks.waitSend(ch, this.#waiter);
      return;
    }
  }

  /** Applies a validation result to the head value; `false` if it was dropped. */
  #apply(result: unknown): boolean {
    const r = result as StandardSchemaV1Result<unknown> | null;
    if (r === null || typeof r !== "object") {
      this.#reject(undefined, new TypeError("The schema returned no result object"));
      return false;
    }
    if (r.issues !== undefined) {
      this.#reject(r.issues, undefined);
      return false;
    }
    this.#q[this.#qh] = r.value;
    this.#checked = true;
    return true;
  }

  #reject(issues: readonly ChanValueIssue[] | undefined, cause: unknown): void {
    const first = issues?.[0]?.message;
    this.session.report(
      new ChanValueError(
        `Cannot receive on "${this.name}": the value is invalid${
          first === undefined ? "" : `: ${first}`
        }`,
        { channel: this.name, stage: "validate", issues, cause },
      ),
    );
    this.#shift();
    this.#credit(1);
  }
}
