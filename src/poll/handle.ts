/**
 * Descriptors: what a poller watches (a conn or a listener) and for which
 * events, as easygo's `Handle*` functions make them.
 *
 * @module
 */
import type { Conn, Listener } from "../runtime/mod.ts";
import { Event } from "./event.ts";

/**
 * A conn or listener and the events a poller watches it for: what
 * {@linkcode handle} and its shorthands return, and what
 * {@linkcode Poller.start} takes. Unlike easygo's, it holds no duplicated
 * fd, so there is nothing to close: closing the conn is enough.
 */
export interface Desc {
  /** The conn or listener watched. */
  readonly target: Conn | Listener;
  /** The events asked for, e.g. `Event.Read | Event.EdgeTriggered`. */
  readonly events: Event;
  /** Whether the target is a listener (ready = a connection waits). */
  readonly listener: boolean;
}

const KNOWN = Event.Read | Event.Write | Event.OneShot | Event.EdgeTriggered;

/** Internal: the only Desc a poller accepts (so its target was checked). */
export class DescImpl implements Desc {
  readonly target: Conn | Listener;
  readonly events: Event;
  readonly listener: boolean;

  constructor(target: Conn | Listener, events: Event, listener: boolean) {
    this.target = target;
    this.events = events;
    this.listener = listener;
  }
}

function checkEvents(events: unknown, action: string): number {
  if (typeof events !== "number" || !Number.isInteger(events)) {
    throw new TypeError(`Cannot ${action}: events must be Event flags, received ${String(events)}`);
  }
  if ((events & ~KNOWN) !== 0 || (events & (Event.Read | Event.Write)) === 0) {
    throw new RangeError(
      `Cannot ${action}: events must include Event.Read or Event.Write and only Read, Write, OneShot and EdgeTriggered, received 0x${
        events.toString(16)
      }`,
    );
  }
  return events;
}

/**
 * Makes a descriptor that watches `conn` for `events` (easygo's `Handle`).
 *
 * @param conn A conn from `@netkit/netkit/runtime` (it must have readiness:
 * `whenReadable`, and `whenWritable` for `Event.Write`).
 * @param events `Event.Read` and/or `Event.Write`, optionally with
 * `Event.OneShot` or `Event.EdgeTriggered` (none: level-triggered).
 * @returns The descriptor, for {@linkcode Poller.start}.
 * @throws {TypeError} If `conn` has no readiness or `events` is not a number.
 * @throws {RangeError} If `events` asks for neither Read nor Write, or for an
 * event only received (Hup, Err, …).
 *
 * @example A level-triggered read descriptor
 * ```ts
 * import { Event, eventString, handle } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * const desc = handle(conn, Event.Read);
 * console.log(eventString(desc.events)); // "EventRead"
 * ```
 */
export function handle(conn: Conn, events: Event): Desc {
  checkEvents(events, "handle");
  const c = conn as Partial<Conn> | null;
  if (c === null || typeof c !== "object" || typeof c.whenReadable !== "function") {
    throw new TypeError("Cannot handle: the connection has no readiness (whenReadable)");
  }
  if ((events & Event.Write) !== 0 && typeof c.whenWritable !== "function") {
    throw new TypeError("Cannot handle: the connection has no write readiness (whenWritable)");
  }
  return new DescImpl(conn, events, false);
}

/**
 * Watches `conn` for reads, edge-triggered (`Read | EdgeTriggered`):
 * easygo's `HandleRead`, what its servers use for each connection.
 *
 * @param conn The conn.
 * @returns The descriptor.
 * @throws {TypeError} If `conn` has no readiness.
 *
 * @example
 * ```ts
 * import { eventString, handleRead } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * console.log(eventString(handleRead(conn).events)); // "EventRead|EventEdgeTriggered"
 * ```
 */
export function handleRead(conn: Conn): Desc {
  return handle(conn, Event.Read | Event.EdgeTriggered);
}

