// Runtime adapter for Deno: Deno.listen / Deno.connect, the fastest path.
// Deno.listen cannot serve an existing fd (it silently binds a random port
// instead), so `listen({ fd })` falls back to Deno's node:net, which can and
// needs no --allow-net for it. Only src/runtime/ may touch `Deno.*`.
import { BaseConn, type OpToken } from "./_base_conn.ts";
import { BaseListener } from "./_base_listener.ts";
import { type DeadlineClock, PendingRead } from "./_deadline.ts";
import { ClosedError } from "./errors.ts";
import { mapError } from "./_map_error.ts";
import { connectWith, listenWith } from "./_open.ts";
import { procListenerFd } from "./_proc_fd.ts";
import { listenTls } from "./_tls.ts";
import type {
  Addr,
  Conn,
  ConnectOptions,
  Listener,
  ListenOptions,
  ReadReadiness,
  Runtime,
} from "./types.ts";

// The few Deno types used here, declared locally so tsc needs no Deno types.
interface DenoAddr {
  transport: string;
  hostname?: string;
  port?: number;
  path?: string;
}
interface DenoConnLike {
  readonly localAddr: DenoAddr;
  readonly remoteAddr: DenoAddr;
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
  setKeepAlive?(keepAlive?: boolean): void;
}
interface DenoListenerLike {
  readonly addr: DenoAddr;
  accept(): Promise<DenoConnLike>;
  close(): void;
}
interface DenoNs {
  listen(
    options:
      | { transport?: "tcp"; hostname?: string; port?: number; tcpBacklog?: number }
      | { transport: "unix"; path: string },
  ): DenoListenerLike;
  connect(
    options: { transport?: "tcp"; hostname?: string; port: number } | {
      transport: "unix";
      path: string;
    },
  ): Promise<DenoConnLike>;
}

function deno(): DenoNs {
  return (globalThis as unknown as { Deno: DenoNs }).Deno;
}

// Readiness on Deno is a pending read (a probe) whose bytes are kept for the
// next read(): `conn.readable` would cost 64 KiB per idle conn. An idle probe
// is small (256 B cost no more than 1 B: 10k conns, 7.0 KB each either way);
// each probe that comes back full makes the next one 8 times larger, up to
// 64 KiB, so a burst does not trickle through in small pieces, and one that
// comes back short (the kernel had no more) makes it small again.
const PROBE_SMALL = 256;
const PROBE_LARGE = 64 * 1024;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

function toAddr(a: DenoAddr): Addr {
  if (a.transport === "unix" || a.transport === "unixpacket") {
    return { transport: "unix", path: a.path ?? "" };
  }
  return { transport: "tcp", hostname: a.hostname ?? "", port: a.port ?? 0 };
}

/** A {@linkcode Conn} over a `Deno.Conn`. */
export class DenoConn extends BaseConn {
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  readonly native: DenoConnLike;
  // A read whose caller gave up (deadline, abort) still completes; what it
  // brings is kept here for the next read, so no byte is lost.
  #inflight: Promise<number | null> | null = null;
  #stash: Uint8Array | null = null;
  #stashEnd: null | "eof" | Error = null;
  /** The caller's read that #inflight answers (see _readDirect). */
  #reader: PendingRead | null = null;
  // Readiness (whenReadable): the watch, and whether #inflight is a probe.
  #watch: ((state: ReadReadiness) => void) | null = null;
  #watchEdge = false;
  #probing = false;
  #hooked = false;
  #probeSize = PROBE_SMALL;
  #probeBuf: Uint8Array | null = null;
  #probeDone: ((n: number | null) => void) | undefined;
  #probeFailed: ((err: unknown) => void) | undefined;

  constructor(conn: DenoConnLike) {
    super();
    this.native = conn;
    this.localAddr = toAddr(conn.localAddr);
    this.remoteAddr = toAddr(conn.remoteAddr);
  }

  get fd(): number | undefined {
    const sym = Object.getOwnPropertySymbols(this.native).find((s) =>
      s.description === "Deno.internal.fd"
    );
    const fd = sym === undefined
      ? undefined
      : (this.native as unknown as Record<symbol, unknown>)[sym];
    return typeof fd === "number" ? fd : undefined;
  }

