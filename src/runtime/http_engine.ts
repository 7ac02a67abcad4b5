// Runtime adapter: node:http's parser and response writer, fed with netkit
// Conns through a `stream.Duplex` per conn. The only file that imports
// node:http and node:stream; modules above it (src/http/) see the types in
// types.ts. `server.emit("connection", duplex)` serves a generic Duplex on
// Deno's, Bun's and Node's node:http alike (measured: docs/runtimes.md).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import { ConnWrapper } from "./wrapper.ts";
import { listenNodeNet, NodeConn } from "./_node_net.ts";
import { BunConn } from "./bun.ts";
import { DenoConn, DenoListener } from "./deno.ts";
import { canDup, dupFd } from "./_dup.ts";
import { closeFd } from "./_fd.ts";
import type {
  Addr,
  Conn,
  HttpEngine,
  HttpEngineOptions,
  HttpSocket,
  HttpSocketHooks,
  Listener,
  ReadReadiness,
  TcpAddr,
} from "./types.ts";

/** `addr` if it is a TCP address (node:http's socket fields are TCP's). */
function tcpOf(addr: Addr): TcpAddr | undefined {
  return addr.transport === "tcp" ? addr : undefined;
}

/** Where a node:net socket served natively keeps its HttpSocket. */
const HTTP_SOCKET: unique symbol = Symbol("netkit.httpSocket");

/**
 * A conn of the node:net adapter, served on its own socket: node:http then
 * parses straight from the socket's handle (Node's llhttp path). Read
 * progress is not reported (`onRead` never fires): the owner's idle timeout
 * bounds a slow request head instead.
 */
class NativeSocket implements HttpSocket {
  readonly conn: Conn;
  readonly #socket: Socket;
  readonly #hooks: HttpSocketHooks;
  #detached = false;

