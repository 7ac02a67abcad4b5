/**
 * The poller: one object that watches many conns and listeners and calls
 * back the ones that are ready (easygo's `Poller`, plus the `close()` it
 * lacks).
 *
 * @module
 */
import type {
  AcceptReadiness,
  Conn,
  Listener,
  ReadinessOptions,
  ReadReadiness,
  WriteReadiness,
} from "../runtime/mod.ts";
import { AlreadyRegisteredError, NotRegisteredError, PollerClosedError } from "./errors.ts";
import { Event } from "./event.ts";
import { type Desc, DescImpl } from "./handle.ts";

/**
 * What a poller calls with the events that happened. Callbacks of one
 * descriptor never overlap: when it returns a promise, the next call for
 * that descriptor waits until it settles.
 */
export type CallbackFn = (event: Event) => void | Promise<void>;

/** Options of {@linkcode createPoller}. */
export interface PollerConfig {
  /**
   * Called with what a callback threw or rejected with (easygo's
   * `OnWaitError`, which gets the errors of its wait loop).
   * @default {logs the error with console.error}
   */
  onError?: (err: unknown) => void;
}

/**
 * Watches many conns and listeners and calls back the ones that are ready
 * (easygo's `Poller`). Each conn or listener is registered at most once.
 */
export interface Poller extends AsyncDisposable {
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /**
   * Starts watching `desc.target` for `desc.events`: `callback` is called
   * (never from inside `start()`) with the events that happened.
   *
   * - Level-triggered (neither `OneShot` nor `EdgeTriggered`): called while
   *   unread data remains, again after each callback that left some.
   * - `EdgeTriggered`: called once per arrival of new data.
   * - `OneShot`: called once, then silent until {@linkcode Poller.resume}.
   *
   * `Hup` (the conn is gone; a closed conn is dropped after it), `ReadHup`
   * (the peer half-closed) and `Err` come with `Read`, as epoll gives them.
   * Read inside the callback with the conn's own `read()`. A conn can be
   * registered with one poller at a time.
   *
   * @param desc What to watch, from {@linkcode handle} and its shorthands.
   * @param callback What to call.
   * @throws {PollerClosedError} If the poller is closed.
   * @throws {AlreadyRegisteredError} If `desc.target` is registered already.
   * @throws {TypeError} If `desc` does not come from `handle*()` or
   * `callback` is not a function.
   */
  start(desc: Desc, callback: CallbackFn): void;
  /**
   * Stops watching: no callback runs after `stop()` returns (one running
   * already finishes). The conn stays open and can be started again. A
   * closed conn's registration ends by itself: stopping it then is a no-op.
   *
   * @param desc The descriptor given to `start()` (or one for the same target).
   * @throws {PollerClosedError} If the poller is closed.
   * @throws {NotRegisteredError} If the target is not registered.
   */
  stop(desc: Desc): void;
  /**
   * Re-arms a `OneShot` descriptor after its callback (no-op for others).
   * Safe inside the callback: the next call comes after it settles.
   *
   * @param desc The descriptor given to `start()`.
   * @throws {PollerClosedError} If the poller is closed.
   * @throws {NotRegisteredError} If the target is not registered.
   */
  resume(desc: Desc): void;
  /**
   * Closes the poller (easygo has no close: mailru/easygo#10): every
   * registered callback receives `Event.PollerClosed` once, after any call
   * of it that runs settles. Conns and listeners stay open. Idempotent.
   *
   * @returns A promise that settles once every `PollerClosed` callback has.
   */
  close(): Promise<void>;
}

const READ = 1;
const WRITE = 2;
const EDGE: ReadinessOptions = { edge: true };

const ACTIVE = 0;
const STOPPED = 1;
const CLOSING = 2; // PollerClosed to deliver
const CLOSED = 3; // PollerClosed delivered

const READ_EVENTS: Record<ReadReadiness, number> = {
  data: Event.Read,
  eof: Event.Read | Event.ReadHup,
  error: Event.Read | Event.ReadHup | Event.Hup | Event.Err,
  closed: Event.Hup,
};
const WRITE_EVENTS: Record<WriteReadiness, number> = {
  ready: Event.Write,
  error: Event.Err | Event.Hup,
  closed: Event.Hup,
};
const ACCEPT_EVENTS: Record<AcceptReadiness, number> = {
  ready: Event.Read,
  error: Event.Err,
  closed: Event.Hup,
};

type Later = (fn: () => void) => void;

/** A macrotask: after I/O, so level-triggered re-calls cannot starve the loop. */
const later: Later = (() => {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === "function") {
    const setImmediate = g.setImmediate;
    return (fn: () => void) => {
      setImmediate(fn);
    };
  }
  return (fn: () => void) => {
    setTimeout(fn, 0);
  };
})();

