// Wrapper base classes: what Go gets from embedding. A subclass overrides only
// what it changes; every other member forwards to the wrapped object.
// Runtime-free.
import { acceptAll } from "./accept_all.ts";
import { readableOf, writableOf } from "./conn_streams.ts";
import type {
  AbortOptions,
  AcceptReadiness,
  Addr,
  Conn,
  Deadline,
  Listener,
  ReadinessOptions,
  ReadReadiness,
  TlsInfo,
  WriteReadiness,
} from "./types.ts";

/** Throws unless `inner` is an object with the two methods named. */
function checkInner(inner: unknown, a: string, b: string, what: "conn" | "listener"): void {
  const o = inner as Record<string, unknown> | null;
  if (
    o === null || typeof o !== "object" || typeof o[a] !== "function" ||
    typeof o[b] !== "function"
  ) {
    throw new TypeError(`Cannot wrap ${what}: expected a ${what === "conn" ? "Conn" : "Listener"}`);
  }
}

/**
 * A {@linkcode Conn} that forwards every member to the conn it wraps, for
 * subclasses that change a few (Go's struct embedding). `readable` and
 * `writable` are built over this object's own `read()` and `write()`, so an
 * override of those is seen by stream users too. `whenReadable` and
 * `whenWritable` exist only where the wrapped conn has them.
 *
 * @example Counting the bytes read
 * ```ts
 * import { ConnWrapper, connect, listen } from "@netkit/netkit/runtime";
 *
 * class CountingConn extends ConnWrapper {
 *   bytesRead = 0;
 *   override async read(buf: Uint8Array): Promise<number | null> {
 *     const n = await super.read(buf);
 *     if (n !== null) this.bytesRead += n;
 *     return n;
 *   }
 * }
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * const accepted = listener.accept();
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await using conn = new CountingConn(await accepted);
 * await client.write(new TextEncoder().encode("hi"));
 * await conn.read(new Uint8Array(16));
 * console.log(conn.bytesRead); // 2
 * ```
 */
export class ConnWrapper implements Conn {
  /** The wrapped conn. */
  readonly inner: Conn;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * Wraps `inner`.
   *
   * @param inner The conn every member forwards to.
   * @throws {TypeError} If `inner` is not an object with `read()` and `write()`.
   */
  constructor(inner: Conn) {
    checkInner(inner, "read", "write", "conn");
    this.inner = inner;
    // Readiness exists only where the wrapped conn has it: hide the methods
    // (and any override of them) where it has not.
    if (typeof inner.whenReadable !== "function") this.whenReadable = undefined;
    if (typeof inner.whenWritable !== "function") this.whenWritable = undefined;
  }

  /** The local end's address. */
  get localAddr(): Addr {
    return this.inner.localAddr;
  }

  /** The remote end's address. */
  get remoteAddr(): Addr {
    return this.inner.remoteAddr;
  }

  /** Whether the wrapped conn is closed. */
  get closed(): boolean {
    return this.inner.closed;
  }

  /** The runtime's own object of the wrapped conn. */
  get native(): unknown {
    return this.inner.native;
  }

  /** The wrapped conn's file descriptor, where the runtime tells it. */
  get fd(): number | undefined {
    return this.inner.fd;
  }

  /** What the wrapped conn's TLS handshake agreed on, on a TLS conn; else `undefined`. */
  get tls(): TlsInfo | undefined {
    return this.inner.tls;
  }

  /**
   * Reads into `buf` from the wrapped conn.
   *
   * @param buf Where the bytes go.
   * @returns The count read, or `null` at end of stream.
   */
  read(buf: Uint8Array): Promise<number | null> {
    return this.inner.read(buf);
  }

  /**
   * Writes all of `bytes` to the wrapped conn.
   *
   * @param bytes What to write.
   * @returns `bytes.length`, once the runtime has taken them.
   */
  write(bytes: Uint8Array): Promise<number> {
    return this.inner.write(bytes);
  }

  /**
   * Half-closes the wrapped conn.
   *
   * @returns Resolves once FIN is queued.
   */
  closeWrite(): Promise<void> {
    return this.inner.closeWrite();
  }

  /** Closes the wrapped conn. Idempotent. */
  close(): void {
    this.inner.close();
  }

