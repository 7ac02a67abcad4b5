/**
 * The one interface every runtime adapter implements.
 *
 * Nothing in this file touches a runtime: it only describes what the adapters
 * in `deno.ts`, `bun.ts` and `node.ts` provide.
 *
 * @module
 */

/** The runtimes netkit runs on. */
export type RuntimeName = "deno" | "bun" | "node";

/** The address of a TCP endpoint. */
export interface TcpAddr {
  /** Always `"tcp"`. */
  readonly transport: "tcp";
  /** The IP address, e.g. `"127.0.0.1"` or `"::1"`. */
  readonly hostname: string;
  /** The port number. */
  readonly port: number;
}

/** The address of a Unix stream socket. */
export interface UnixAddr {
  /** Always `"unix"`. */
  readonly transport: "unix";
  /** The socket's path in the file system (empty when the runtime cannot tell). */
  readonly path: string;
}

/** A TCP or Unix socket address. */
export type Addr = TcpAddr | UnixAddr;

/** Options to listen on a TCP port. */
export interface TcpListenOptions {
  /**
   * The address to bind.
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /**
   * The port to bind; `0` picks any free port (read it back from `addr`).
   * @default {0}
   */
  port?: number;
  /**
   * The kernel accept queue length. Bun ignores it (always 512); on Bun and
   * Node the adapter also bounds its own queue of accepted connections by it.
   * @default {511}
   */
  backlog?: number;
}

/** Options to listen on a Unix stream socket. */
export interface UnixListenOptions {
  /** The socket's path. */
  path: string;
  /**
   * The kernel accept queue length (see {@linkcode TcpListenOptions.backlog}).
   * @default {511}
   */
  backlog?: number;
}

/** Options to serve a listening socket that already exists (inherited). */
export interface FdListenOptions {
  /** The file descriptor of a socket that is already bound and listening. */
  fd: number;
  /**
   * The bound on the adapter's queue of accepted connections.
   * @default {511}
   */
  backlog?: number;
}

/** What {@linkcode Runtime.listen} accepts. */
export type ListenOptions = TcpListenOptions | UnixListenOptions | FdListenOptions;

/** Options to connect to a TCP server. */
export interface TcpConnectOptions {
  /**
   * The host to connect to.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** The port to connect to. */
  port: number;
  /** Aborts the attempt; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options to connect to a Unix stream socket. */
export interface UnixConnectOptions {
  /** The socket's path. */
  path: string;
  /** Aborts the attempt; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What {@linkcode Runtime.connect} accepts. */
export type ConnectOptions = TcpConnectOptions | UnixConnectOptions;

/** Options of a blocking call that can be given up. */
export interface AbortOptions {
  /** Aborts the call; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A deadline: a `Date`, a time in milliseconds since the epoch (as
 * `Date.now()` returns), or `null` for none.
 */
export type Deadline = Date | number | null;

/** A connected stream socket, the same on every runtime. */
export interface Conn extends AsyncDisposable {
  /** The local end's address. */
  readonly localAddr: Addr;
  /** The remote end's address. */
  readonly remoteAddr: Addr;
  /** Whether `close()` was called or the connection was torn down. */
  readonly closed: boolean;
  /** The runtime's own object (`Deno.Conn`, Bun `Socket`, `net.Socket`): an escape hatch. */
  readonly native: unknown;
  /** The OS file descriptor where the runtime tells it, else `undefined`. */
  readonly fd: number | undefined;
  /**
   * Reads up to `buf.length` bytes into `buf`.
   * Resolves with the count read, or `null` at end of stream.
   */
  read(buf: Uint8Array): Promise<number | null>;
  /**
   * Writes all of `bytes`. Resolves with `bytes.length` once the runtime has
   * taken them; waits while the peer does not read, so memory stays bounded.
   */
  write(bytes: Uint8Array): Promise<number>;
  /** Half-closes: sends FIN after what was written; reading goes on. */
  closeWrite(): Promise<void>;
  /** Closes both directions. Pending reads and writes reject. Idempotent. */
  close(): void;
  /** A `ReadableStream` over `read()`, created on first use. */
  readonly readable: ReadableStream<Uint8Array>;
  /** A `WritableStream` over `write()`, created on first use. */
  readonly writable: WritableStream<Uint8Array>;
  /** Turns Nagle's algorithm off (`true`, the default) or on. No-op on Unix sockets. */
  setNoDelay(noDelay?: boolean): void;
  /** Turns TCP keep-alive on or off; `delayMs` is ignored on Deno. */
  setKeepAlive(keepAlive?: boolean, delayMs?: number): void;
  /**
   * Sets the time after which pending and future reads reject with
   * `TimeoutError`; `null` clears it. A later deadline makes reads work again.
   */
  setReadDeadline(deadline: Deadline): void;
  /** Like {@linkcode Conn.setReadDeadline}, for writes. */
  setWriteDeadline(deadline: Deadline): void;
  /** Sets both the read and the write deadline. */
  setDeadline(deadline: Deadline): void;
}

/** A listening stream socket, the same on every runtime. */
export interface Listener extends AsyncIterable<Conn>, AsyncDisposable {
  /** The bound address (for `port: 0`, the port the OS chose). */
  readonly addr: Addr;
  /**
   * The OS file descriptor where the runtime can tell it, else `undefined`
   * (on Deno it is found through `/proc`, which needs `--allow-read`).
   */
  readonly fd: number | undefined;
  /** The runtime's own listener object: an escape hatch. */
  readonly native: unknown;
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /**
   * How many accepted connections wait in the adapter's own queue
   * (Bun and Node); `undefined` where they wait in the kernel (Deno).
   */
  readonly pending: number | undefined;
  /** How many connections were closed at once because the queue was full. */
  readonly dropped: number;
  /**
   * Waits for the next connection. Rejects with `ListenerClosedError` when
   * the listener is closed, including while the call is pending.
   */
  accept(options?: AbortOptions): Promise<Conn>;
  /** Stops listening. Connections already accepted stay open. Idempotent. */
  close(): Promise<void>;
}

/** Counts of what the adapter has open now, for leak checks. */
export interface ResourceCounts {
  /** Listeners not yet closed. */
  listeners: number;
  /** Connections not yet closed. */
  conns: number;
}

/** What one runtime adapter provides. */
export interface Runtime {
  /** Which runtime this adapter drives. */
  readonly name: RuntimeName;
  /** Listens on TCP, a Unix path, or an inherited fd. */
  listen(options: ListenOptions): Promise<Listener>;
  /** Connects to a TCP or Unix stream server. */
  connect(options: ConnectOptions): Promise<Conn>;
}
