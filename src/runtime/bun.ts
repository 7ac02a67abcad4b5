// Runtime adapter for Bun: Bun.listen / Bun.connect, the fastest path.
// `listen({ fd })` falls back to Bun's node:net, as the issue asks and because
// `Bun.listen({ fd })` cannot tell its own address. Only src/runtime/ may
// touch `Bun.*`.
import type { OpToken } from "./_base_conn.ts";
import { BaseListener, checkBacklog } from "./_base_listener.ts";
import { ClosedError, TlsHandshakeError } from "./errors.ts";
import { mapError } from "./_map_error.ts";
import { connectWith, listenTarget, listenWith } from "./_open.ts";
import { boundLocal, closedForRead, connAddrs, QueuedConn } from "./_queued_conn.ts";
import {
  HandoffWaiters,
  HANDSHAKE_TIMEOUT_MS,
  listenTls,
  pemText,
  validateTlsListen,
} from "./_tls.ts";
import type {
  AbortOptions,
  Addr,
  Conn,
  ConnectOptions,
  FdListenOptions,
  Listener,
  ListenOptions,
  Runtime,
  TlsInfo,
  TlsListenOptions,
} from "./types.ts";

// The few Bun types used here, declared locally so tsc needs no Bun types.
interface BunSocketLike {
  data: BunConn | undefined;
  readonly fd?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  write(data: Uint8Array): number;
  shutdown(halfClose?: boolean): void;
  end(): void;
  close?(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  setKeepAlive(enable?: boolean, initialDelay?: number): boolean;
  getTLSVersion?(): string | null;
  readonly authorized?: boolean;
}
interface BunHandlers {
  open(s: BunSocketLike): void;
  data(s: BunSocketLike, chunk: Uint8Array): void;
  end(s: BunSocketLike): void;
  close(s: BunSocketLike, err?: Error): void;
  drain(s: BunSocketLike): void;
  error(s: BunSocketLike, err: Error): void;
}
interface BunListenerLike {
  readonly hostname?: string;
  readonly port?: number;
  readonly unix?: string;
  readonly fd?: number;
  stop(closeActiveConnections?: boolean): void;
}
interface BunTlsHandlers extends BunHandlers {
  handshake(s: BunSocketLike, success: boolean, err: Error | null): void;
}
interface BunNs {
  listen(
    options: ({ hostname: string; port: number } | { unix: string }) & {
      allowHalfOpen: boolean;
      socket: BunHandlers | BunTlsHandlers;
      tls?: { cert: string; key: string };
    },
  ): BunListenerLike;
  connect(
    options: ({ hostname: string; port: number } | { unix: string }) & {
      allowHalfOpen: boolean;
      socket: BunHandlers;
    },
  ): Promise<BunSocketLike>;
}

function bun(): BunNs {
  return (globalThis as unknown as { Bun: BunNs }).Bun;
}

/** A {@linkcode Conn} over a Bun `Socket`. */
export class BunConn extends QueuedConn {
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  readonly native: BunSocketLike;
  #gone = false;
  /** Left flowing at open until `settleOpen()` (see BunListener.onOpen). */
  #opening: boolean;

  /**
   * `unix` gives the local and remote paths of a Unix socket; `local`, the
   * local address when the caller knows it (a listener bound to one address).
   * The socket is paused (not read until the first read(): the data waits in
   * the kernel), unless `opening`: then the caller calls `settleOpen()`
   * before Bun polls the socket.
   */
  constructor(
    socket: BunSocketLike,
    unix?: [local: string, remote: string],
    local?: Addr,
    opening = false,
  ) {
    super(socket, opening);
    this.native = socket;
    this.#opening = opening;
    [this.localAddr, this.remoteAddr] = connAddrs(socket, unix, local);
    socket.data = this;
    if (!opening) socket.pause();
  }

