// Internal: the Listener that Net hands out for an inherited socket or a
// Unix socket it bound itself. Runtime-free (it uses ../runtime/mod.ts).
//
// - An inherited socket is served lazily: the runtime starts accepting on it
//   (node:net accepts eagerly into its own queue) only at the first accept().
//   Until then connections wait in the kernel queue that the parent shares and
//   keeps serving, so a successor that dies before it serves loses none.
// - Every runtime unlinks a Unix socket's path when the listener that bound it
//   closes, which would strand a successor serving the same socket. So Net
//   binds at a temporary name and links the real path to it; this listener
//   removes the path at close unless the socket was handed to a successor.
// - close() stops the runtime taking connections from the kernel queue first
//   (on a shared socket the rest are the successor's), then accept() still
//   returns the connections the runtime had already taken (node:net and Bun
//   accept eagerly) until none are left; closing them instead would reset
//   clients in the middle of a hand-off.
import {
  acceptAll,
  listen,
  type Listener,
  ListenerClosedError,
  TlsHandshakeError,
} from "../runtime/mod.ts";
import { os } from "../runtime/_internal.ts";
import type { AbortOptions, Addr, Conn, TlsListenOptions } from "../runtime/mod.ts";

/** A Unix socket path this process answers for, and the file's identity then. */
export interface OwnedPath {
  path: string;
  id: string;
}

/** A {@linkcode Listener} over an inherited fd (lazy) or a runtime listener. */
export class NetListener implements Listener {
  readonly addr: Addr;
  /** Set by Net while a successor holds the socket: close() keeps the path. */
  handedOff = false;
  readonly #fd: number | undefined;
  readonly #backlog: number | undefined;
  readonly #tls: TlsListenOptions | undefined;
  readonly #owned: OwnedPath | undefined;
  #inner: Listener | undefined;
  #opening: Promise<Listener> | undefined;
  #closed = false;
  /** Settles once close() has moved what the runtime took into `#leftovers`. */
  #closing: Promise<void> | undefined;
  #leftovers: Conn[] = [];
  #leftoverTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    addr: Addr,
    source: { fd: number; backlog?: number; tls?: TlsListenOptions } | { listener: Listener },
    owned?: OwnedPath,
  ) {
    this.addr = addr;
    if ("fd" in source) {
      this.#fd = source.fd;
      this.#backlog = source.backlog;
      this.#tls = source.tls;
    } else {
      this.#inner = source.listener;
    }
    this.#owned = owned;
  }

  get fd(): number | undefined {
    return this.#fd ?? this.#inner?.fd;
  }

  /** The runtime's listener object, once serving has started; else `undefined`. */
  get native(): unknown {
    return this.#inner?.native;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get pending(): number | undefined {
    const inner = this.#inner?.pending;
    return inner === undefined && this.#leftovers.length === 0
      ? undefined
      : (inner ?? 0) + this.#leftovers.length;
  }

  get dropped(): number {
    return this.#inner?.dropped ?? 0;
  }

  /** Whether close() removes a Unix socket path (this process answers for it). */
  get ownsPath(): boolean {
    return this.#owned !== undefined;
  }

  /** Whether the runtime serves the socket yet (an inherited one waits for the first accept()). */
  get active(): boolean {
    return this.#inner !== undefined;
  }

  #open(): Promise<Listener> {
    if (this.#inner !== undefined) return Promise.resolve(this.#inner);
    this.#opening ??= listen({
      fd: this.#fd!,
      ...(this.#backlog === undefined ? {} : { backlog: this.#backlog }),
      // TLS is set up again in each process: the socket passed on is plain TCP.
      ...(this.#tls === undefined ? {} : { tls: this.#tls }),
    }).then((inner) => {
      this.#inner = inner;
      if (this.#closed) inner.close();
      return inner;
    });
    return this.#opening;
  }

  #leftover(): Conn | undefined {
    const conn = this.#leftovers.shift();
    if (this.#leftovers.length === 0) clearTimeout(this.#leftoverTimer);
    return conn;
  }

  /** After close(): a connection the runtime had taken, else ListenerClosedError. */
  async #afterClose(): Promise<Conn> {
    await this.#closing;
    const conn = this.#leftover();
    if (conn !== undefined) return conn;
    throw new ListenerClosedError("Cannot accept: the listener is closed");
  }

  accept(options?: AbortOptions): Promise<Conn> {
    if (this.#closed) return this.#afterClose();
    return this.#open().then((inner) => inner.accept(options)).catch((err) => {
      if (err instanceof ListenerClosedError && this.#closed) return this.#afterClose();
      throw err;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Conn> {
    return acceptAll<Conn>(this);
  }

  close(): Promise<void> {
    if (this.#closed) return this.#closing!;
    this.#closed = true;
    this.#closing = (async () => {
      try {
        const inner = this.#opening !== undefined
          ? await this.#opening.catch(() => undefined)
          : this.#inner;
        if (inner !== undefined) await this.#drainInto(inner);
        else if (this.#opening === undefined && this.#fd !== undefined) os.closeFd(this.#fd);
      } finally {
        const owned = this.#owned;
        if (owned !== undefined && !this.handedOff && os.fileId(owned.path) === owned.id) {
          os.removeFile(owned.path);
        }
      }
    })();
    return this.#closing;
  }

  /** Stops the runtime accepting, keeps what it took for accept(), closes. */
  async #drainInto(inner: Listener): Promise<void> {
    if (os.stopAccepting(inner)) {
      while ((inner.pending ?? 0) > 0) {
        try {
          this.#leftovers.push(await inner.accept());
        } catch (err) {
          // A TLS listener's handshake in progress ended without a conn.
          if (!(err instanceof TlsHandshakeError)) throw err;
        }
      }
    }
    await inner.close();
    if (this.#leftovers.length > 0) {
      // Nobody took them within 10 s: the application stopped accepting.
      this.#leftoverTimer = setTimeout(() => {
        for (const conn of this.#leftovers.splice(0)) conn.close();
      }, 10_000);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
