// Internal, runtime adapter only: Listener and Conn on node:net. Node uses it
// for everything; Deno and Bun use it where their own API cannot do a thing
// (serving an inherited listening fd). Only src/runtime/ may import this file.
import type * as net from "node:net";
import { ClosedError } from "./errors.ts";
import type { OpToken } from "./_base_conn.ts";
import { BaseListener, checkBacklog } from "./_base_listener.ts";
import { mapError } from "./_map_error.ts";
import { procListenerFd } from "./_proc_fd.ts";
import { boundLocal, closedForRead, connAddrs, QueuedConn, tcpAddr } from "./_queued_conn.ts";
import type { Addr, Conn, ConnectOptions, Listener, ListenOptions } from "./types.ts";
import { builtin } from "./_node.ts";
import { HOST } from "./_host.ts";

/** A socket's descriptor through node:net internals, where the runtime has one. */
function handleFd(handle: unknown): number | undefined {
  const fd = (handle as { fd?: unknown } | null | undefined)?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * How long close() waits for node:net's buffered bytes to make progress
 * before it destroys the socket, and how long it waits in all.
 */
const CLOSE_LINGER_MS = 250;
const CLOSE_LINGER_MAX_MS = 5_000;

const EMPTY = new Uint8Array(0);

/** Where a socket's event listeners find their conn (see NodeConn's listeners). */
const kConn: unique symbol = Symbol("netkit.nodeConn");
type OwnedSocket = net.Socket & { [kConn]?: NodeConn };

/** A {@linkcode Conn} over a `net.Socket`. */
export class NodeConn extends QueuedConn {
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  readonly native: net.Socket;
  #drainHooked = false;

  /**
   * `unix` gives the local and remote paths of a Unix socket; `local`, the
   * local address when the caller knows it (a listener bound to one address:
   * saves a getsockname per accept).
   */
  constructor(socket: net.Socket, unix?: [local: string, remote: string], local?: Addr) {
    super(socket);
    this.native = socket;
    this.#flushProbe = HOST === "node" && (socket as { encrypted?: boolean }).encrypted !== true;
    // One getpeername; node:net caches it for remotePort.
    [this.localAddr, this.remoteAddr] = connAddrs(socket, unix, local);
    socket.pause();
    // The reading listeners are shared by every conn (no closures per
    // conn): each finds its conn on the socket, which release() hands on,
    // listeners removed, to whoever makes the next conn of it (an upgrade).
    // 'close' counts this conn released, whoever owns the socket by then:
    // it is this conn's own. 'drain' is listened to only once a write waits
    // for it (see _write).
    (socket as OwnedSocket)[kConn] = this;
    socket.on("data", NodeConn.#onData);
    socket.on("end", NodeConn.#onEnd);
    socket.on("error", NodeConn.#onError);
    socket.on("close", () => {
      this._chunks.fail(closedForRead);
      this._wakeWriters();
      this._released();
    });
    if (socket.destroyed) this._released();
  }

  static readonly #onData = function (this: OwnedSocket, chunk: Uint8Array): void {
    this[kConn]!._chunks.push(chunk);
  };
  static readonly #onEnd = function (this: OwnedSocket): void {
    this[kConn]!._chunks.end();
  };
  static readonly #onDrain = function (this: OwnedSocket): void {
    this[kConn]!._wakeWriters();
  };
  static readonly #onError = function (this: OwnedSocket, err: Error): void {
    this[kConn]!._onError(err);
  };

  /**
   * Hands the socket over (to node:http): stops reading it into the queue.
   * `undefined`, and nothing done, unless nothing was read or failed yet.
   * The conn stays counted until the socket closes.
   */
  release(): net.Socket | undefined {
    const socket = this.native;
    const queue = this._chunks;
    if (queue.size > 0 || queue.ended || this._failed || socket.destroyed) return undefined;
    socket.removeListener("data", NodeConn.#onData);
    socket.removeListener("end", NodeConn.#onEnd);
    socket.removeListener("drain", NodeConn.#onDrain);
    socket.removeListener("error", NodeConn.#onError);
    return socket;
  }

  get fd(): number | undefined {
    return handleFd((this.native as unknown as { _handle?: unknown })._handle);
  }

  protected override _tryWrite(bytes: Uint8Array): number {
    const socket = this.native;
    if (this._failed || socket.destroyed || !socket.writable) return -1;
    // node:net takes every byte (buffering in JS); backpressure is the drain wait.
    this.#send(bytes);
    return bytes.byteLength;
  }

  /**
   * Hands `bytes` to node:net without letting it keep the caller's buffer
   * past the write's promise (Go's contract: once Write returns, the caller
   * may reuse its buffer). Behind bytes node:net still holds, a copy goes
   * into its queue. Otherwise the caller's bytes are written at once; what
   * the kernel does not take stays referenced until the write completes,
   * and the conn is not writable until then (`_writable()`).
   *
   * On Node, a plain socket's write is done without a callback (one costs
   * node:net a tick and an object per write): libuv usually writes it all at
   * once, and then node:net holds nothing (`writableLength` is back to 0).
   * If it holds the bytes, an empty write queued behind them says when they
   * are gone. Elsewhere every write of a caller's buffer takes a callback:
   * Deno's node:tls fails an empty write (EPERM), and neither Deno's nor
   * Bun's node:net is known to finish a write within the call.
   */
  #send(bytes: Uint8Array): void {
    const socket = this.native;
    if (socket.writableLength > 0) {
      socket.write(bytes.slice());
      return;
    }
    if (!this.#flushProbe) {
      this.#unflushed++;
      socket.write(bytes, this.#flushed());
      return;
    }
    socket.write(bytes);
    if (socket.writableLength === 0 || socket.destroyed) return;
    this.#unflushed++;
    socket.write(EMPTY, this.#flushed());
  }

  /** Whether a write is checked for completion by `writableLength` (see #send). */
  readonly #flushProbe: boolean;
  /** Writes of callers' own buffers not known to be flushed yet. */
  #unflushed = 0;
  /** Made the first time a write needs it (on Node, most conns never do). */
  #onFlushed: (() => void) | undefined = undefined;

  #flushed(): () => void {
    return this.#onFlushed ??= () => {
      this.#unflushed--;
      this._wakeWriters();
    };
  }

  /** Whether node:net may still hold a caller's buffer. */
  #holdsCallerBytes(): boolean {
    return this.#unflushed > 0 && this.native.writableLength > 0;
  }

  protected override _writable(): boolean {
    return !this.native.writableNeedDrain && !this.#holdsCallerBytes();
  }

  protected _write(bytes: Uint8Array, token: OpToken): Promise<void> {
    const socket = this.native;
    const failure = this._failure();
    if (failure !== null) return Promise.reject(failure);
    if (socket.destroyed || (bytes.byteLength > 0 && !socket.writable)) {
      return Promise.reject(new ClosedError("Cannot write: the connection is closed"));
    }
    if (bytes.byteLength > 0) this.#send(bytes);
    if (!socket.writableNeedDrain && !this.#holdsCallerBytes()) return Promise.resolve();
    if (socket.writableNeedDrain && !this.#drainHooked) {
      this.#drainHooked = true;
      socket.on("drain", NodeConn.#onDrain);
    }
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        const failure = this._failure();
        if (failure !== null) reject(failure);
        else if (socket.destroyed) {
          reject(new ClosedError("Cannot write: the connection is closed"));
        } else if (
          token.cancelled ||
          (socket.writableLength < socket.writableHighWaterMark && !this.#holdsCallerBytes())
        ) {
          resolve();
        } else this._whenDrained(check);
      };
      this._whenDrained(check);
    });
  }

  protected _closeWrite(): Promise<void> {
    const socket = this.native;
    if (socket.destroyed || socket.writableEnded) return Promise.resolve();
    return new Promise<void>((resolve) => socket.end(() => resolve()));
  }

  protected _close(): void {
    const socket = this.native;
    this._chunks.clear();
    this._chunks.fail(closedForRead);
    if (socket.destroyed) return;
    if (socket.writableLength === 0) {
      socket.destroy();
      return;
    }
    // Let what node:net still buffers reach the kernel, then close for good;
    // but a peer that does not read would hold the socket (and its fd) for
    // ever: destroy it once a linger passes with no byte leaving the buffer.
    let left = socket.writableLength;
    let lingered = 0;
    const timer = setInterval(() => {
      lingered += CLOSE_LINGER_MS;
      const now = socket.writableLength;
      if (now < left && lingered < CLOSE_LINGER_MAX_MS) left = now;
      else socket.destroy();
    }, CLOSE_LINGER_MS);
    socket.once("close", () => clearInterval(timer));
    socket.once("finish", () => socket.destroy());
    if (!socket.writableEnded) socket.end();
  }

  setNoDelay(noDelay = true): void {
    this.native.setNoDelay(noDelay);
  }

  setKeepAlive(keepAlive = true, delayMs = 0): void {
    this.native.setKeepAlive(keepAlive, delayMs);
  }
}

/** A {@linkcode Listener} over a `net.Server`. */
export class NodeListener extends BaseListener {
  readonly addr: Addr;
  readonly native: net.Server;
  #fd: number | undefined;

  constructor(server: net.Server, addr: Addr, bound: number, fd: number | undefined) {
    super(bound);
    this.native = server;
    this.addr = addr;
    this.#fd = fd;
    const unix: [string, string] | undefined = addr.transport === "unix"
      ? [addr.path, ""]
      : undefined;
    // Bound to one address, every accepted conn's local address is the listener's.
    const local = boundLocal(addr);
    server.on(
      "connection",
      (socket: net.Socket) => this._deliver(new NodeConn(socket, unix, local)),
    );
    // Errors after listening (EMFILE on accept) go to the oldest waiting accept().
    server.on("error", (err: Error) => this._fail(err));
  }

  get fd(): number | undefined {
    // Deno's node:net has no `_handle.fd` (and `fdForIpc()` leaks a dup per call).
    this.#fd ??= handleFd((this.native as unknown as { _handle?: unknown })._handle) ??
      procListenerFd(this.addr);
    return this.#fd;
  }

  protected _close(): void {
    // server.close()'s callback waits for every connection; the listening
    // socket itself is closed at once, which is all Listener.close() promises.
    this.native.close();
  }
}

/**
 * Listens with a node:net (or node:tls) server on `options` (an fd is served
 * as it is, with no bind) and returns the address it is bound to.
 */
export async function bindServer(
  server: net.Server,
  options: ListenOptions,
  bound: number,
): Promise<Addr> {
  let args: net.ListenOptions | { fd: number };
  let what: string;
  if ("fd" in options) {
    args = { fd: options.fd };
    what = `fd ${options.fd}`;
  } else if ("path" in options) {
    args = { path: options.path, backlog: bound };
    what = options.path;
  } else {
    args = { host: options.hostname ?? "0.0.0.0", port: options.port ?? 0, backlog: bound };
    what = `${args.host}:${args.port}`;
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(mapError(err, `listen on ${what}`));
    server.once("error", onError);
    server.listen(args as net.ListenOptions, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address === "string") return { transport: "unix", path: address };
  if (address !== null && typeof address.port === "number") {
    return tcpAddr(address.address, address.port);
  }
  return { transport: "unix", path: "path" in options ? options.path : "" };
}

/** Listens with node:net. `fd` listeners are served as they are (no bind). */
export async function listenNodeNet(options: ListenOptions): Promise<Listener> {
  const bound = checkBacklog(options.backlog);
  // noDelay: TCP_NODELAY on every accepted conn, as Go, Deno and Bun do.
  const server = builtin("node:net").createServer({
    allowHalfOpen: true,
    pauseOnConnect: true,
    noDelay: true,
  });
  const addr = await bindServer(server, options, bound);
  return new NodeListener(server, addr, bound, "fd" in options ? options.fd : undefined);
}

/** Connects with node:net. */
export function connectNodeNet(options: ConnectOptions): Promise<Conn> {
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const isUnix = "path" in options;
  const what = isUnix ? options.path : `${options.hostname ?? "127.0.0.1"}:${options.port}`;
  return new Promise<Conn>((resolve, reject) => {
    const socket = isUnix
      ? builtin("node:net").connect({ path: options.path, allowHalfOpen: true })
      : builtin("node:net").connect({
        host: options.hostname ?? "127.0.0.1",
        port: options.port,
        allowHalfOpen: true,
        noDelay: true,
      });
    const onAbort = () => {
      socket.destroy();
      reject(signal!.reason);
    };
    const onError = (err: Error) => {
      signal?.removeEventListener("abort", onAbort);
      reject(mapError(err, `connect to ${what}`));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      resolve(new NodeConn(socket, isUnix ? ["", options.path] : undefined));
    });
  });
}