  /**
   * @internal The event-loop turn that opened the socket is over: pauses it
   * unless a read or a readiness watch already waits for its data.
   */
  settleOpen(): void {
    if (!this.#opening) return;
    this.#opening = false;
    if (!this.closed) this._chunks.pauseUnlessWaited();
  }

  get fd(): number | undefined {
    const fd = this.native.fd;
    return typeof fd === "number" && fd >= 0 ? fd : undefined;
  }

  /** @internal Bun's `data` handler. */
  onData(chunk: Uint8Array): void {
    // Bun polls a new socket only after the turn that opened it (measured),
    // so this does not happen; were it to, only this chunk left the kernel.
    if (this.#opening) this.settleOpen();
    this._chunks.push(chunk);
  }

  /** @internal Bun's `end` handler. */
  onEnd(): void {
    this._chunks.end();
  }

  /** @internal Bun's `drain` handler. */
  onDrain(): void {
    this._wakeWriters();
  }

  /** @internal Bun's `error` handler. */
  onError(err: Error): void {
    this._onError(err);
  }

  /** @internal Bun's `close` handler. */
  onClose(err?: Error): void {
    this.#gone = true;
    if (err !== undefined && err !== null) this.onError(err);
    // Bun reports a peer's FIN on a half-closed socket as close, not end.
    this._chunks.end();
    this._wakeWriters();
    this._released();
  }

  /**
   * @internal For the HTTP engine, which owns the conn: the chunks received
   * and not read yet, whole (see ChunkQueue.takeAll()); `whenReadable()`
   * says when more came.
   */
  takeChunks(): Uint8Array[] | null | Error | undefined {
    if (this.closed) return new ClosedError("Cannot read: the connection is closed");
    return this._chunks.takeAll();
  }

  protected override _tryWrite(bytes: Uint8Array): number {
    if (this._failed || this.#gone) return -1;
    const n = this.native.write(bytes);
    return n < 0 ? -1 : n;
  }

  protected async _write(bytes: Uint8Array, token: OpToken): Promise<void> {
    // Bun writes partially and keeps nothing: keep the rest, wait for drain.
    let off = 0;
    while (off < bytes.byteLength) {
      const failure = this._failure();
      if (failure !== null) throw failure;
      if (this.#gone) throw new ClosedError("Cannot write: the connection is closed");
      const n = this.native.write(off === 0 ? bytes : bytes.subarray(off));
      if (n < 0) throw new ClosedError("Cannot write: the connection is closed");
      off += n;
      if (off >= bytes.byteLength || token.cancelled) return;
      await new Promise<void>((resolve) => this._whenDrained(resolve));
      if (token.cancelled) return;
    }
  }

  protected _closeWrite(): Promise<void> {
    if (!this.#gone) this.native.shutdown();
    return Promise.resolve();
  }

  protected _close(): void {
    this._chunks.clear();
    this._chunks.fail(closedForRead);
    if (this.#gone) return;
    if (typeof this.native.close === "function") this.native.close();
    else this.native.end();
  }

  setNoDelay(noDelay = true): void {
    this.native.setNoDelay(noDelay);
  }

  setKeepAlive(keepAlive = true, delayMs = 0): void {
    this.native.setKeepAlive(keepAlive, delayMs);
  }
}

function handlers(onOpen: (s: BunSocketLike) => void): BunHandlers {
  return {
    open: onOpen,
    data: (s, chunk) => s.data?.onData(chunk),
    end: (s) => s.data?.onEnd(),
    close: (s, err) => s.data?.onClose(err),
    drain: (s) => s.data?.onDrain(),
    error: (s, err) => s.data?.onError(err),
  };
}

/** A {@linkcode Listener} over `Bun.listen`, which accepts eagerly: accepted conns wait, unread, in a bounded queue. */
export class BunListener extends BaseListener {
  readonly addr: Addr;
  readonly native: BunListenerLike;
  readonly #unix: [string, string] | undefined;
  readonly #local: Addr | undefined;
  /** Conns opened in this event-loop turn, still flowing (see onOpen). */
  #opening: BunConn[] = [];

  constructor(native: BunListenerLike, unixPath: string | undefined, bound: number) {
    super(bound);
    this.native = native;
    this.#unix = unixPath === undefined ? undefined : [unixPath, ""];
    this.addr = unixPath !== undefined
      ? { transport: "unix", path: unixPath }
      : { transport: "tcp", hostname: native.hostname ?? "", port: native.port ?? 0 };
    this.#local = boundLocal(this.addr);
  }

  /** @internal The local and remote paths of accepted Unix sockets. */
  protected get unixPaths(): [string, string] | undefined {
    return this.#unix;
  }

  /**
   * @internal Bun's `open` handler for accepted sockets. An accepted conn
   * must not be read before its first read() (its bytes wait in the kernel:
   * a queued conn holds none in memory, and its fd can still be handed on
   * whole), but pausing it at open and resuming it at the read that usually
   * follows in the same turn cost three epoll_ctl calls per conn. So the
   * socket is left flowing through this turn (Bun polls it only after the
   * turn: its immediates run first) and paused at the turn's end unless a
   * read or a readiness watch waits by then.
   */
  onOpen(socket: BunSocketLike): void {
    const conn = new BunConn(socket, this.#unix, this.#local, true);
    if (this.#opening.push(conn) === 1) setImmediate(this.#endTurn);
    this._deliver(conn);
  }

  readonly #endTurn = (): void => {
    const conns = this.#opening;
    this.#opening = [];
    for (const conn of conns) conn.settleOpen();
  };

  get fd(): number | undefined {
    const fd = this.native.fd;
    return typeof fd === "number" && fd >= 0 ? fd : undefined;
  }

  protected _close(): void {
    this.native.stop(false);
  }
}

/** A {@linkcode BunConn} over a Bun TLS socket whose handshake is done. */
export class BunTlsConn extends BunConn {
  readonly #tls: TlsInfo;

  constructor(socket: BunSocketLike, unix: [string, string] | undefined) {
    super(socket, unix);
    const version = socket.getTLSVersion?.();
    this.#tls = {
      protocol: typeof version === "string" && version !== "" ? version : undefined,
      alpnProtocol: undefined,
      authorized: socket.authorized === true,
      peerCertificate: undefined,
    };
  }

  /** What the handshake agreed on. */
  get tls(): TlsInfo {
    return this.#tls;
  }
}

/**
 * A TLS {@linkcode Listener} on `Bun.listen({ tls })`, used when the options
 * ask for nothing Bun's own TLS cannot do (no client certificate, no ALPN:
 * Bun 1.4's server ignores ALPN). accept() hands out conns whose handshake is
 * done; a failed or timed-out handshake goes to `onHandshakeError`.
 */
export class BunTlsListener extends BunListener {
  readonly #timeoutMs: number;
  readonly #onHandshakeError: ((err: Error) => void) | undefined;
  readonly #handshaking = new Map<BunSocketLike, ReturnType<typeof setTimeout>>();
  readonly #handoff = new HandoffWaiters();
  #handshakeErrors = 0;
  #stopped = false;

  constructor(
    native: BunListenerLike,
    unixPath: string | undefined,
    bound: number,
    options: TlsListenOptions,
  ) {
    super(native, unixPath, bound);
    this.#timeoutMs = options.handshakeTimeout ?? HANDSHAKE_TIMEOUT_MS;
    this.#onHandshakeError = options.onHandshakeError;
  }

  /** @internal Bun's `open` handler: the handshake begins. */
  override onOpen(socket: BunSocketLike): void {
    const timer = setTimeout(() => {
      this.#failed(socket, new TlsHandshakeError("Cannot accept: TLS handshake timed out"));
    }, this.#timeoutMs);
    this.#handshaking.set(socket, timer);
  }

  /** @internal Bun's `handshake` handler. */
  onHandshake(socket: BunSocketLike, success: boolean, err: Error | null): void {
    if (!this.#settle(socket)) return;
    if (!success) {
      this.#failed(
        socket,
        new TlsHandshakeError(`Cannot accept: TLS handshake failed: ${err?.message ?? "refused"}`, {
          code: (err as { code?: string } | null)?.code,
          cause: err,
        }),
      );
      return;
    }
    const conn = new BunTlsConn(socket, this.unixPaths);
    if (!this.#stopped || this.closed || !this.#handoff.deliver(conn)) this._deliver(conn);
  }

  /** Once stopped, accept() waits newest first for the handshakes in progress (see HandoffWaiters). */
  override accept(options?: AbortOptions): Promise<Conn> {
    if (!this.#stopped || this.closed || (super.pending ?? 0) > 0) return super.accept(options);
    return this.#handoff.wait(options?.signal);
  }

  /** @internal A socket closed before it had a conn. */
  onEarlyClose(socket: BunSocketLike): void {
    if (this.#settle(socket)) {
      this.#stoppedFail(
        new TlsHandshakeError("Cannot accept: the client left during the TLS handshake"),
      );
    }
  }

  /**
   * Stops taking connections from the kernel queue (see `os.stopAccepting`);
   * handshakes in progress go on, and `pending` counts them until they end.
   */
  stopAccepting(): void {
    this.#stopped = true;
    this.native.stop(false);
  }

  /** Stopped (handing over): an accept() waiting for a handshake that ended without a conn fails. */
  #stoppedFail(err: TlsHandshakeError): void {
    if (this.#stopped && !this.closed) this.#handoff.fail(err);
  }

  #settle(socket: BunSocketLike): boolean {
    const timer = this.#handshaking.get(socket);
    if (timer === undefined) return false;
    clearTimeout(timer);
    this.#handshaking.delete(socket);
    return true;
  }

  #failed(socket: BunSocketLike, err: TlsHandshakeError): void {
    this.#settle(socket);
    this.#handshakeErrors++;
    if (typeof socket.close === "function") socket.close();
    else socket.end();
    this.#stoppedFail(err);
    this.#onHandshakeError?.(err);
  }

  override get pending(): number | undefined {
    return (super.pending ?? 0) + this.#handshaking.size;
  }

  /** How many clients failed their handshake (and were disconnected) so far. */
  get handshakeErrors(): number {
    return this.#handshakeErrors;
  }

  protected override _close(): void {
    for (const [socket, timer] of this.#handshaking) {
      clearTimeout(timer);
      if (typeof socket.close === "function") socket.close();
      else socket.end();
    }
    this.#handshaking.clear();
    this.#handoff.close();
    super._close();
  }
}

/** Whether Bun's own TLS server can do what `tls` asks (else node:tls serves). */
function bunCanServe(t: TlsListenOptions): boolean {
  return t.requestCert !== true && (t.alpn === undefined || t.alpn.length === 0);
}

/** TLS listen: Bun's own TLS server where it can serve the options, else node:tls. */
function listenAnyTls(options: ListenOptions): Listener | Promise<Listener> {
  const tls = options.tls!;
  validateTlsListen(tls);
  if (!("fd" in options) && bunCanServe(tls)) return listenBunTls(options, tls);
  return listenTls(options);
}

/** Listens with `Bun.listen({ tls })`. */
function listenBunTls(
  options: Exclude<ListenOptions, FdListenOptions>,
  tls: TlsListenOptions,
): Listener {
  const bound = checkBacklog(options.backlog);
  try {
    const box: { listener?: BunTlsListener } = {};
    const socket: BunTlsHandlers = {
      ...handlers((s) => box.listener!.onOpen(s)),
      handshake: (s, success, err) => box.listener!.onHandshake(s, success, err),
      close: (s, err) => {
        if (s.data !== undefined) s.data.onClose(err);
        else box.listener?.onEarlyClose(s);
      },
    };
    const certs = { cert: pemText(tls.cert), key: pemText(tls.key) };
    const native = "path" in options
      ? bun().listen({ unix: options.path, allowHalfOpen: true, socket, tls: certs })
      : bun().listen({
        hostname: options.hostname ?? "0.0.0.0",
        port: options.port ?? 0,
        allowHalfOpen: true,
        socket,
        tls: certs,
      });
    box.listener = new BunTlsListener(
      native,
      "path" in options ? options.path : undefined,
      bound,
      tls,
    );
    return box.listener;
  } catch (err) {
    throw mapError(err, `listen on ${listenTarget(options)}`);
  }
}

/** The Bun adapter. */
export const bunRuntime: Runtime = {
  name: "bun",
  listen(options: ListenOptions): Promise<Listener> {
    return listenWith(options, listenAnyTls, (options, backlog) => {
      // Bun has no backlog option (always 512); the adapter's queue is bounded by `backlog`.
      // Bun calls `open` from its event loop, never before listen() returns.
      const box: { listener?: BunListener } = {};
      const socket = handlers((s) => box.listener!.onOpen(s));
      const native = "path" in options
        ? bun().listen({ unix: options.path, allowHalfOpen: true, socket })
        : bun().listen({
          hostname: options.hostname ?? "0.0.0.0",
          port: options.port ?? 0,
          allowHalfOpen: true,
          socket,
        });
      box.listener = new BunListener(native, "path" in options ? options.path : undefined, backlog);
      return box.listener;
    });
  },
  connect(options: ConnectOptions): Promise<Conn> {
    return connectWith(options, async (options) => {
      const unix: [string, string] | undefined = "path" in options ? ["", options.path] : undefined;
      const h = handlers((s) => {
        s.data = new BunConn(s, unix);
      });
      const target = "path" in options
        ? { unix: options.path }
        : { hostname: options.hostname ?? "127.0.0.1", port: options.port };
      const s = await bun().connect({ ...target, allowHalfOpen: true, socket: h });
      return s.data ?? new BunConn(s, unix);
    });
  },
};
