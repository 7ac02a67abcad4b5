// Internal: the two halves of a networked channel on one connection, the
// pump that feeds sending halves from a local Channel, and the frame handling
// both roles share (DATA, CREDIT, CLOSE, ACK, GOAWAY).
//
// Neither half goes through promises per value: the pump is a receive waiter
// in the local channel's queue and the receiving half a send waiter, both
// served synchronously by the channel (see _wait_queue.ts).
import type { Channel } from "./channel.ts";
import type { Codec } from "./codec.ts";
import { ChanValueError, type ChanValueIssue } from "./errors.ts";
import type { StandardSchemaV1, StandardSchemaV1Result } from "./standard_schema.ts";
import { goawayError, Session } from "./_session.ts";
import { T_ACK, T_CLOSE, T_CREDIT, T_DATA, T_GOAWAY } from "./_protocol.ts";
import { channelHooks, NONE, unlink, type Waiter, type WaitQueue } from "./_wait_queue.ts";
import { turnOver } from "./_turn.ts";

/** The importer asked for the channel; no answer yet. */
export const OPENING = 0;
/** Both sides use the channel. */
export const OPEN = 1;
/** This side sent CLOSE and waits for the peer's. */
export const CLOSING = 2;
/** Closed on both sides, or the connection ended. */
export const GONE = 3;
/** A link's protocol state. */
export type LinkState = 0 | 1 | 2 | 3;

/** A pump sends at most this many values in one call, then yields. */
const YIELD_VALUES = 2048;
/** A pump looks at the clock every this many values. */
const CLOCK_EVERY = 64;

/**
 * The sending half of a channel on one connection. It keeps the values in
 * flight (sent, not credited back) until the peer credits them, so that it
 * can give them back to its channel when the link ends without them.
 */
export class OutLink {
  readonly id: number;
  readonly session: ChannelSession;
  readonly name: string;
  readonly codec: Codec<unknown>;
  state: LinkState;
  /** Values this side may still send. */
  credit: number;
  /** Values sent and not yet credited back. */
  inflight = 0;
  /** Values still to send before the link ends by itself; -1: no limit. */
  remaining: number;
  /** The pump that feeds the link, if any. */
  pump: Pump | null = null;
  /** Called once when the peer closed the link or the connection ended. */
  onGone: (() => void) | null = null;
  /** Called once the link has sent its count of values (and closed). */
  onCountDone: (() => void) | null = null;
  /** The channel that values not delivered go back to. */
  home: Channel<unknown> | null = null;
  /** The values in flight, oldest first, from `#sh`. */
  #sentQ: unknown[] = [];
  #sh = 0;

  constructor(
    session: ChannelSession,
    id: number,
    name: string,
    codec: Codec<unknown>,
    state: LinkState,
    credit: number,
    remaining: number,
  ) {
    this.session = session;
    this.id = id;
    this.name = name;
    this.codec = codec;
    this.state = state;
    this.credit = credit;
    this.remaining = remaining;
  }

  /** Writes one value; `false` if it could not be sent (reported). */
  write(value: unknown): boolean {
    const err = this.session.writeData(this.id, this.codec, value, this.name);
    if (err !== null) {
      this.session.report(err);
      return false;
    }
    this.credit--;
    this.inflight++;
    this.#sentQ.push(value);
    if (this.remaining > 0) this.remaining--;
    return true;
  }