function defaultOnError(err: unknown): void {
  console.error("netkit/poll: a callback failed:", err);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

/** One registration: a target, its callback, and where its cycle is. */
class Registration {
  readonly desc: DescImpl;
  readonly callback: CallbackFn;
  /** READ and/or WRITE: the sides asked for. */
  readonly wanted: number;
  readonly oneShot: boolean;
  readonly edge: boolean;
  state = ACTIVE;
  /** The callback runs (or is scheduled): the next one waits. */
  busy = false;
  /** Events not delivered yet. */
  pending = 0;
  /** Sides with a readiness watch set on the target. */
  armed = 0;
  /** Edge-triggered: sides whose edge came while busy (look again after). */
  missed = 0;
  /** One-shot: fired, waiting for resume(). */
  parked = false;
  /** A side said the target is closed: drop the registration after delivery. */
  gone = false;
  onRead: ((state: ReadReadiness) => void) | undefined;
  onWrite: ((state: WriteReadiness) => void) | undefined;
  onAccept: ((state: AcceptReadiness) => void) | undefined;

  constructor(desc: DescImpl, callback: CallbackFn) {
    this.desc = desc;
    this.callback = callback;
    const ev = desc.events;
    this.wanted = ((ev & Event.Read) !== 0 ? READ : 0) | ((ev & Event.Write) !== 0 ? WRITE : 0);
    this.oneShot = (ev & Event.OneShot) !== 0;
    this.edge = !this.oneShot && (ev & Event.EdgeTriggered) !== 0;
  }
}

class PollerImpl implements Poller {
  readonly #onError: (err: unknown) => void;
  readonly #regs = new Map<Conn | Listener, Registration>();
  #closing: Promise<void> | null = null;
  #unsettled = 0;
  #allSettled: (() => void) | null = null;

  constructor(config: PollerConfig | undefined) {
    this.#onError = config?.onError ?? defaultOnError;
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  start(desc: Desc, callback: CallbackFn): void {
    if (this.#closing !== null) throw new PollerClosedError("Cannot start: the poller is closed");
    if (!(desc instanceof DescImpl)) {
      throw new TypeError("Cannot start: the descriptor must come from handle() or its shorthands");
    }
    if (typeof callback !== "function") {
      throw new TypeError("Cannot start: the callback must be a function");
    }
    if (this.#regs.has(desc.target)) {
      throw new AlreadyRegisteredError("Cannot start: the descriptor is registered already");
    }
    const reg = new Registration(desc, callback);
    this.#regs.set(desc.target, reg);
    this.#arm(reg, reg.wanted, false);
  }

  stop(desc: Desc): void {
    const reg = this.#find(desc, "stop");
    if (reg === undefined) return;
    reg.state = STOPPED;
    this.#regs.delete(desc.target);
    this.#disarm(reg, reg.armed);
  }

  resume(desc: Desc): void {
    const reg = this.#find(desc, "resume");
    if (reg === undefined || !reg.parked) return;
    reg.parked = false;
    if (!reg.busy) this.#arm(reg, reg.wanted & ~reg.armed, false);
  }

  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    const regs = [...this.#regs.values()];
    this.#regs.clear();
    this.#unsettled = regs.length;
    this.#closing = regs.length === 0 ? Promise.resolve() : new Promise<void>((resolve) => {
      this.#allSettled = resolve;
    });
    for (const reg of regs) {
      reg.state = CLOSING;
      this.#disarm(reg, reg.armed);
      this.#dispatch(reg);
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The registration of `desc`'s target; `undefined`: a closed conn's, ended. */
  #find(desc: Desc, action: string): Registration | undefined {
    if (this.#closing !== null) {
      throw new PollerClosedError(`Cannot ${action}: the poller is closed`);
    }
    const target = (desc as Partial<Desc> | null)?.target;
    const reg = target === undefined ? undefined : this.#regs.get(target);
    if (reg !== undefined) return reg;
    if (target !== undefined && target.closed) return undefined;
    throw new NotRegisteredError(`Cannot ${action}: the descriptor is not registered`);
  }

  /** Sets readiness watches on `sides` of the target. */
  #arm(reg: Registration, sides: number, edge: boolean): void {
    if (sides === 0 || reg.state !== ACTIVE || reg.gone) return;
    const options = edge ? EDGE : undefined;
    reg.armed |= sides;
    const target = reg.desc.target;
    if (reg.desc.listener) {
      reg.onAccept ??= (state) =>
        this.#ready(reg, READ, ACCEPT_EVENTS[state], state === "closed", state === "closed");
      (target as Listener).whenAcceptable!(reg.onAccept, options);
      return;
    }
    const conn = target as Conn;
    if ((sides & READ) !== 0) {
      reg.onRead ??= (state) =>
        this.#ready(reg, READ, READ_EVENTS[state], state !== "data", state === "closed");
      conn.whenReadable!(reg.onRead, options);
    }
    if ((sides & WRITE) !== 0) {
      reg.onWrite ??= (state) =>
        this.#ready(reg, WRITE, WRITE_EVENTS[state], state !== "ready", state === "closed");
      conn.whenWritable!(reg.onWrite, options);
    }
  }

  /** Cancels the readiness watches on `sides` of the target. */
  #disarm(reg: Registration, sides: number): void {
    reg.armed &= ~sides;
    const target = reg.desc.target;
    if (reg.desc.listener) {
      if (sides !== 0) (target as Listener).whenAcceptable!(null);
      return;
    }
    if ((sides & READ) !== 0) (target as Conn).whenReadable!(null);
    if ((sides & WRITE) !== 0) (target as Conn).whenWritable!(null);
  }

  /**
   * A side's watch fired (watches are one-shot: that side is disarmed now).
   * `final`: nothing new can come on that side (EOF, error, closed); `gone`:
   * the target was closed here.
   */
  #ready(reg: Registration, side: number, events: number, final: boolean, gone: boolean): void {
    if (reg.state !== ACTIVE || (reg.armed & side) === 0) return;
    reg.armed &= ~side;
    reg.pending |= events;
    if (gone) {
      // Closed here: like epoll, which drops a closed fd, deliver Hup and end.
      reg.gone = true;
      this.#disarm(reg, reg.armed);
    } else if (reg.oneShot) {
      reg.parked = true;
      this.#disarm(reg, reg.armed);
    } else if (reg.edge && !final) {
      // Watch for the next arrival now, so none is lost while the callback runs.
      if (reg.busy) reg.missed |= side;
      else this.#arm(reg, side, true);
    }
    this.#dispatch(reg);
  }

  /** Runs the callback soon, unless it runs already (then after it settles). */
  #dispatch(reg: Registration): void {
    if (reg.busy) return;
    reg.busy = true;
    queueMicrotask(() => this.#run(reg));
  }

  #run(reg: Registration): void {
    let event: number;
    if (reg.state === CLOSING) {
      reg.state = CLOSED;
      event = Event.PollerClosed;
    } else if (reg.state === ACTIVE && reg.pending !== 0) {
      event = reg.pending;
      reg.pending = 0;
      if (reg.gone) {
        reg.state = STOPPED;
        if (this.#regs.get(reg.desc.target) === reg) this.#regs.delete(reg.desc.target);
      }
    } else {
      reg.busy = false;
      return;
    }
    let result: unknown;
    try {
      result = reg.callback(event);
    } catch (err) {
      this.#report(err);
    }
    if (isThenable(result)) {
      result.then(() => this.#settle(reg), (err) => {
        this.#report(err);
        this.#settle(reg);
      });
    } else {
      this.#settle(reg);
    }
  }

  #settle(reg: Registration): void {
    reg.busy = false;
    switch (reg.state) {
      case CLOSED:
        if (--this.#unsettled === 0) this.#allSettled?.();
        return;
      case CLOSING:
        this.#dispatch(reg);
        return;
      case STOPPED:
        return;
    }
    if (reg.oneShot) {
      if (!reg.parked) this.#arm(reg, reg.wanted & ~reg.armed, false);
    } else if (reg.edge) {
      // An edge came while the callback ran: the callback may have read it
      // already, so look (level, once) instead of calling back blindly.
      const missed = reg.missed;
      reg.missed = 0;
      if ((missed & READ) !== 0) reg.pending &= ~Event.Read;
      if ((missed & WRITE) !== 0) reg.pending &= ~Event.Write;
      this.#arm(reg, missed & ~reg.armed, false);
    } else if ((reg.wanted & ~reg.armed) !== 0) {
      // Level: look again after I/O had its turn (a callback that reads
      // nothing must not spin the microtask queue).
      later(() => {
        if (!reg.busy) this.#arm(reg, reg.wanted & ~reg.armed, false);
      });
    }
    if (reg.pending !== 0) this.#dispatch(reg);
  }

  #report(err: unknown): void {
    try {
      this.#onError(err);
    } catch {
      // An onError that throws has nowhere to report to.
    }
  }
}

