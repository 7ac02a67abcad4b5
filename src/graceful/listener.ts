/**
 * The graceful listener: goji's `graceful/listener` for netkit listeners.
 *
 * @module
 */
import {
  type AbortOptions,
  acceptAll,
  type Conn,
  type Listener,
  ListenerClosedError,
  ListenerWrapper,
} from "../runtime/mod.ts";
import { iteratesOwn, os } from "../runtime/_internal.ts";
import { type ConnEntry, type GracefulConn, TrackedConn } from "./conn.ts";
import { checkDrainOptions, checkGrace, Tracker } from "./_tracker.ts";
import {
  type GracefulDrainOptions,
  type GracefulOptions,
  type GracefulStats,
  Mode,
} from "./types.ts";

/**
 * A {@linkcode Listener} whose connections are tracked as idle, in use or
 * disowned, so that it can be drained: stop accepting, close the idle
 * connections, wait for the busy ones.
 */
export interface GracefulListener extends Listener {
  /** How connections change state (see {@linkcode Mode}). */
  readonly mode: Mode;
  /** How long a new connection stays fresh, in ms (see {@linkcode GracefulOptions.grace}). */
  readonly grace: number;
  /** Counts of the connections, exact now (a new object on each read). */
  readonly stats: GracefulStats;
  /** Whether `drain()` or `drainAll()` was called. */
  readonly draining: boolean;
  /**
   * Waits for the next connection and tracks it; it starts fresh (in use
   * until its first read or its grace period ends; idle with a grace of 0).
   * Rejects with `ListenerClosedError` once the listener is closed, or once
   * it is draining and the connections the runtime had already accepted are
   * handed out, including while the call waits.
   */
  accept(options?: AbortOptions): Promise<GracefulConn>;
  /** Accepts until the listener is closed or drained, then ends quietly. */
  [Symbol.asyncIterator](): AsyncIterator<GracefulConn>;
  /**
   * Closes the connections that are idle now (fresh ones are in use). Those
   * that turn idle later stay open (use `drain()` for that).
   */
  closeIdle(): Promise<void>;
  /**
   * Stops accepting (the runtime takes no new connection from the kernel,
   * then the listening socket is closed), closes the idle connections, then
   * closes each busy one as soon as it turns idle. Fresh connections are
   * busy: a drain never closes a connection before its first read, unless
   * its grace period passes with no data. The connections the runtime had
   * already accepted (node:net and Bun accept eagerly) are not reset: they
   * are tracked as fresh and `accept()` still hands them out.
   * Resolves when none is left (disowned ones do not count).
   * With `timeout` or `signal`: when the time passes or the signal aborts,
   * closes those still open and rejects with `DrainTimeoutError` (`cut`
   * says how many).
   */
  drain(options?: GracefulDrainOptions): Promise<void>;
  /**
   * Stops accepting and closes every tracked connection, idle, fresh or
   * busy (disowned ones stay open); resolves once they are closed.
   */
  drainAll(): Promise<void>;
}

