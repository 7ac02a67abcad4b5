/**
 * The buffered listener: bound at once, accepting only once activated.
 *
 * Internals: accept() calls that come before activation wait in a FIFO of
 * this module's own; at activation each one, oldest first, is handed on to
 * the adapter's accept(), which keeps FIFO order for both the calls and the
 * connections. Before activation the adapter's accept() is never called, so
 * on Deno connections wait in the kernel backlog, and on Bun and Node they
 * wait paused in the adapter's bounded queue ({@linkcode Listener.pending}).
 *
 * @module
 */
import { type ListWaiter, waitInList } from "../_util/abort.ts";
import { MAX_DELAY } from "../_util/validate.ts";
import {
  type AbortOptions,
  type Conn,
  listen,
  type Listener,
  ListenerClosedError,
  ListenerWrapper,
  type ListenOptions,
  TimeoutError,
} from "../runtime/mod.ts";

/**
 * What activates a {@linkcode BufferedListener}: a promise (activated once it
 * settles, fulfilled or rejected) or an `AbortSignal` (activated once it
 * aborts).
 */
export type Activation = PromiseLike<unknown> | AbortSignal;

/** Options that {@linkcode listenBuffer} adds to the runtime's listen options. */
export interface ListenBufferExtraOptions {
  /**
   * Milliseconds to wait for activation. If the listener is not activated in
   * time it closes: the connections that waited are closed, and accept()
   * calls (waiting or later) reject with `TimeoutError`. `undefined` waits
   * for ever.
   * @default {undefined}
   */
  timeout?: number;
}

/**
 * What {@linkcode listenBuffer} accepts: where to listen (a TCP port, a Unix
 * path or an inherited fd, with `backlog`), plus `timeout`.
 */
export type ListenBufferOptions = ListenOptions & ListenBufferExtraOptions;

/** A {@linkcode Listener} that accepts nothing until it is activated. */
export interface BufferedListener extends Listener {
  /** Whether the listener was activated. */
  readonly activated: boolean;
  /**
   * Activates the listener: accept() calls that wait, and all later ones, get
   * the waiting connections in arrival order. Idempotent; no-op once closed.
   */
  activate(): void;
}

/** An accept() waiting for activation, with the options to pass on. */
type Waiter = ListWaiter<Conn> & { options: AbortOptions | undefined };

function checkActivation(activate: unknown): void {
  if (activate === undefined || activate instanceof AbortSignal) return;
  if (
    activate !== null && (typeof activate === "object" || typeof activate === "function") &&
    typeof (activate as { then?: unknown }).then === "function"
  ) return;
  throw new TypeError(
    `Cannot listen: activate must be a promise or an AbortSignal, received ${
      activate === null ? "null" : typeof activate
    }`,
  );
}

function checkTimeout(timeout: unknown): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(
      `Cannot listen: timeout must be a non-negative number of milliseconds, received ${
        String(timeout)
      }`,
    );
  }
  return timeout;
}

/**
 * The one implementation of {@linkcode BufferedListener}: a
 * {@linkcode ListenerWrapper} that holds accept() (and readiness) back until
 * activation.
 */
class Buffered extends ListenerWrapper implements BufferedListener {
  #activated = false;
  // Why accept() fails once closed: ListenerClosedError, or TimeoutError.
  #closedError: Error | null = null;
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe: (() => void) | undefined;
  // A readiness watch set before activation, handed on at activation.
  #acceptWatch: Parameters<NonNullable<Listener["whenAcceptable"]>> | null = null;

  constructor(inner: Listener, activate: Activation | undefined, timeout: number | undefined) {
    super(inner);
    if (activate instanceof AbortSignal) {
      if (activate.aborted) {
        this.#activated = true;
        return;
      }
      const onAbort = () => this.activate();
      activate.addEventListener("abort", onAbort, { once: true });
      this.#unsubscribe = () => activate.removeEventListener("abort", onAbort);
    } else if (activate !== undefined) {
      const onSettled = () => this.activate();
      activate.then(onSettled, onSettled);
    }
    if (timeout !== undefined && timeout !== Infinity) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#expire(timeout);
      }, Math.min(timeout, MAX_DELAY));
    }
  }

  override get closed(): boolean {
    return this.#closedError !== null || this.inner.closed;
  }

  get activated(): boolean {
    return this.#activated;
  }

  /** Readiness, where the adapter has it: it reports nothing before activation. */
  override whenAcceptable(
    callback: Parameters<NonNullable<Listener["whenAcceptable"]>>[0],
    options?: Parameters<NonNullable<Listener["whenAcceptable"]>>[1],
  ): void {
    if (callback !== null && typeof callback !== "function") {
      throw new TypeError("Cannot watch acceptability: the callback must be a function or null");
    }
    if (this.#activated || this.#closedError !== null) {
      this.inner.whenAcceptable!(callback, options);
      return;
    }
    this.#acceptWatch = callback === null ? null : [callback, options];
  }

  activate(): void {
    if (this.#activated || this.#closedError !== null) return;
    this.#activated = true;
    this.#stopWaiting();
    const watch = this.#acceptWatch;
    this.#acceptWatch = null;
    if (watch !== null) this.inner.whenAcceptable!(...watch);
    // Oldest first: the adapter serves its accept() calls in call order.
    for (const waiter of this.#waiters.splice(0)) {
      waiter.cleanup();
      waiter.resolve(this.inner.accept(waiter.options));
    }
  }

  override accept(options?: AbortOptions): Promise<Conn> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    if (this.#activated) return this.inner.accept(options);
    const signal = options?.signal;
    return waitInList(this.#waiters, signal, { options });
  }

  override close(): Promise<void> {
    return this.#shut(new ListenerClosedError("Cannot accept: the listener is closed"));
  }

  #expire(timeout: number): void {
    if (this.#activated || this.#closedError !== null) return;
    this.#shut(
      new TimeoutError(`Cannot accept: the listener was not activated within ${timeout} ms`),
    ).catch(() => {});
  }

  #shut(err: Error): Promise<void> {
    const watch = this.#acceptWatch;
    this.#acceptWatch = null;
    if (this.#closedError === null) {
      this.#closedError = err;
      this.#stopWaiting();
      for (const waiter of this.#waiters.splice(0)) {
        waiter.cleanup();
        waiter.reject(err);
      }
    }
    // The adapter closes the connections queued in JS; the kernel resets
    // those still in its backlog.
    const closing = this.inner.close();
    // A watch set before activation: the closed adapter reports "closed".
    if (watch !== null) this.inner.whenAcceptable!(...watch);
    return closing;
  }

  #stopWaiting(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}