/**
 * Makes a poller (easygo's `netpoll.New`). It needs no OS resource of its
 * own: each runtime's event loop (epoll, kqueue) does the waiting, and the
 * adapter's readiness tells the poller which conn is ready.
 *
 * @param config `onError` for what callbacks throw.
 * @returns The poller.
 * @throws {TypeError} If `config.onError` is given and is not a function.
 *
 * @example An echo server whose idle connections hold no read buffer
 * ```ts
 * import { createPoller, Event, handleRead } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using poller = createPoller();
 *
 * const client = await connect({ hostname: "127.0.0.1", port });
 * await using conn = await listener.accept();
 * const desc = handleRead(conn);
 * poller.start(desc, async (ev) => {
 *   if ((ev & Event.Read) !== 0) {
 *     const buf = new Uint8Array(4096); // lives only while the conn speaks
 *     const n = await conn.read(buf);
 *     if (n !== null) await conn.write(buf.subarray(0, n));
 *   }
 *   if ((ev & (Event.ReadHup | Event.Hup)) !== 0) poller.stop(desc);
 * });
 *
 * await client.write(new TextEncoder().encode("ping"));
 * const reply = new Uint8Array(4);
 * await client.read(reply);
 * console.log(new TextDecoder().decode(reply)); // "ping"
 * client.close();
 * ```
 */
export function createPoller(config?: PollerConfig): Poller {
  if (config?.onError !== undefined && typeof config.onError !== "function") {
    throw new TypeError("Cannot create poller: onError must be a function");
  }
  return new PollerImpl(config);
}