function checkOptions(options: unknown): [Mode, number] {
  if (options === undefined || typeof options === "string") {
    return [checkMode(options), checkGrace(undefined, "wrap listener")];
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Cannot wrap listener: options must be a Mode or an object, received ${String(options)}`,
    );
  }
  const { mode, grace } = options as GracefulOptions;
  return [checkMode(mode), checkGrace(grace, "wrap listener")];
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

const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });

/**
 * The one implementation of {@linkcode GracefulListener}: a
 * {@linkcode ListenerWrapper} that overrides accept() (to track each conn)
 * and adds the drains.
 */
class Graceful extends ListenerWrapper implements GracefulListener {
  readonly mode: Mode;
  readonly #tracker: Tracker<ConnEntry>;
  /** Settles once a drain has stopped the inner listener. */
  #stopping: Promise<void> | undefined;
  /** Connections the runtime had accepted when the drain began, tracked, for accept(). */
  readonly #leftovers: TrackedConn[] = [];

  /** Checks `inner` (in the base), then `options`. */
  constructor(inner: Listener, options: Mode | GracefulOptions | undefined) {
    super(inner);
    const [mode, grace] = checkOptions(options);
    this.mode = mode;
    this.#tracker = new Tracker<ConnEntry>((entry) => entry.conn.close(), grace);
  }

  get stats(): GracefulStats {
    return this.#tracker.stats();
  }

  get grace(): number {
    return this.#tracker.grace;
  }

  get draining(): boolean {
    return this.#tracker.draining;
  }

  override accept(options?: AbortOptions): Promise<GracefulConn> {
    if (this.#stopping !== undefined) return this.#acceptLeftover(options);
    const accepted = this.inner.accept(options);
    // No closure per call unless there is a signal to pass on.
    return options === undefined
      ? accepted.then(this.#track, this.#acceptFailed)
      : accepted.then(this.#track, (err: unknown) => this.#afterAcceptError(err, options));
  }

  readonly #acceptFailed = (err: unknown): Promise<GracefulConn> =>
    this.#afterAcceptError(err, undefined);

  /** A drain closed the inner listener while accept() waited: hand out what it left. */
  #afterAcceptError(err: unknown, options: AbortOptions | undefined): Promise<GracefulConn> {
    if (err instanceof ListenerClosedError && this.#stopping !== undefined) {
      return this.#acceptLeftover(options);
    }
    throw err;
  }

  /** While draining: what the runtime had accepted, then ListenerClosedError. */
  async #acceptLeftover(options?: AbortOptions): Promise<GracefulConn> {
    await this.#stopping;
    // drainAll() (or a drain's timeout) may have closed some already.
    for (let conn; (conn = this.#leftovers.shift()) !== undefined;) {
      if (conn.state !== "closed") return conn;
    }
    if (options?.signal?.aborted) throw options.signal.reason;
    throw new ListenerClosedError("Cannot accept: the listener is draining");
  }

  readonly #track = (conn: Conn): GracefulConn => {
    if (this.#tracker.draining && this.#tracker.grace === 0) {
      // Accepted just before the drain began, and nothing protects it.
      conn.close();
      throw new ListenerClosedError("Cannot accept: the listener is draining");
    }
    return this.#tracked(conn);
  };

  #tracked(conn: Conn): TrackedConn {
    return new TrackedConn(conn, this.#tracker, this.mode).track();
  }

  /**
   * Stops the inner listener: the runtime takes no more connections from the
   * kernel; those it took (and those a listener hands out after its close,
   * such as the Upgrader's) are tracked and kept for accept().
   */
  #stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const inner = this.inner;
      if (this.#tracker.grace > 0) {
        os.stopAccepting(inner);
        await this.#takeQueued();
      }
      await inner.close();
      if (this.#tracker.grace > 0) await this.#takeQueued();
    })();
    return this.#stopping;
  }

  async #takeQueued(): Promise<void> {
    const inner = this.inner;
    // accept() takes one of the `pending` the runtime holds at once (or, if
    // the application's accept() took it first, rejects): it never waits.
    for (let i = 0; i < 1_000_000 && (inner.pending ?? 0) > 0; i++) {
      let conn: Conn;
      try {
        conn = await inner.accept();
      } catch {
        return;
      }
      this.#leftovers.push(this.#tracked(conn));
    }
  }

  /**
   * Iterates the tracked conns, as `acceptAll(this)` does. Over an adapter's
   * listener it takes each conn from that listener's own iterator (one
   * promise per conn less): a conn is tracked as accept() would, and when
   * the inner listener closes under a drain the conns it left are handed
   * out before the iteration ends.
   */
  override [Symbol.asyncIterator](): AsyncIterator<GracefulConn> {
    if (!iteratesOwn(this.inner)) return acceptAll<GracefulConn>(this);
    const inner = this.inner[Symbol.asyncIterator]();
    let done = false;
    const end = (): IteratorResult<GracefulConn, void> => {
      done = true;
      return DONE;
    };
    const failed = (err: unknown): IteratorResult<GracefulConn, void> => {
      if (err instanceof ListenerClosedError) return end();
      done = true;
      throw err;
    };
    const leftover = (): Promise<IteratorResult<GracefulConn, void>> =>
      this.#acceptLeftover().then((value) => ({ done: false, value }), failed);
    const onResult = (
      result: IteratorResult<Conn>,
    ): IteratorResult<GracefulConn, void> | Promise<IteratorResult<GracefulConn, void>> => {
      // Done: the inner listener closed, under a drain (hand out what it left) or not.
      if (result.done === true) return leftover();
      try {
        return { done: false, value: this.#track(result.value) };
      } catch (err) {
        return failed(err);
      }
    };
    const iterator: AsyncIterableIterator<GracefulConn> = {
      next: (): Promise<IteratorResult<GracefulConn, void>> => {
        if (done) return Promise.resolve(DONE);
        if (this.#stopping !== undefined) return leftover();
        return inner.next().then(onResult, failed);
      },
      return: (): Promise<IteratorResult<GracefulConn, void>> => {
        done = true;
        inner.return?.();
        return Promise.resolve(DONE);
      },
      // Iterable itself, as acceptAll()'s iterator is.
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  closeIdle(): Promise<void> {
    this.#tracker.closeIdle();
    return Promise.resolve();
  }

  async drain(options?: GracefulDrainOptions): Promise<void> {
    const [timeout, signal] = checkDrainOptions(options, "drain");
    this.#tracker.startDraining();
    await this.#stop();
    await this.#tracker.drain(timeout, signal, "drain");
  }

  async drainAll(): Promise<void> {
    this.#tracker.startDraining();
    await this.#stop();
    await this.#tracker.drainAll();
  }
}

/**
 * Wraps a listener so that its connections are tracked (goji's `Wrap`):
 * each accepted connection starts fresh (in use until its first read, or
 * until its grace period passes with no data; see
 * {@linkcode GracefulOptions.grace}), and then turns in use and idle as
 * `mode` says. Then `closeIdle()`, `drain()` and `drainAll()` close
 * connections at the right time, and `stats` counts them.
 *
 * Unlike goji: a new connection is not idle before its first read (goji's
 * start idle, so a drain closed connections whose request was already sent:
 * golang/go#22682); a drain serves the connections the runtime had already
 * accepted; `drain()` takes a timeout and an `AbortSignal`; `stats` are
 * there; state lives in the listener, not in globals, so each listener
 * drains on its own.
 *
 * @param listener The listener to wrap; the graceful listener closes it when
 * it is closed or drained.
 * @param options A {@linkcode Mode} (default `Mode.Automatic`), or
 * `{ mode, grace }` (grace default 5000 ms; 0 turns freshness off).
 * @returns The graceful listener.
 * @throws {TypeError} If `listener` is not a listener, or `options` neither
 * a mode nor an object.
 * @throws {RangeError} If `mode` is not a {@linkcode Mode}, or `grace` not a
 * non-negative number.
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
 * console.log(listener.stats); // { idle: 0, inUse: 0, fresh: 0, disowned: 0, total: 0, accepted: 1, closed: 1 }
 * ```
 *
 * @example A request already sent when the drain starts is still answered
 * ```ts
 * import { wrap } from "@netkit/netkit/graceful";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * const listener = wrap(await listen({ hostname: "127.0.0.1", port: 0 }), { grace: 5000 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * const accepted = listener.accept();
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await client.write(new TextEncoder().encode("ping"));
 * const conn = await accepted;
 * console.log(conn.state, conn.fresh); // "in-use" true: not read from yet
 *
 * const drained = listener.drain(); // waits for it
 * const buf = new Uint8Array(4);
 * await conn.read(buf); // the request: in use, no longer fresh
 * await conn.write(buf);
 * conn.markIdle(); // answered: the drain closes it and resolves
 * await drained;
 * console.log(conn.closed); // true
 * ```
 */
export function wrap(listener: Listener, options?: Mode | GracefulOptions): GracefulListener {
  return new Graceful(listener, options);
}