  /**
   * Closes this conn (through `close()`, so an override is used).
   *
   * @returns Resolves at once.
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** A `ReadableStream` over this object's `read()`, created on first use. */
  get readable(): ReadableStream<Uint8Array> {
    return (this.#readable ??= readableOf(this));
  }

  /** A `WritableStream` over this object's `write()`, created on first use. */
  get writable(): WritableStream<Uint8Array> {
    return (this.#writable ??= writableOf(this));
  }

  /**
   * Turns Nagle's algorithm off or on, on the wrapped conn.
   *
   * @param noDelay `true` (the default) turns Nagle off.
   */
  setNoDelay(noDelay?: boolean): void {
    this.inner.setNoDelay(noDelay);
  }

  /**
   * Turns TCP keep-alive on or off, on the wrapped conn.
   *
   * @param keepAlive On or off.
   * @param delayMs The idle time before the first probe (ignored on Deno).
   */
  setKeepAlive(keepAlive?: boolean, delayMs?: number): void {
    this.inner.setKeepAlive(keepAlive, delayMs);
  }

  /**
   * Sets the wrapped conn's read deadline.
   *
   * @param deadline When reads start to fail, or `null` for never.
   */
  setReadDeadline(deadline: Deadline): void {
    this.inner.setReadDeadline(deadline);
  }

  /**
   * Sets the wrapped conn's write deadline.
   *
   * @param deadline When writes start to fail, or `null` for never.
   */
  setWriteDeadline(deadline: Deadline): void {
    this.inner.setWriteDeadline(deadline);
  }

  /**
   * Sets both deadlines (through this object's two setters, so overrides are used).
   *
   * @param deadline When reads and writes start to fail, or `null` for never.
   */
  setDeadline(deadline: Deadline): void {
    this.setReadDeadline(deadline);
    this.setWriteDeadline(deadline);
  }

  /**
   * Readiness of the wrapped conn (see {@linkcode Conn.whenReadable}); only
   * where the wrapped conn has it.
   *
   * @param callback Called once with what the next `read()` meets; `null` cancels.
   * @param options `edge`: wait for the next change.
   */
  whenReadable?(
    callback: ((state: ReadReadiness) => void) | null,
    options?: ReadinessOptions,
  ): void {
    this.inner.whenReadable!(callback, options);
  }

  /**
   * Write readiness of the wrapped conn (see {@linkcode Conn.whenWritable});
   * only where the wrapped conn has it.
   *
   * @param callback Called once when no write waits; `null` cancels.
   * @param options `edge`: wait for the next change.
   */
  whenWritable?(
    callback: ((state: WriteReadiness) => void) | null,
    options?: ReadinessOptions,
  ): void {
    this.inner.whenWritable!(callback, options);
  }
}

/**
 * A {@linkcode Listener} that forwards every member to the listener it wraps,
 * for subclasses that change a few (Go's struct embedding). Iterating it
 * calls this object's own `accept()`, so an override of it (e.g. one that
 * wraps each conn) is seen by `for await` too. `whenAcceptable` exists only
 * where the wrapped listener has it.
 *
 * @example Wrapping each accepted conn
 * ```ts
 * import { type Conn, ConnWrapper, connect, listen, ListenerWrapper } from "@netkit/netkit/runtime";
 *
 * class TaggedConn extends ConnWrapper {
 *   readonly tag = "mine";
 * }
 * class TaggingListener extends ListenerWrapper {
 *   override async accept(): Promise<Conn> {
 *     return new TaggedConn(await super.accept());
 *   }
 * }
 *
 * await using listener = new TaggingListener(await listen({ hostname: "127.0.0.1", port: 0 }));
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * const accepted = listener.accept();
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await using conn = await accepted;
 * console.log(conn instanceof TaggedConn); // true
 * ```
 */
export class ListenerWrapper implements Listener {
  /** The wrapped listener. */
  readonly inner: Listener;

  /**
   * Wraps `inner`.
   *
   * @param inner The listener every member forwards to.
   * @throws {TypeError} If `inner` is not an object with `accept()` and `close()`.
   */
  constructor(inner: Listener) {
    checkInner(inner, "accept", "close", "listener");
    this.inner = inner;
    // Readiness exists only where the wrapped listener has it.
    if (typeof inner.whenAcceptable !== "function") this.whenAcceptable = undefined;
  }

  /** The wrapped listener's bound address. */
  get addr(): Addr {
    return this.inner.addr;
  }

  /** The wrapped listener's file descriptor, where the runtime tells it. */
  get fd(): number | undefined {
    return this.inner.fd;
  }

  /** The runtime's own object of the wrapped listener. */
  get native(): unknown {
    return this.inner.native;
  }

  /** Whether the wrapped listener is closed. */
  get closed(): boolean {
    return this.inner.closed;
  }

  /** How many accepted connections wait in the wrapped listener's queue. */
  get pending(): number | undefined {
    return this.inner.pending;
  }

  /** How many connections the wrapped listener dropped because its queue was full. */
  get dropped(): number {
    return this.inner.dropped;
  }

  /**
   * Waits for the wrapped listener's next connection.
   *
   * @param options An abort signal.
   * @returns The connection.
   * @throws {ListenerClosedError} Once the listener is closed.
   */
  accept(options?: AbortOptions): Promise<Conn> {
    return this.inner.accept(options);
  }

  /**
   * Closes the wrapped listener.
   *
   * @returns Resolves once it stopped listening.
   */
  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * Closes this listener (through `close()`, so an override is used).
   *
   * @returns Resolves once it stopped listening.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Iterates this object's `accept()` until the listener closes.
   *
   * @returns An async iterator over the accepted connections.
   */
  [Symbol.asyncIterator](): AsyncIterator<Conn> {
    return acceptAll(this);
  }

  /**
   * Accept readiness of the wrapped listener (see
   * {@linkcode Listener.whenAcceptable}); only where the wrapped listener has it.
   *
   * @param callback Called once when the next `accept()` would not wait; `null` cancels.
   * @param options `edge`: wait for the next change.
   */
  whenAcceptable?(
    callback: ((state: AcceptReadiness) => void) | null,
    options?: ReadinessOptions,
  ): void {
    this.inner.whenAcceptable!(callback, options);
  }
}
