// Internal: the sending half of a networked channel on one connection.
import type { Channel } from "./channel.ts";
import { CLOSING, Link, OPEN } from "./_link.ts";
import type { Pump } from "./_pump.ts";
import { channelHooks } from "./_wait_queue.ts";

/**
 * The sending half of a channel on one connection. It keeps the values in
 * flight (sent, not credited back) until the peer credits them, so that it
 * can give them back to its channel when the link ends without them.
 */
export class OutLink extends Link {
  /** Values this side may still send. */
  credit = 0;
  /** Values sent and not yet credited back. */
  inflight = 0;
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