  constructor(conn: Conn, socket: Socket, hooks: HttpSocketHooks) {
    this.conn = conn;
    this.#socket = socket;
    this.#hooks = hooks;
    (socket as unknown as Record<symbol, unknown>)[HTTP_SOCKET] = this;
    socket.once("close", () => {
      if (!this.#detached) hooks.onClose();
    });
  }

  get destroyed(): boolean {
    return this.#socket.destroyed;
  }

  close(): void {
    const socket = this.#socket as Socket & { destroySoon?: () => void };
    if (typeof socket.destroySoon === "function") socket.destroySoon();
    else socket.end(() => socket.destroy());
  }

  destroy(): void {
    this.#socket.destroy();
  }

  detach(head: Uint8Array): Conn {
    this.#detached = true;
    this.#hooks.onClose();
    if (head.byteLength > 0) this.#socket.unshift(head);
    return new NodeConn(this.#socket);
  }
}

/** The HttpSocket of a socket node:http hands out. */
function httpSocketOf(socket: unknown): HttpSocket {
  return (socket as Record<symbol, HttpSocket | undefined>)[HTTP_SOCKET] ??
    (socket as ConnSocket);
}

/** Bytes asked for per read of a conn. */
const READ_SIZE = 16 * 1024;

/** Read buffers not in use, for the next reads; at most SCRATCH_KEPT kept. */
const scratch: Uint8Array[] = [];
const SCRATCH_KEPT = 64;

/** A netkit Conn as a node:http socket. */
class ConnSocket extends Duplex implements HttpSocket {
  readonly conn: Conn;
  readonly #hooks: HttpSocketHooks;
  /** The read in flight, if any. */
  #reading: Promise<void> | undefined;
  #detached = false;
  #gone = false;
  /** Bytes read after detach() began, for the detached conn. */
  readonly #rest: Uint8Array[] = [];
  #restEof = false;

  /**
   * A Bun adapter conn of its own (not a wrapper, which must see every
   * byte): its chunks are pushed as they come, with no read() (no promise,
   * no copy) per chunk.
   */
  readonly #bun: BunConn | undefined;
  /** Whether a readiness watch of #bun is set. */
  #watching = false;
  readonly #onReadable: (state: ReadReadiness) => void;
  /**
   * The `Deno.Conn` of a Deno adapter conn of its own (not a wrapper):
   * read and written directly, without the adapter's deadline and ordering
   * promises (the engine owns the conn and sets no deadline).
   */
  readonly #deno: DenoConn["native"] | undefined;

  constructor(conn: Conn, hooks: HttpSocketHooks) {
    super({ allowHalfOpen: true });
    this.conn = conn;
    this.#hooks = hooks;
    this.#bun = conn instanceof BunConn ? conn : undefined;
    this.#deno = conn instanceof DenoConn ? conn.native : undefined;
    this.#onReadable = (state) => {
      this.#watching = false;
      if (state !== "closed" && !this.#detached) this.#pull(this.#bun!);
    };
  }

  // What node:http reads of a socket.
  get remoteAddress(): string | undefined {
    return tcpOf(this.conn.remoteAddr)?.hostname;
  }
  get remotePort(): number | undefined {
    return tcpOf(this.conn.remoteAddr)?.port;
  }
  get remoteFamily(): string | undefined {
    const host = this.remoteAddress;
    return host === undefined ? undefined : host.includes(":") ? "IPv6" : "IPv4";
  }
  get localAddress(): string | undefined {
    return tcpOf(this.conn.localAddr)?.hostname;
  }
  get localPort(): number | undefined {
    return tcpOf(this.conn.localAddr)?.port;
  }
  setTimeout(_ms: number, _cb?: () => void): this {
    // Timeouts are the owner's (src/http/), with its own timers.
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.conn.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delayMs?: number): this {
    this.conn.setKeepAlive(enable, delayMs);
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  close(): void {
    this.destroySoon();
  }

  /** What node:http calls after a `Connection: close` response. */
  destroySoon(): void {
    if (this.writableFinished) this.destroy();
    else {
      this.once("finish", () => this.destroy());
      this.end();
    }
  }

  override _read(): void {
    if (this.#detached) return;
    if (this.#bun !== undefined) {
      if (!this.#watching) this.#pull(this.#bun);
      return;
    }
    if (this.#reading === undefined) this.#reading = this.#pump();
  }

  /** Pushes what the Bun conn has; watches it when it has nothing. */
  #pull(conn: BunConn): void {
    while (true) {
      const got = conn.takeChunks();
      if (got === undefined) {
        this.#watching = true;
        conn.whenReadable(this.#onReadable);
        return;
      }
      if (got === null) {
        this.push(null);
        return;
      }
      if (got instanceof Error) {
        this.destroy(got);
        return;
      }
      let n = 0;
      for (const c of got) n += c.byteLength;
      this.#hooks.onRead(n);
      let more = true;
      for (const c of got) more = this.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      if (!more || this.#detached) return;
    }
  }

  async #pump(): Promise<void> {
    try {
      while (true) {
        // A scratch buffer per read in flight (not per conn: idle conns
        // hold none), and a copy of just the bytes read.
        const buf = scratch.pop() ?? new Uint8Array(READ_SIZE);
        let n: number | null;
        try {
          n = this.#deno !== undefined ? await this.#deno.read(buf) : await this.conn.read(buf);
        } catch (err) {
          scratch.push(buf);
          throw err;
        }
        if (n === null) {
          scratch.push(buf);
          if (this.#detached) this.#restEof = true;
          else this.push(null);
          return;
        }
        this.#hooks.onRead(n);
        const chunk = Buffer.from(buf.subarray(0, n));
        if (scratch.length < SCRATCH_KEPT) scratch.push(buf);
        if (this.#detached) {
          this.#rest.push(chunk);
          return;
        }
        if (!this.push(chunk)) return;
      }
    } catch (err) {
      if (!this.#detached) this.destroy(err as Error);
    } finally {
      this.#reading = undefined;
    }
  }

  override _write(
    chunk: Uint8Array,
    _encoding: BufferEncoding,
    callback: (err?: Error | null) => void,
  ): void {
    this.#send(chunk).then(() => callback(), callback);
  }

  /** Writes all of `bytes`: to the `Deno.Conn` itself where there is one. */
  #send(bytes: Uint8Array): Promise<unknown> {
    const deno = this.#deno;
    if (deno === undefined) return this.conn.write(bytes);
    return deno.write(bytes).then((n): unknown =>
      n < bytes.byteLength ? writeAll(deno, bytes, n) : undefined
    );
  }

  override _writev(
    chunks: { chunk: Uint8Array }[],
    callback: (err?: Error | null) => void,
  ): void {
    const one = chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.#send(one).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.conn.closeWrite().then(() => callback(), () => callback());
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.#detached) this.conn.close();
    this.#done();
    callback(err);
  }

  #done(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#hooks.onClose();
  }

  detach(head: Uint8Array): Conn {
    this.#detached = true;
    if (this.#watching) {
      this.#watching = false;
      this.conn.whenReadable?.(null);
    }
    const rest: Uint8Array[] = [];
    if (head.byteLength > 0) rest.push(head);
    // What was pushed but node:http did not take.
    for (let c = this.read() as Uint8Array | null; c !== null; c = this.read()) rest.push(c);
    this.removeAllListeners("data");
    this.#done();
    return new DetachedConn(this.conn, rest, this.#reading, () => {
      const more = this.#rest.splice(0);
      return [more, this.#restEof];
    });
  }
}

/** Writes the rest of `bytes` from `off` (Deno writes partially). */
async function writeAll(
  deno: DenoConn["native"],
  bytes: Uint8Array,
  off: number,
): Promise<void> {
  while (off < bytes.byteLength) off += await deno.write(bytes.subarray(off));
}

/** The conn of an upgraded request: what node:http had read first, then the rest. */
class DetachedConn extends ConnWrapper {
  readonly #queue: Uint8Array[];
  #inFlight: Promise<void> | undefined;
  readonly #late: () => [Uint8Array[], boolean];
  #eof = false;

  constructor(
    inner: Conn,
    queue: Uint8Array[],
    inFlight: Promise<void> | undefined,
    late: () => [Uint8Array[], boolean],
  ) {
    super(inner);
    this.#queue = queue;
    this.#inFlight = inFlight;
    this.#late = late;
  }

  override async read(buf: Uint8Array): Promise<number | null> {
    if (this.#inFlight !== undefined) {
      await this.#inFlight;
      this.#inFlight = undefined;
      const [more, eof] = this.#late();
      this.#queue.push(...more);
      this.#eof = eof;
    }
    const head = this.#queue[0];
    if (head !== undefined) {
      const n = Math.min(head.byteLength, buf.byteLength);
      buf.set(head.subarray(0, n));
      if (n === head.byteLength) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
      return n;
    }
    if (this.#eof) return null;
    return super.read(buf);
  }
}

/**
 * A node:net listener on a dup of a `Deno.listen` listener's socket, so that
 * its conns reach node:http as node:net sockets (node:http then parses from
 * the socket's handle, at node:http's own speed, where a `Deno.Conn` fed
 * through a `Duplex` costs about three times as much). Both fds share one
 * kernel accept queue; the `Deno.listen` side is never asked to accept, and
 * the owner closes both. Only a listener of the Deno adapter itself (no
 * wrapper: listenBuffer, graceful `wrap()` and TLS must see each conn), and
 * only where its fd is found (/proc) and dup'd (FFI): on Deno with -A.
 */
async function takeOver(listener: Listener): Promise<Listener | undefined> {
  if (!(listener instanceof DenoListener) || listener.closed || !canDup()) return undefined;
  const fd = listener.fd;
  if (fd === undefined) return undefined;
  const dup = dupFd(fd);
  if (dup === undefined) return undefined;
  try {
    return await listenNodeNet({ fd: dup });
  } catch {
    closeFd(dup);
    return undefined;
  }
}

/**
 * Makes a node:http server that never listens: {@linkcode HttpEngine.serve}
 * hands it netkit conns. Its own timeouts are off (the owner keeps its own).
 *
 * @param options The request, 100-continue and upgrade handlers, and the head size limit.
 * @returns The engine. Its `takeOver(listener)` gives, for a listener of the
 * Deno adapter itself, a node:net listener on a dup of its socket to accept
 * from instead (node:http then reads sockets itself: the fast path), or
 * `undefined` (any other listener, or no /proc or FFI access); the caller
 * closes it along with the listener.
 *
 * @example Answering every request on accepted conns
 * ```ts
 * import { connect, listen } from "@netkit/netkit/runtime";
 * import { createHttpEngine } from "./_internal.ts";
 *
 * const engine = createHttpEngine({
 *   maxHeaderSize: 16384,
 *   // deno-lint-ignore no-explicit-any
 *   onRequest: (_req, res: any) => res.end("hi"),
 *   // deno-lint-ignore no-explicit-any
 *   onCheckContinue: (_req, res: any) => res.writeContinue(),
 * });
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * const accepted = listener.accept();
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * const socket = engine.serve(await accepted, { onRead: () => {}, onClose: () => {} });
 * await client.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
 * const buf = new Uint8Array(512);
 * const n = await client.read(buf);
 * console.log(new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith("HTTP/1.1 200")); // true
 * socket.destroy();
 * ```
 */
export function createHttpEngine(
  options: HttpEngineOptions,
): HttpEngine & { takeOver(listener: Listener): Promise<Listener | undefined> } {
  const server = createServer({ maxHeaderSize: options.maxHeaderSize });
  // Only for the `Keep-Alive: timeout=` header: the timer node:http sets goes
  // through ConnSocket.setTimeout(), a no-op; the owner closes idle conns.
  server.keepAliveTimeout = options.idleTimeout ?? 0;
  // node:http on Deno (as newer Node) destroys a keep-alive socket after its
  // response when the server is not listening; this one serves, unlistened.
  Object.defineProperty(server, "listening", { get: () => true, configurable: true });
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.timeout = 0;
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    options.onRequest(req, res, httpSocketOf(req.socket));
  });
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    options.onCheckContinue(req, res, httpSocketOf(req.socket));
  });
  const onUpgrade = options.onUpgrade;
  if (onUpgrade !== undefined) {
    const upgrade = (req: IncomingMessage, socket: unknown, head: Uint8Array) => {
      onUpgrade(req, httpSocketOf(socket), head);
    };
    server.on("upgrade", upgrade);
    server.on("connect", upgrade);
  }
  return {
    native: server,
    takeOver,
    serve(conn: Conn, hooks: HttpSocketHooks): HttpSocket {
      // As node:http's own (noDelay: true): a response head and body written
      // apart must not wait for the client's delayed ACK.
      try {
        conn.setNoDelay(true);
      } catch {
        // Not TCP, or already closed.
      }
      // The node:net adapter's own conns (not wrappers, which must see every
      // byte): node:http gets the socket itself.
      const raw = conn instanceof NodeConn ? conn.release() : undefined;
      if (raw !== undefined) {
        const native = new NativeSocket(conn, raw, hooks);
        server.emit("connection", raw);
        raw.resume();
        return native;
      }
      const socket = new ConnSocket(conn, hooks);
      server.emit("connection", socket);
      return socket;
    },
  };
}
