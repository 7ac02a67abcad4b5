// Runtime adapter, HTTP: a netkit Conn as a node:http socket (a
// `stream.Duplex`), for both engines: node:http's (http_engine.ts) reads it
// as a socket; netkit's own parser (_http_own.ts) takes its reads instead.
import { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import { ConnWrapper } from "./wrapper.ts";
import { BunConn } from "./bun.ts";
import { DenoConn } from "./deno.ts";
import type { Addr, Conn, HttpSocket, HttpSocketHooks, ReadReadiness, TcpAddr } from "./types.ts";

/** `addr` if it is a TCP address (node:http's socket fields are TCP's). */
function tcpOf(addr: Addr): TcpAddr | undefined {
  return addr.transport === "tcp" ? addr : undefined;
}

/** Bytes asked for per read of a conn. */
const READ_SIZE = 16 * 1024;

/** Read buffers not in use, for the next reads; at most SCRATCH_KEPT kept. */
const scratch: Uint8Array[] = [];
const SCRATCH_KEPT = 64;

/** A netkit Conn as a node:http socket. */
export class ConnSocket extends Duplex implements HttpSocket {
  readonly conn: Conn;
  tag: unknown = undefined;
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
export class DetachedConn extends ConnWrapper {
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