  /**
   * The usual read: nothing stashed, nothing in flight. One native read
   * and the caller's own promise, settled by handlers made once per conn.
   */
  protected override _readDirect(
    buf: Uint8Array,
    clock: DeadlineClock,
  ): Promise<number | null> | undefined {
    if (this.#stash !== null || this.#stashEnd !== null || this.#inflight !== null) {
      return undefined;
    }
    const r = new PendingRead(buf, clock, null);
    const p = this.native.read(buf);
    this.#inflight = p;
    this.#reader = r;
    p.then(this.#onRead, this.#onReadError);
    return r.promise;
  }

  readonly #onRead = (n: number | null): void => {
    const r = this.#reader!;
    this.#reader = null;
    this.#inflight = null;
    if (!r.done) r.settle(n);
    // The caller gave up (deadline, close): keep what came for the next read.
    else if (n === null) this.#stashEnd = "eof";
    else if (n > 0) this.#stash = r.buf.slice(0, n);
  };

  readonly #onReadError = (err: unknown): void => {
    const r = this.#reader!;
    this.#reader = null;
    this.#inflight = null;
    // With its stack: on Deno an Error costs the same without one (1.4 µs
    // for `new Error` at Error.stackTraceLimit 0 as at 10), unlike node:net's
    // and Bun's resets (mapEventError).
    if (!r.done) {
      r.settle(
        this.closed
          ? new ClosedError("Cannot read: the connection is closed", { cause: err })
          : mapError(err, "read"),
      );
    } else this.#stashEnd = mapError(err, "read");
  };

  protected override async _read(buf: Uint8Array, token: OpToken): Promise<number | null> {
    while (true) {
      const stash = this.#stash;
      if (stash !== null) {
        const n = Math.min(stash.byteLength, buf.byteLength);
        buf.set(stash.subarray(0, n));
        this.#stash = n === stash.byteLength ? null : stash.subarray(n);
        if (this.#watch !== null && this.#inflight === null) this.#arm();
        return n;
      }
      const end = this.#stashEnd;
      if (end !== null) {
        if (end === "eof") return null;
        throw end;
      }
      if (this.#inflight !== null) {
        await this.#inflight.catch(() => {});
        if (token.cancelled) return 0;
        continue;
      }
      const p = this.native.read(buf);
      this.#inflight = p;
      let n: number | null;
      try {
        n = await p;
      } catch (err) {
        this.#inflight = null;
        if (token.cancelled) this.#stashEnd = mapError(err, "read");
        throw err;
      }
      this.#inflight = null;
      if (token.cancelled) {
        if (n === null) this.#stashEnd = "eof";
        else if (n > 0) this.#stash = buf.slice(0, n);
      }
      return n;
    }
  }

  protected override _watchReadable(
    fire: ((state: ReadReadiness) => void) | null,
    edge: boolean,
  ): void {
    this.#watch = fire;
    this.#watchEdge = edge;
    this.#arm();
  }

  /** Makes sure the watch will fire: at once, after the read in flight, or by a probe. */
  #arm(): void {
    if (this.#watch === null) return;
    if (!this.#watchEdge && (this.#stash !== null || this.#stashEnd !== null)) {
      queueMicrotask(() => this.#fireWatch());
      return;
    }
    if (this.#stashEnd !== null || this.#probing) return;
    const inflight = this.#inflight;
    if (inflight !== null) {
      // A caller's read runs: look again once it is done.
      if (!this.#hooked) {
        this.#hooked = true;
        const again = () => {
          this.#hooked = false;
          this.#arm();
        };
        inflight.then(again, again);
      }
      return;
    }
    // The reader is far behind (edge watch): wait for it to make room.
    if (this.#stash !== null && this.#stash.byteLength >= PROBE_LARGE) return;
    this.#probe();
  }

  #probe(): void {
    const buf = new Uint8Array(this.#probeSize);
    this.#probeBuf = buf;
    this.#probing = true;
    const p = this.native.read(buf);
    this.#inflight = p;
    // Made once per conn: an idle conn holds one pending probe and no more.
    this.#probeDone ??= (n) => {
      const buf = this.#probeBuf!;
      this.#probeBuf = null;
      this.#inflight = null;
      this.#probing = false;
      this.#probeSize = n === buf.byteLength
        ? Math.min(buf.byteLength * 8, PROBE_LARGE)
        : PROBE_SMALL;
      if (n === null) this.#stashEnd = "eof";
      else if (n > 0) {
        const got = buf.subarray(0, n);
        this.#stash = this.#stash === null ? got : concat(this.#stash, got);
      }
      this.#fireWatch();
    };
    this.#probeFailed ??= (err) => {
      this.#probeBuf = null;
      this.#inflight = null;
      this.#probing = false;
      this.#stashEnd = mapError(err, "read");
      this.#fireWatch();
    };
    p.then(this.#probeDone, this.#probeFailed);
  }

  #fireWatch(): void {
    const fire = this.#watch;
    if (fire === null) return;
    const end = this.#stashEnd;
    if (this.#stash === null && end === null) {
      this.#arm(); // a read took the bytes: wait for more
      return;
    }
    this.#watch = null;
    fire(this.#stash !== null ? "data" : end === "eof" ? "eof" : "error");
  }

  protected _write(bytes: Uint8Array, token: OpToken): Promise<void> {
    // Usually one native write takes all; no async frame for that case.
    return this.native.write(bytes).then((n) =>
      n >= bytes.byteLength ? undefined : this.#writeRest(bytes, n, token)
    );
  }

  async #writeRest(bytes: Uint8Array, off: number, token: OpToken): Promise<void> {
    // Deno writes partially (512 KiB of 8 MiB seen): loop until all is taken.
    while (off < bytes.byteLength && !token.cancelled) {
      off += await this.native.write(bytes.subarray(off));
    }
  }

  protected _closeWrite(): Promise<void> {
    return this.native.closeWrite();
  }

  protected _close(): void {
    try {
      this.native.close();
    } catch {
      // Already closed by the runtime.
    }
    this._released();
  }

  setNoDelay(noDelay = true): void {
    this.native.setNoDelay?.(noDelay);
  }

  setKeepAlive(keepAlive = true, _delayMs?: number): void {
    // Deno cannot set the delay: the system default (2 h) applies.
    this.native.setKeepAlive?.(keepAlive);
  }
}

/**
 * A {@linkcode Listener} over a `Deno.Listener`. It calls the native accept()
 * only while an accept() waits, so connections wait in the kernel backlog
 * (what listenbuffer needs) rather than in JavaScript.
 */
export class DenoListener extends BaseListener {
  readonly addr: Addr;
  readonly native: DenoListenerLike;
  #accepting = false;
  #fd: number | undefined | null = null;

  constructor(listener: DenoListenerLike, bound: number) {
    super(bound);
    this.native = listener;
    this.addr = toAddr(listener.addr);
  }

  get fd(): number | undefined {
    if (this.#fd === null) this.#fd = procListenerFd(this.addr);
    return this.#fd;
  }

  override get pending(): number | undefined {
    return undefined;
  }

  protected override _demand(): void {
    if (this.#accepting || this.closed || this._waiting === 0) return;
    this.#accepting = true;
    this.native.accept().then(this.#onAccept, this.#onAcceptError);
  }

  // Made once per listener, not per accept.
  readonly #onAccept = (conn: DenoConnLike): void => {
    this.#accepting = false;
    this._deliver(new DenoConn(conn));
    this._demand();
  };

  readonly #onAcceptError = (err: unknown): void => {
    this.#accepting = false;
    if (this.closed) return;
    this._fail(err);
    this._demand();
  };

  protected _close(): void {
    try {
      this.native.close();
    } catch {
      // Already closed.
    }
  }
}

/** The Deno adapter. */
export const denoRuntime: Runtime = {
  name: "deno",
  listen(options: ListenOptions): Promise<Listener> {
    return listenWith(options, listenTls, (options, backlog) => {
      const native = "path" in options
        ? deno().listen({ transport: "unix", path: options.path })
        : deno().listen({
          transport: "tcp",
          hostname: options.hostname ?? "0.0.0.0",
          port: options.port ?? 0,
          tcpBacklog: backlog,
        });
      return new DenoListener(native, backlog);
    });
  },
  connect(options: ConnectOptions): Promise<Conn> {
    return connectWith(options, async (options) => {
      const native = "path" in options
        ? await deno().connect({ transport: "unix", path: options.path })
        : await deno().connect({
          transport: "tcp",
          hostname: options.hostname ?? "127.0.0.1",
          port: options.port,
        });
      return new DenoConn(native);
    });
  },
};
