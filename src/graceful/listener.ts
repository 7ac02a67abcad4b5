/**
 * The graceful listener: goji's `graceful/listener` for netkit listeners.
 *
 * @module
 */
import {
  type AbortOptions,
  acceptAll,
  type Addr,
  type Conn,
  type Listener,
  ListenerClosedError,
} from "../runtime/mod.ts";
import { type GracefulConn, TrackedConn } from "./conn.ts";
import { checkDrainOptions, Tracker } from "./_tracker.ts";
import { type GracefulDrainOptions, type GracefulStats, Mode } from "./types.ts";

/**
 * A {@linkcode Listener} whose connections are tracked as idle, in use or
 * disowned, so that it can be drained: stop accepting, close the idle
 * connections, wait for the busy ones.
 */
export interface GracefulListener extends Listener {
  /** How connections change state (see {@linkcode Mode}). */
  readonly mode: Mode;
  /** Counts of the connections, exact now (a new object on each read). */
  readonly stats: GracefulStats;
  /** Whether `drain()` or `drainAll()` was called. */
  readonly draining: boolean;
  /**
   * Waits for the next connection and tracks it; it starts idle.
   * Rejects with `ListenerClosedError` once the listener is closed or
   * draining, including while the call waits.
   */
  accept(options?: AbortOptions): Promise<GracefulConn>;
  /** Accepts until the listener is closed or draining, then ends quietly. */
  [Symbol.asyncIterator](): AsyncIterator<GracefulConn>;
  /**
   * Closes the connections that are idle now. Those that turn idle later
   * stay open (use `drain()` for that).
   */
  closeIdle(): Promise<void>;
  /**
   * Stops accepting (closes the listening socket), closes the idle
   * connections, then closes each busy one as soon as it turns idle.
   * Resolves when none is left (disowned ones do not count).
   * With `timeout` or `signal`: when the time passes or the signal aborts,
   * closes those still open and rejects with `DrainTimeoutError` (`cut`
   * says how many).
   */
  drain(options?: GracefulDrainOptions): Promise<void>;
  /**
   * Stops accepting and closes every tracked connection, idle or busy
   * (disowned ones stay open); resolves once they are closed.
   */
  drainAll(): Promise<void>;
}

function checkMode(mode: unknown): Mode {
  if (mode === undefined) return Mode.Automatic;
  if (mode === Mode.Manual || mode === Mode.Automatic || mode === Mode.Deadline) return mode;
  throw new RangeError(
    `Cannot wrap listener: mode must be "manual", "automatic" or "deadline", received ${
      String(mode)
    }`,
  );
}

class Graceful implements GracefulListener {
  readonly mode: Mode;
  readonly #inner: Listener;
  readonly #tracker: Tracker<TrackedConn> = new Tracker<TrackedConn>((conn) => conn.close());

  /** Readiness, where the wrapped listener has it (see {@linkcode Listener.whenAcceptable}). */
  readonly whenAcceptable?: NonNullable<Listener["whenAcceptable"]>;

  constructor(inner: Listener, mode: Mode) {
    this.#inner = inner;
    this.mode = mode;
    if (typeof inner.whenAcceptable === "function") {
      this.whenAcceptable = (callback, options) => inner.whenAcceptable!(callback, options);
    }
  }

  get addr(): Addr {
    return this.#inner.addr;
  }

  get fd(): number | undefined {
    return this.#inner.fd;
  }

  get native(): unknown {
    return this.#inner.native;
  }

  get closed(): boolean {
    return this.#inner.closed;
  }

  get pending(): number | undefined {
    return this.#inner.pending;
  }

  get dropped(): number {
    return this.#inner.dropped;
  }

  get stats(): GracefulStats {
    return this.#tracker.stats();
  }

  get draining(): boolean {
    return this.#tracker.draining;
  }

  accept(options?: AbortOptions): Promise<GracefulConn> {
    if (this.#tracker.draining) {
      return Promise.reject(new ListenerClosedError("Cannot accept: the listener is draining"));
    }
    return this.#inner.accept(options).then(this.#track);
  }

  readonly #track = (conn: Conn): GracefulConn => {
    if (this.#tracker.draining) {
      // Accepted just before the drain began: not handed out, not counted.
      conn.close();
      throw new ListenerClosedError("Cannot accept: the listener is draining");
    }
    const tracked = new TrackedConn(conn, this.#tracker, this.mode);
    this.#tracker.add(tracked);
    return tracked;
  };

  [Symbol.asyncIterator](): AsyncIterator<GracefulConn> {
    return acceptAll<GracefulConn>(this);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  closeIdle(): Promise<void> {
    this.#tracker.closeIdle();
    return Promise.resolve();
  }

  async drain(options?: GracefulDrainOptions): Promise<void> {
    const [timeout, signal] = checkDrainOptions(options, "drain");
    const closing = this.#inner.close();
    const drained = this.#tracker.drain(timeout, signal, "drain");
    await Promise.all([closing, drained]);
  }

  async drainAll(): Promise<void> {
    const closing = this.#inner.close();
    const drained = this.#tracker.drainAll();
    await Promise.all([closing, drained]);
  }
}

/**
 * Wraps a listener so that its connections are tracked (goji's `Wrap`):
 * each accepted connection starts idle, and turns in use and idle again as
 * `mode` says. Then `closeIdle()`, `drain()` and `drainAll()` close
 * connections at the right time, and `stats` counts them.
 *
 * Unlike goji: `drain()` takes a timeout and an `AbortSignal`; `stats` are
 * there; state lives in the listener, not in globals, so each listener
 * drains on its own.
 *
 * @param listener The listener to wrap; the graceful listener closes it when
 * it is closed or drained.
 * @param mode How connections change state (default `Mode.Automatic`).
 * @returns The graceful listener.
 * @throws {TypeError} If `listener` is not a listener.
 * @throws {RangeError} If `mode` is not a {@linkcode Mode}.
 *
 * @example Draining an echo server
 * ```ts
 * import { wrap } from "@netkit/netkit/graceful";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * const listener = wrap(await listen({ hostname: "127.0.0.1", port: 0 }));
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 *
 * const served = (async () => {
 *   for await (const conn of listener) {
 *     (async () => {
 *       const buf = new Uint8Array(1024);
 *       try {
 *         for (let n; (n = await conn.read(buf)) !== null;) { // a read marks it in use
 *           await conn.write(buf.subarray(0, n));
 *           conn.markIdle(); // a reply is done: drain may close it now
 *         }
 *       } catch {
 *         // closed by the drain
 *       }
 *       conn.close();
 *     })();
 *   }
 * })();
 *
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await client.write(new TextEncoder().encode("hi"));
 * await client.read(new Uint8Array(2));
 *
 * await listener.drain({ timeout: 5000 });
 * await served;
 * console.log(listener.stats); // { idle: 0, inUse: 0, disowned: 0, total: 0, accepted: 1, closed: 1 }
 * ```
 */
export function wrap(listener: Listener, mode?: Mode): GracefulListener {
  if (
    listener === null || typeof listener !== "object" ||
    typeof (listener as { accept?: unknown }).accept !== "function" ||
    typeof (listener as { close?: unknown }).close !== "function"
  ) {
    throw new TypeError("Cannot wrap listener: expected a Listener");
  }
  return new Graceful(listener, checkMode(mode));
}