  /** The peer credited back its `n` oldest values in flight. */
  credited(n: number): void {
    this.inflight -= n;
    const q = this.#sentQ;
    const end = this.#sh + n;
    for (let i = this.#sh; i < end; i++) q[i] = undefined;
    this.#sh = end;
    if (end === q.length) {
      q.length = 0;
      this.#sh = 0;
    } else if (end >= 1024 && end * 2 >= q.length) {
      this.#sentQ = q.slice(end);
      this.#sh = 0;
    }
    if (this.state === OPEN) {
      this.credit += n;
      this.pump?.credited(n);
    }
  }

  /**
   * Puts the values still in flight back at the front of `home`, in order
   * (the peer did not take them, or it is unknown whether it did); returns
   * how many.
   */
  giveBack(): number {
    const values = this.#sh === 0 ? this.#sentQ : this.#sentQ.slice(this.#sh);
    this.#sentQ = [];
    this.#sh = 0;
    this.inflight = 0;
    if (values.length > 0 && this.home !== null) channelHooks.requeue(this.home, values);
    return values.length;
  }

  /** Ends the link from this side: no more values. */
  close(): void {
    this.pump?.remove(this);
    if (this.state === OPEN) {
      this.state = CLOSING;
      this.session.writeClose(this.id);
    }
  }
}

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
export class InLink {
  readonly id: number;
  readonly session: ChannelSession;
  readonly name: string;
  readonly channel: Channel<unknown>;
  readonly codec: Codec<unknown>;
  readonly schema: StandardSchemaV1<unknown, unknown> | undefined;
  readonly window: number;
  state: LinkState;
  /** Values received whose credit was not returned yet. */
  outstanding = 0;
  /** Credits to return at the next flush (see CreditSource). */
  pendingCredit = 0;
  /** Values still expected before the link ends by itself; -1: no limit. */
  remaining: number;
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
    this.session = session;
    this.id = id;
    this.name = name;
    this.channel = channel;
    this.codec = codec;
    this.schema = schema;
    this.window = window;
    this.state = state;
    this.remaining = remaining;
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

/** A session that carries links: the frames both roles handle alike. */
export abstract class ChannelSession extends Session {
  /** The open links by channel id. */
  readonly links: Map<number, OutLink | InLink> = new Map();
  /** Values in flight given back to their channel because a link ended without them. */
  requeued = 0;
  #settle: (() => void)[] = [];

  /** The write backlog drained under the budget: the pumps may send again. */
  protected override onUnblocked(): void {
    for (const link of this.links.values()) {
      if (link instanceof OutLink) link.pump?.kick();
    }
  }

  /** Frames only one role handles (OPEN, OPENED, REFUSE). */
  protected abstract onRoleFrame(type: number, off: number, len: number): void;
  /** The peer acknowledged more values. */
  protected abstract onAcked(): void;
  /** The connection ended; the links were dropped already. */
  protected abstract onSessionEnd(err: Error | null): void;

  /**
   * Resolves once no link waits for the peer's answer (OPEN or CLOSE), the
   * session ended, or `ms` passed: the close handshakes are done.
   */
  settled(ms: number): Promise<void> {
    if (this.ended || !this.#unsettled()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.#settle.indexOf(done);
        if (i !== -1) this.#settle.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#settle.push(done);
    });
  }

  #unsettled(): boolean {
    for (const link of this.links.values()) if (link.state !== OPEN) return true;
    return false;
  }

  #checkSettled(): void {
    if (this.#settle.length === 0 || (!this.ended && this.#unsettled())) return;
    for (const done of [...this.#settle]) done();
  }

  /** Gives the link's values in flight back to its channel. */
  #giveBack(link: OutLink): void {
    this.requeued += link.giveBack();
  }

  protected onFrame(type: number, off: number, len: number): void {
    this.#frame(type, off, len);
    if (this.#settle.length > 0) this.#checkSettled();
  }

  #frame(type: number, off: number, len: number): void {
    switch (type) {
      case T_DATA:
        this.#data(off, len);
        return;
      case T_CREDIT:
        this.#creditFrame(off, len);
        return;
      case T_CLOSE:
        this.#close(off, len);
        return;
      case T_ACK:
        this.#ack(off, len);
        return;
      case T_GOAWAY:
        if (len < 1) {
          this.violation("malformed-frame", "a GOAWAY frame is empty");
          return;
        }
        this.report(goawayError(this.action, this.rbuf, off, len));
        this.close(null, 0);
        return;
      default:
        this.onRoleFrame(type, off, len);
    }
  }

  protected onEnd(err: Error | null): void {
    const links = [...this.links.values()];
    this.links.clear();
    // Off the pumps first, so that values given back go to other connections.
    const pumps = new Set<Pump>();
    const states: LinkState[] = [];
    for (const link of links) {
      states.push(link.state);
      link.state = GONE;
      if (link instanceof OutLink && link.pump !== null) {
        pumps.add(link.pump);
        link.pump.remove(link);
      }
    }
    for (let i = 0; i < links.length; i++) {
      const link = links[i];
      if (link instanceof InLink) link.end(false);
      else {
        // Whether the peer took these is unknown: at least once.
        this.#giveBack(link);
        if (states[i] !== CLOSING) link.onGone?.();
      }
    }
    for (const pump of pumps) pump.kick();
    this.onSessionEnd(err);
    this.#checkSettled();
  }

  #data(off: number, len: number): void {
    if (len < 4) {
      this.violation("malformed-frame", "a DATA frame is shorter than 5 bytes");
      return;
    }
    const id = this.rview.getUint32(off);
    const link = this.links.get(id);
    if (link === undefined) {
      this.violation("unknown-channel", `DATA for channel ${id}, which is not open`);
      return;
    }
    if (!(link instanceof InLink)) {
      this.violation("unexpected-frame", `DATA for channel ${id}, on which this side sends`);
      return;
    }
    this.countReceived();
    if (link.state === CLOSING) return; // this side hung up: drop
    if (link.state !== OPEN) {
      this.violation("unexpected-frame", `DATA for channel ${id} before it was opened`);
      return;
    }
    if (!link.data(this.rbuf, off + 4, len - 4)) {
      this.violation("credit", `DATA for channel ${id} beyond the credits granted`);
    }
  }