/**
 * Watches `conn` for one read, then waits for `resume()`
 * (`Read | OneShot`): easygo's `HandleReadOnce`.
 *
 * @param conn The conn.
 * @returns The descriptor.
 * @throws {TypeError} If `conn` has no readiness.
 *
 * @example
 * ```ts
 * import { eventString, handleReadOnce } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * console.log(eventString(handleReadOnce(conn).events)); // "EventRead|EventOneShot"
 * ```
 */
export function handleReadOnce(conn: Conn): Desc {
  return handle(conn, Event.Read | Event.OneShot);
}

/**
 * Watches `conn` for writability, edge-triggered (`Write | EdgeTriggered`):
 * easygo's `HandleWrite`. The callback runs when the conn takes bytes again
 * after writes waited for the peer.
 *
 * @param conn The conn.
 * @returns The descriptor.
 * @throws {TypeError} If `conn` has no readiness.
 *
 * @example
 * ```ts
 * import { eventString, handleWrite } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * console.log(eventString(handleWrite(conn).events)); // "EventWrite|EventEdgeTriggered"
 * ```
 */
export function handleWrite(conn: Conn): Desc {
  return handle(conn, Event.Write | Event.EdgeTriggered);
}

/**
 * Watches `conn` for writability once, then waits for `resume()`
 * (`Write | OneShot`): easygo's `HandleWriteOnce`.
 *
 * @param conn The conn.
 * @returns The descriptor.
 * @throws {TypeError} If `conn` has no readiness.
 *
 * @example
 * ```ts
 * import { eventString, handleWriteOnce } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * console.log(eventString(handleWriteOnce(conn).events)); // "EventWrite|EventOneShot"
 * ```
 */
export function handleWriteOnce(conn: Conn): Desc {
  return handle(conn, Event.Write | Event.OneShot);
}

/**
 * Watches `conn` for reads and writability, edge-triggered
 * (`Read | Write | EdgeTriggered`): easygo's `HandleReadWrite`.
 *
 * @param conn The conn.
 * @returns The descriptor.
 * @throws {TypeError} If `conn` has no readiness.
 *
 * @example
 * ```ts
 * import { eventString, handleReadWrite } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * console.log(eventString(handleReadWrite(conn).events));
 * // "EventRead|EventWrite|EventEdgeTriggered"
 * ```
 */
export function handleReadWrite(conn: Conn): Desc {
  return handle(conn, Event.Read | Event.Write | Event.EdgeTriggered);
}

/**
 * Watches a listener: `Event.Read` means a connection waits to be accepted
 * (easygo's `HandleListener`). easygo's chat server uses
 * `Event.Read | Event.OneShot`, accepts, then resumes.
 *
 * @param listener A listener from `@netkit/netkit/runtime` (it must have
 * readiness: `whenAcceptable`). On Deno, watching it takes one connection at
 * a time from the kernel backlog into the listener's queue.
 * @param events `Event.Read`, optionally with `Event.OneShot` or
 * `Event.EdgeTriggered`.
 * @returns The descriptor.
 * @throws {TypeError} If `listener` has no readiness.
 * @throws {RangeError} If `events` has no `Event.Read`, or has `Event.Write`.
 *
 * @example Accepting when a connection waits
 * ```ts
 * import { createPoller, Event, handleListener } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using poller = createPoller();
 * const accepted = new Promise<void>((resolve) => {
 *   poller.start(handleListener(listener, Event.Read | Event.OneShot), async (ev) => {
 *     if ((ev & Event.Read) === 0) return;
 *     const conn = await listener.accept();
 *     conn.close();
 *     resolve();
 *   });
 * });
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await accepted;
 * ```
 */
export function handleListener(listener: Listener, events: Event): Desc {
  checkEvents(events, "handle listener");
  if ((events & Event.Write) !== 0 || (events & Event.Read) === 0) {
    throw new RangeError(
      `Cannot handle listener: a listener is watched for Event.Read only, received 0x${
        events.toString(16)
      }`,
    );
  }
  const l = listener as Partial<Listener> | null;
  if (l === null || typeof l !== "object" || typeof l.whenAcceptable !== "function") {
    throw new TypeError("Cannot handle listener: the listener has no readiness (whenAcceptable)");
  }
  return new DescImpl(listener, events, true);
}