/**
 * Listens at once and accepts later: the socket is bound and listening when
 * the promise resolves (so the port is known and clients can connect), but
 * accept() waits until `activate` settles (a promise) or aborts (an
 * `AbortSignal`), or until {@linkcode BufferedListener.activate} is called.
 * Connections that arrive before activation are all served after it, in
 * arrival order.
 *
 * Where they wait differs by runtime:
 * - **Deno**: in the kernel's accept queue (the listener does not call accept
 *   before activation). `backlog` sets its length; clients past it see their
 *   connect delayed (the kernel drops their SYN and they retry), not
 *   refused. `pending` is `undefined`.
 * - **Bun and Node** (and `{ fd }` listeners on every runtime): these accept
 *   eagerly, so the adapter holds accepted connections paused, unread, in a
 *   queue bounded by `backlog` (default 4096). A connection that arrives
 *   when the queue is full is closed at once and counted in `dropped`.
 *   `pending` tells how many wait.
 *
 * Unlike Docker's original, closing before activation wakes every waiting
 * accept() with `ListenerClosedError` (the Go version leaks the goroutine),
 * concurrent accept() calls are safe, and activation can time out.
 *
 * @param options Where to listen (`{ hostname?, port?, backlog? }`,
 * `{ path, backlog? }` or `{ fd, backlog? }`), plus `timeout`: milliseconds
 * to wait for activation before closing (default: for ever).
 * @param activate A promise or an `AbortSignal`; omit it to activate only by
 * calling `activate()`. A rejected promise activates too: the listener does
 * not judge the warm-up (close it yourself if the warm-up failed).
 * @returns The listener, bound and listening, not yet activated (unless
 * `activate` is a signal that is already aborted).
 * @throws {TypeError} If `activate` is neither a promise nor an
 * `AbortSignal`, or the listen options have the wrong shape.
 * @throws {RangeError} If `timeout` is negative or not a number, or a port,
 * backlog or fd is out of range.
 * @throws {AddrInUseError} If the address is taken.
 *
 * @example Listen at once, serve after a warm-up
 * ```ts
 * import { listenBuffer } from "@netkit/netkit/listenbuffer";
 * import { connect } from "@netkit/netkit/runtime";
 *
 * const ready = new AbortController(); // aborting it activates the listener
 * await using listener = await listenBuffer({ hostname: "127.0.0.1", port: 0 }, ready.signal);
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 *
 * // A client can connect and send before the server accepts anything.
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await client.write(new TextEncoder().encode("ping"));
 *
 * const accepted = listener.accept(); // waits for activation
 * ready.abort(); // warmed up
 * await using conn = await accepted;
 * const buf = new Uint8Array(4);
 * await conn.read(buf);
 * console.log(new TextDecoder().decode(buf)); // "ping"
 * ```
 *
 * @example Giving up when the warm-up takes too long
 * ```ts
 * import { listenBuffer } from "@netkit/netkit/listenbuffer";
 * import { TimeoutError } from "@netkit/netkit/runtime";
 *
 * const never = new AbortController().signal;
 * const listener = await listenBuffer({ hostname: "127.0.0.1", port: 0, timeout: 10 }, never);
 * try {
 *   await listener.accept();
 * } catch (err) {
 *   console.log(err instanceof TimeoutError, listener.closed); // true true
 * }
 * ```
 */
export async function listenBuffer(
  options: ListenBufferOptions,
  activate?: Activation,
): Promise<BufferedListener> {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot listen: options must be an object, received ${String(options)}`);
  }
  checkActivation(activate);
  const { timeout, ...listenOptions } = options;
  const ms = checkTimeout(timeout);
  const inner = await listen(listenOptions as ListenOptions);
  return new Buffered(inner, activate, ms);
}
