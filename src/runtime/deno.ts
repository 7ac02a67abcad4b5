// Runtime adapter for Deno: Deno.listen / Deno.connect, the fastest path.
// Deno.listen cannot serve an existing fd (it silently binds a random port
// instead), so `listen({ fd })` falls back to Deno's node:net, which can and
// needs no --allow-net for it. Only src/runtime/ may touch `Deno.*`.
import { abortable } from "./_abortable.ts";
import { BaseConn, type OpToken } from "./_base_conn.ts";
import { BaseListener, checkBacklog } from "./_base_listener.ts";
import { mapError } from "./_map_error.ts";
import { listenNodeNet } from "./_node_net.ts";
import { procListenerFd } from "./_proc_fd.ts";
import { validateConnect, validateListen } from "./_validate.ts";
import type { Addr, Conn, ConnectOptions, Listener, ListenOptions, Runtime } from "./types.ts";

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

  protected async _read(buf: Uint8Array, token: OpToken): Promise<number | null> {
    while (true) {
      const stash = this.#stash;
      if (stash !== null) {
        const n = Math.min(stash.byteLength, buf.byteLength);
        buf.set(stash.subarray(0, n));
        this.#stash = n === stash.byteLength ? null : stash.subarray(n);
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

  protected async _write(bytes: Uint8Array, token: OpToken): Promise<void> {
    // Deno writes partially (512 KiB of 8 MiB seen): loop until all is taken.
    let off = 0;
    while (off < bytes.byteLength && !token.cancelled) {
      off += await this.native.write(off === 0 ? bytes : bytes.subarray(off));
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
    this.native.accept().then(
      (conn) => {
        this.#accepting = false;
        this._deliver(new DenoConn(conn));
        this._demand();
      },
      (err) => {
        this.#accepting = false;
        if (this.closed) return;
        this._fail(err);
        this._demand();
      },
    );
  }

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
  async listen(options: ListenOptions): Promise<Listener> {
    validateListen(options);
    const bound = checkBacklog(options.backlog);
    if ("fd" in options) return await listenNodeNet(options);
    const what = "path" in options
      ? options.path
      : `${options.hostname ?? "0.0.0.0"}:${options.port ?? 0}`;
    try {
      const native = "path" in options
        ? deno().listen({ transport: "unix", path: options.path })
        : deno().listen({
          transport: "tcp",
          hostname: options.hostname ?? "0.0.0.0",
          port: options.port ?? 0,
          tcpBacklog: bound,
        });
      return new DenoListener(native, bound);
    } catch (err) {
      throw mapError(err, `listen on ${what}`);
    }
  },
  async connect(options: ConnectOptions): Promise<Conn> {
    validateConnect(options);
    const signal = options.signal;
    signal?.throwIfAborted();
    const what = "path" in options
      ? options.path
      : `${options.hostname ?? "127.0.0.1"}:${options.port}`;
    const pending = "path" in options
      ? deno().connect({ transport: "unix", path: options.path })
      : deno().connect({
        transport: "tcp",
        hostname: options.hostname ?? "127.0.0.1",
        port: options.port,
      });
    const conn = pending.then((c) => new DenoConn(c), (err) => {
      throw mapError(err, `connect to ${what}`);
    });
    return await abortable(conn, signal);
  },
};