  #creditFrame(off: number, len: number): void {
    if (len !== 8) {
      this.violation("malformed-frame", `a CREDIT frame of ${len + 1} bytes, not 9`);
      return;
    }
    const id = this.rview.getUint32(off);
    const n = this.rview.getUint32(off + 4);
    const link = this.links.get(id);
    if (link === undefined) {
      this.violation("unknown-channel", `CREDIT for channel ${id}, which is not open`);
      return;
    }
    if (!(link instanceof OutLink)) {
      this.violation("credit", `CREDIT for channel ${id}, on which this side receives`);
      return;
    }
    if (link.state !== OPEN && link.state !== CLOSING) {
      this.violation("unexpected-frame", `CREDIT for channel ${id} before it was opened`);
      return;
    }
    if (n === 0 || n > link.inflight) {
      if (link.state === CLOSING) return; // v1: credits after CLOSE are ignored
      this.violation(
        "credit",
        `CREDIT of ${n} for channel ${id}, which has ${link.inflight} value(s) in flight`,
      );
      return;
    }
    link.credited(n);
  }

  #close(off: number, len: number): void {
    if (len !== 4) {
      this.violation("malformed-frame", `a CLOSE frame of ${len + 1} bytes, not 5`);
      return;
    }
    const id = this.rview.getUint32(off);
    const link = this.links.get(id);
    if (link === undefined) {
      this.violation("unknown-channel", `CLOSE for channel ${id}, which is not open`);
      return;
    }
    if (link.state === OPENING) {
      this.violation("unexpected-frame", `CLOSE for channel ${id} before it was opened`);
      return;
    }
    this.links.delete(id);
    const was = link.state;
    if (link instanceof InLink) {
      if (was === CLOSING) {
        link.state = GONE; // the peer's answer to this side's CLOSE
        return;
      }
      // The peer is done: every value that came counts as taken.
      link.creditAll();
      link.state = GONE;
      this.writeClose(id);
      link.end(true);
      return;
    }
    link.state = GONE;
    const pump = link.pump;
    pump?.remove(link);
    // The peer credited what it took before its CLOSE and dropped the rest
    // (version 2). A version 1 peer may have taken some without crediting
    // them: give back (at least once) only when it hung up, not when it
    // answered this side's CLOSE having delivered everything.
    if (this.version >= 2 || was === OPEN) this.#giveBack(link);
    pump?.kick();
    if (was === CLOSING) return; // the peer's answer to this side's CLOSE
    this.writeClose(id);
    link.onGone?.();
  }

  #ack(off: number, len: number): void {
    if (len !== 8) {
      this.violation("malformed-frame", `an ACK frame of ${len + 1} bytes, not 9`);
      return;
    }
    const n = this.rview.getFloat64(off);
    if (!Number.isInteger(n) || n < this.acked || n > this.sent) {
      this.violation("ack", `ACK of ${n} values, with ${this.acked} acked of ${this.sent} sent`);
      return;
    }
    if (n === this.acked) return;
    this.acked = n;
    this.onAcked();
  }
}
