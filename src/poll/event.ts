/**
 * The readiness events of a poller: easygo's `Event` bit flags, with its
 * values, and their names.
 *
 * @module
 */

/**
 * A set of {@linkcode Event} flags, OR-ed together: what a callback
 * receives, and what a {@linkcode Desc} asks for.
 */
export type Event = number;

/**
 * The event flags, with easygo's values. `Read`, `Write`, `OneShot` and
 * `EdgeTriggered` are asked for in a {@linkcode Desc}; `Hup`, `ReadHup`,
 * `Err` and `PollerClosed` are only received (`Hup` and `Err` whatever was
 * asked for, as epoll does). `WriteHup` exists for easygo parity and is
 * never received: no runtime tells a write-side hang-up apart.
 *
 * @example Combining and testing flags
 * ```ts
 * import { Event } from "@netkit/netkit/poll";
 *
 * const asked = Event.Read | Event.EdgeTriggered;
 * console.log((asked & Event.Read) !== 0); // true
 * console.log(Event.PollerClosed); // 32768
 * ```
 */
export const Event: {
  /** The conn has bytes to read (or EOF, or an error); a listener has a conn to accept. */
  readonly Read: 0x1;
  /** The conn takes more bytes now: no write waits for the peer. */
  readonly Write: 0x2;
  /** Call back once, then stay silent until `resume()`. */
  readonly OneShot: 0x4;
  /** Call back once per change (new bytes), not while data stays unread. */
  readonly EdgeTriggered: 0x8;
  /** The connection is gone: reset, or closed here. */
  readonly Hup: 0x10;
  /** The peer half-closed: the next reads return what is left, then EOF. */
  readonly ReadHup: 0x20;
  /** Never received (easygo parity: see above). */
  readonly WriteHup: 0x40;
  /** A socket error (e.g. reset), or accepting failed (e.g. out of fds). */
  readonly Err: 0x80;
  /** The poller was closed: the last event a callback receives. */
  readonly PollerClosed: 0x8000;
} = {
  Read: 0x1,
  Write: 0x2,
  OneShot: 0x4,
  EdgeTriggered: 0x8,
  Hup: 0x10,
  ReadHup: 0x20,
  WriteHup: 0x40,
  Err: 0x80,
  PollerClosed: 0x8000,
};

// easygo's order in Event.String().
const NAMES: [number, string][] = [
  [Event.Read, "EventRead"],
  [Event.Write, "EventWrite"],
  [Event.OneShot, "EventOneShot"],
  [Event.EdgeTriggered, "EventEdgeTriggered"],
  [Event.ReadHup, "EventReadHup"],
  [Event.WriteHup, "EventWriteHup"],
  [Event.Hup, "EventHup"],
  [Event.Err, "EventErr"],
  [Event.PollerClosed, "EventPollerClosed"],
];

/**
 * The names of the flags set in `event`, joined by `|`, as easygo's
 * `Event.String()` writes them (unknown bits are left out; no flag gives
 * `""`).
 *
 * @param event The flags.
 * @returns E.g. `"EventRead|EventReadHup"`.
 *
 * @example Logging an event
 * ```ts
 * import { Event, eventString } from "@netkit/netkit/poll";
 *
 * console.log(eventString(Event.Read | Event.ReadHup)); // "EventRead|EventReadHup"
 * console.log(eventString(Event.PollerClosed)); // "EventPollerClosed"
 * ```
 */
export function eventString(event: Event): string {
  let str = "";
  for (const [flag, name] of NAMES) {
    if ((event & flag) === 0) continue;
    if (str !== "") str += "|";
    str += name;
  }
  return str;
}
