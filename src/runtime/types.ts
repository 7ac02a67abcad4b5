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
   * The kernel accept queue length, capped by the kernel at
   * `net.core.somaxconn`. Bun ignores it (always 512); on Bun and Node the
   * adapter also bounds its own queue of accepted connections by it.
   * @default {4096}
   */
  backlog?: number;
  /** Serve TLS on every accepted connection (see {@linkcode TlsListenOptions}). */
  tls?: TlsListenOptions;
}

/** Options to listen on a Unix stream socket. */
export interface UnixListenOptions {
  /** The socket's path. */
  path: string;
  /**
   * The kernel accept queue length (see {@linkcode TcpListenOptions.backlog}).
   * @default {4096}
   */
  backlog?: number;
  /** Serve TLS on every accepted connection (see {@linkcode TlsListenOptions}). */
  tls?: TlsListenOptions;
}

/** Options to serve a listening socket that already exists (inherited). */
export interface FdListenOptions {
  /** The file descriptor of a socket that is already bound and listening. */
  fd: number;
  /**
   * The bound on the adapter's queue of accepted connections.
   * @default {4096}
   */
  backlog?: number;
  /**
   * Serve TLS on every accepted connection: the inherited socket is plain
   * TCP, TLS is set up again in each process (see {@linkcode TlsListenOptions}).
   */
  tls?: TlsListenOptions;
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
  /** Speak TLS: the promise resolves once the handshake is done (see {@linkcode TlsConnectOptions}). */
  tls?: TlsConnectOptions;
}

/** Options to connect to a Unix stream socket. */
export interface UnixConnectOptions {
  /** The socket's path. */
  path: string;
  /** Aborts the attempt; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Speak TLS (see {@linkcode TlsConnectOptions}); set `serverName` to verify the peer. */
  tls?: TlsConnectOptions;
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

/**
 * What the next `read()` meets, as readiness reports it: `"data"` (bytes
 * wait: it returns them at once), `"eof"` (the peer sent FIN: it returns
 * `null`), `"error"` (the connection failed, e.g. reset: it rejects) or
 * `"closed"` (the connection was closed here).
 */
export type ReadReadiness = "data" | "eof" | "error" | "closed";

/**
 * What the next `write()` meets, as readiness reports it: `"ready"` (no write
 * waits: the runtime takes more bytes now), `"error"` (a write failed) or
 * `"closed"` (the connection was closed here).
 */
export type WriteReadiness = "ready" | "error" | "closed";

/**
 * What the next `accept()` meets, as readiness reports it: `"ready"` (a
 * connection waits), `"error"` (accepting failed, e.g. out of fds) or
 * `"closed"` (the listener was closed).
 */
export type AcceptReadiness = "ready" | "error" | "closed";

/** Options of a readiness watch ({@linkcode Conn.whenReadable} and the like). */
export interface ReadinessOptions {
  /**
   * `false`: call back as soon as the side is ready, now or later (level).
   * `true`: call back on the next change after this call (new bytes, EOF, an
   * error; a write queue that drains; a new connection), whatever is ready
   * now (edge).
   * @default {false}
   */
  edge?: boolean;
}

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
   * What the TLS handshake agreed on (protocol, ALPN, the peer's
   * certificate) on a TLS connection; `undefined` on a plain one.
   */
  readonly tls?: TlsInfo | undefined;
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
  /**
   * Half-closes: sends FIN after what was written; reading goes on. Writes
   * after it reject with `ClosedError` on every runtime.
   */
  closeWrite(): Promise<void>;
  /**
   * Closes both directions. Pending reads and writes reject. Idempotent.
   * Bytes the runtime still buffers get a short linger to reach the kernel
   * (node:net: until none leaves its buffer for 250 ms, at most 5 s); the
   * socket is released within that bound even if the peer never reads.
   */
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
  /**
   * Readiness, for pollers: calls `callback` once, when the next `read()`
   * would not wait, and never from inside this call. Takes no byte from what
   * `read()` returns. A new call replaces the callback; `null` cancels it.
   * While a callback waits, Bun and node:net sockets are read into the
   * conn's bounded buffer (64 KiB), as a paused socket hears no FIN; on Deno
   * one small read is kept pending and its bytes go to the next `read()`.
   * Every adapter has it; wrappers may not (hence optional).
   */
  whenReadable?(
    callback: ((state: ReadReadiness) => void) | null,
    options?: ReadinessOptions,
  ): void;
  /**
   * Readiness, for pollers: calls `callback` once, when no write waits (the
   * runtime takes more bytes now), and never from inside this call. A new
   * call replaces the callback; `null` cancels it. Optional like
   * {@linkcode Conn.whenReadable}.
   */
  whenWritable?(
    callback: ((state: WriteReadiness) => void) | null,
    options?: ReadinessOptions,
  ): void;
}

/** A listening stream socket, the same on every runtime. */
export interface Listener extends AsyncIterable<Conn>, AsyncDisposable {
  /** The bound address (for `port: 0`, the port the OS chose). */
  readonly addr: Addr;
  /**
   * The OS file descriptor where the runtime can tell it, else `undefined`
   * (on Deno it is found through `/proc`, which needs `--allow-all`).
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
  /**
   * Readiness, for pollers: calls `callback` once, when the next `accept()`
   * would not wait, and never from inside this call. A new call replaces the
   * callback; `null` cancels it. On Deno this takes one connection from the
   * kernel backlog into the listener's queue. Every adapter has it; wrappers
   * may not (hence optional).
   */
  whenAcceptable?(
    callback: ((state: AcceptReadiness) => void) | null,
    options?: ReadinessOptions,
  ): void;
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

// ---------------------------------------------------------------------------
// The process/OS part (socket inheritance and restarts): what src/inherit/
// needs from the OS, implemented in _process.ts, _fd.ts and _notify.ts.

/**
 * A signal this process can handle with `onSignal()` and the
 * `handleSignals()` methods, and send with `Subprocess.kill()`.
 */
export type Signal =
  | "SIGHUP"
  | "SIGINT"
  | "SIGQUIT"
  | "SIGTERM"
  | "SIGUSR1"
  | "SIGUSR2"
  | "SIGWINCH";

/**
 * What every `handleSignals()` takes (`GracefulHttp.handleSignals()`,
 * `Upgrader.handleSignals()`): the signals to act on; each method adds its
 * own callbacks and says its defaults.
 */
export interface SignalOptions {
  /** The signals to act on (each method has its default). */
  signals?: readonly Signal[];
}

/** How a child process ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  /** The exit code, or `null` when a signal ended the process. */
  readonly code: number | null;
  /** The signal's name (e.g. `"SIGKILL"`), or `null` when the process exited. */
  readonly signal: string | null;
}

/** Options of {@linkcode spawnProcess}. */
export interface SpawnOptions {
  /** The executable: an absolute path, or a name looked up in `PATH`. */
  command: string;
  /**
   * The arguments after the executable.
   * @default {[]}
   */
  args?: string[];
  /**
   * The working directory.
   * @default {the current one}
   */
  cwd?: string;
  /**
   * The whole environment of the child.
   * @default {this process's environment}
   */
  env?: Record<string, string>;
  /**
   * File descriptors to pass: `fds[i]` becomes fd `3 + i` in the child.
   * @default {[]}
   */
  fds?: number[];
  /**
   * Fds among `fds` (dups made for the purpose) to close in this process
   * right after the child has them.
   * @default {[]}
   */
  closeFds?: number[];
  /**
   * Also pass one end of a socket pair as fd `3 + fds.length`: the child
   * writes lines to it and {@linkcode Subprocess.onMessage} receives them.
   * @default {false}
   */
  control?: boolean;
  /**
   * Start the command through `/bin/sh` so that `LISTEN_PID` in its
   * environment is its own pid, as systemd's socket activation requires.
   * @default {false}
   */
  setListenPid?: boolean;
  /**
   * What the child's stdin, stdout and stderr are.
   * @default {"inherit"}
   */
  stdio?: "inherit" | "ignore";
}

/** A child process started by {@linkcode spawnProcess}. */
export interface Subprocess {
  /** The child's pid. */
  readonly pid: number;
  /** The control channel's fd in the child, if `control` was asked for. */
  readonly controlFd: number | undefined;
  /** Settles once the child has exited. */
  readonly exited: Promise<ExitStatus>;
  /** How the child ended, once it has; else `undefined`. */
  readonly status: ExitStatus | undefined;
  /** Calls `handler` with each line the child writes to the control channel. */
  onMessage(handler: (line: string) => void): void;
  /** Closes this end of the control channel. Idempotent. */
  closeControl(): void;
  /** Sends a signal (default `"SIGTERM"`); `false` if the child is gone. */
  kill(signal?: Signal | "SIGKILL"): boolean;
  /** Lets this process exit while the child goes on running. */
  unref(): void;
}

/** A bound Unix datagram socket receiving sd_notify messages. */
export interface NotifyReceiver extends AsyncDisposable {
  /** The socket's path (`@name` for an abstract socket). */
  readonly path: string;
  /** Calls `handler` with the text of each datagram received. */
  onMessage(handler: (message: string) => void): void;
  /** Stops receiving and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

/** A listening socket this process holds without accepting on it (see {@linkcode Os.holdListener}). */
export interface HeldListener {
  /** Its file descriptor, to pass to children. */
  readonly fd: number;
  /** The bound address (for `port: 0`, the port the OS chose). */
  readonly addr: Addr;
  /** Closes this process's copy. Idempotent. */
  close(): Promise<void>;
}

/** What /proc tells about one of this process's file descriptors. */
export type FdKind =
  | { readonly kind: "listener"; readonly addr: Addr }
  | { readonly kind: "other" }
  | { readonly kind: "closed" };

/**
 * The process and OS services socket inheritance needs, the same on every
 * runtime. Where a runtime cannot do a thing the member says what it returns
 * instead.
 */
export interface Os {
  /** The runtime really running this code (`useRuntime()` does not change it). */
  readonly runtime: RuntimeName;
  /** This process's id. */
  readonly pid: number;
  /** The parent process's id. */
  readonly ppid: number;
  /** The current working directory. */
  cwd(): string;
  /** An environment variable, or `undefined` (also when Deno may not read it). */
  getEnv(name: string): string | undefined;
  /** Removes an environment variable, for this process and the children it starts later. */
  unsetEnv(name: string): void;
  /** A copy of the whole environment. */
  env(): Record<string, string>;
  /**
   * The executable and arguments that start this program again: the same
   * runtime binary, flags, script and arguments. On Deno without
   * `--allow-all` (no /proc) the flags are rebuilt from the permissions
   * granted in full.
   */
  selfCommand(): { command: string; args: string[] };
  /** The arguments given to the script, after its path. */
  args(): string[];
  /** Whether the module whose `import.meta.url` is `url` is the entry point. */
  isMain(url: string): boolean;
  /** Ends this process. */
  exit(code: number): never;
  /** Sends a signal to a process; `false` if there is no such process. */
  kill(pid: number, signal: Signal | "SIGKILL"): boolean;
  /** Starts a child process with extra fds from 3 on (`node:child_process` on every runtime). */
  spawn(options: SpawnOptions): Promise<Subprocess>;
  /** Writes a file through a temporary file and a rename, so readers never see half of it. */
  writeFileAtomic(path: string, data: string): void;
  /** Removes a file; `false` if it was not there. */
  removeFile(path: string): boolean;
  /** Makes `newPath` a hard link to `existing`; throws (code `EEXIST`) if `newPath` exists. */
  linkFile(existing: string, newPath: string): void;
  /** The identity (device and inode) of the file at `path`, or `undefined` if there is none. */
  fileId(path: string): string | undefined;
  /** Reads a text file, or `undefined` if it cannot be read. */
  readTextFile(path: string): string | undefined;
  /** Closes a raw fd this process owns; errors are ignored. */
  closeFd(fd: number): void;
  /** Writes text to a socket fd, then closes it; `false` if the write failed. */
  writeFdAndClose(fd: number, text: string): Promise<boolean>;
  /**
   * An fd of `listener` to pass to a child, and what to do once it is passed
   * (a dup made for the purpose, `dup: true`, is closed: pass it in
   * `closeFds` to {@linkcode Os.spawn}); `undefined` if none can be had.
   */
  listenerFd(listener: Listener): { fd: number; dup: boolean; release(): void } | undefined;
  /** What fd `fd` is, from /proc; `undefined` where /proc cannot be read. */
  inspectFd(fd: number): FdKind | undefined;
  /**
   * The identity of what fd `fd` is now (`socket:[inode]` from /proc, else
   * device and inode from fstat), which changes when the number is reused;
   * `undefined` if it is not open or the runtime cannot tell (Deno without
   * `--allow-all`).
   */
  fdId(fd: number): string | undefined;
  /**
   * Marks an inherited fd close-on-exec, so that programs this process
   * starts do not hold it; returns whether it is now. Deno: through FFI,
   * only with `--allow-ffi` (or `--allow-all`); Bun: through bun:ffi; Node
   * has no FFI, but libuv marks inherited fds at start-up (this reports it).
   */
  setCloseOnExec(fd: number): boolean;
  /**
   * Listens so that the socket can be passed to a child: on Deno through
   * node:net, whose fd can be had without /proc; elsewhere as `listen()`.
   */
  listenPassable(options: ListenOptions): Promise<Listener>;
  /**
   * Listens without ever accepting, for a process that only passes the
   * socket to children (a supervisor). Deno: `Deno.listen`, whose fd only
   * /proc tells (`--allow-all`); Bun: libc through bun:ffi (IP addresses
   * only); Node: a short-lived Node helper binds and sends the raw handle
   * back over IPC, which libuv then does not poll.
   */
  holdListener(options: TcpListenOptions | UnixListenOptions): Promise<HeldListener>;
  /**
   * Makes the runtime stop taking connections from the kernel queue of
   * `listener`; the ones it already took stay in its queue for `accept()`
   * (`pending` counts them). `false`, and nothing done, where the runtime
   * takes connections only on demand (Deno.listen).
   */
  stopAccepting(listener: Listener): boolean;
  /** How {@linkcode Os.sendNotify} sends to `socket` on this runtime. */
  notifyTransport(socket: string): "datagram" | "ffi" | "systemd-notify";
  /**
   * Sends an sd_notify message to a Unix datagram socket (a path, or `@name`);
   * `false` if this runtime has no way to send it.
   */
  sendNotify(socket: string, message: string): Promise<boolean>;
  /** Binds a fresh Unix datagram socket for sd_notify messages; `undefined` where the runtime cannot. */
  listenNotify(): NotifyReceiver | undefined;
}

// ---------------------------------------------------------------------------
// The HTTP part: node:http's parser and response writer fed with netkit
// Conns, implemented in http_engine.ts (the only file importing node:http).

/**
 * One netkit {@linkcode Conn} as node:http sees it (a `stream.Duplex`), as
 * the HTTP engine hands it out.
 */
export interface HttpSocket {
  /** The conn it reads from and writes to. */
  readonly conn: Conn;
  /** The owner's own data for it (serve() keeps its entry here). */
  tag: unknown;
  /** Whether it was destroyed (or detached). */
  readonly destroyed: boolean;
  /** Ends it after what is written, then closes the conn. */
  close(): void;
  /** Closes it and the conn now. */
  destroy(): void;
  /**
   * Stops feeding node:http (after an upgrade or CONNECT) and returns a conn
   * that first reads `head`, then the bytes node:http had not parsed, then
   * the rest of the connection.
   */
  detach(head: Uint8Array): Conn;
}

/** What the HTTP engine tells its owner about one socket. */
export interface HttpSocketHooks {
  /** Bytes came in (`n` of them). */
  onRead(n: number): void;
  /** The socket is gone (closed or detached). */
  onClose(): void;
}

/** Options of {@linkcode createHttpEngine}. */
export interface HttpEngineOptions {
  /** The largest request head node:http accepts (else 431). */
  maxHeaderSize: number;
  /**
   * The idle time the `Keep-Alive: timeout=` response header announces, in
   * milliseconds (the owner enforces it).
   * @default {0 (no header)}
   */
  idleTimeout?: number;
  /** Each request: node:http's `IncomingMessage` and `ServerResponse`, and their socket. */
  onRequest(req: unknown, res: unknown, socket: HttpSocket): void;
  /** A request with `Expect: 100-continue`; the owner calls `res.writeContinue()` or answers. */
  onCheckContinue(req: unknown, res: unknown, socket: HttpSocket): void;
  /**
   * An upgrade or CONNECT request; the socket is the owner's from now on.
   * Without it, node:http serves upgrade requests as plain ones and refuses CONNECT.
   */
  onUpgrade?: (req: unknown, socket: HttpSocket, head: Uint8Array) => void;
  /**
   * Which parser reads requests: node:http's, or netkit's own (before
   * node:http's `IncomingMessage` and `ServerResponse` all the same).
   * @default {node:http's for the node:net adapter's own conns on Deno and
   * Node (it reads their handle itself); netkit's for every other conn}
   */
  parser?: "node" | "netkit";
}

/** node:http fed with netkit Conns ({@linkcode createHttpEngine}). */
export interface HttpEngine {
  /** The `node:http` `Server` (never listening): an escape hatch. */
  readonly native: unknown;
  /** Hands a conn to node:http, which serves requests on it until it closes. */
  serve(conn: Conn, hooks: HttpSocketHooks): HttpSocket;
}

// TLS: options of listen() and connect(), and what a TLS conn tells.

/** PEM text or its bytes: a certificate (chain), a key, or CA certificates. */
export type Pem = string | Uint8Array;

/**
 * The `tls` option of {@linkcode Runtime.listen}: serve TLS on every accepted connection.
 *
 * Which TLS serves: on Bun, Bun's own (`Bun.listen({ tls })`, faster) unless
 * `requestCert` or `alpn` is asked or the listener is an fd, then node:tls;
 * on Deno and Node, node:tls (Deno 2.9's `Deno.listenTls` cannot cut a
 * client that never finishes its handshake). Conns behave the same on both.
 */
export interface TlsListenOptions {
  /** The server's certificate chain, PEM (leaf first). */
  cert: Pem;
  /** The server's private key, PEM. */
  key: Pem;
  /**
   * ALPN protocols offered, most preferred first (e.g. `["http/1.1"]`).
   * @default {none}
   */
  alpn?: string[];
  /**
   * Ask every client for a certificate signed by `ca` and refuse the
   * handshake of a client without one (mutual TLS).
   * @default {false}
   */
  requestCert?: boolean;
  /**
   * The CA certificates that client certificates must chain to, PEM.
   * @default {the system's roots}
   */
  ca?: Pem | Pem[];
  /**
   * How long a client may take to complete the handshake, in milliseconds;
   * a client that takes longer is disconnected (never accepted).
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * Called with each failed handshake (a `TlsHandshakeError`): the client
   * is disconnected and the listener goes on accepting.
   * @default {none}
   */
  onHandshakeError?: (err: Error) => void;
}

/** The `tls` option of {@linkcode Runtime.connect}. */
export interface TlsConnectOptions {
  /**
   * The CA certificates the server's certificate must chain to, PEM.
   * @default {the system's roots}
   */
  ca?: Pem | Pem[];
  /**
   * The name the server's certificate must hold (and the SNI sent).
   * @default {the hostname connected to}
   */
  serverName?: string;
  /** The client's certificate chain, PEM, for servers that ask for one (mutual TLS). */
  cert?: Pem;
  /** The client certificate's private key, PEM. */
  key?: Pem;
  /**
   * ALPN protocols offered, most preferred first.
   * @default {none}
   */
  alpn?: string[];
}

/** A certificate presented by the peer of a TLS connection. */
export interface PeerCertificate {
  /** The subject's attributes, e.g. `{ CN: "client1" }`. */
  readonly subject: Readonly<Record<string, string>>;
  /** The issuer's attributes. */
  readonly issuer: Readonly<Record<string, string>>;
  /** The subject alternative names, as the runtime prints them (`"DNS:localhost, IP Address:127.0.0.1"`), or `undefined`. */
  readonly subjectAltName: string | undefined;
  /** The serial number, hex. */
  readonly serialNumber: string;
  /** The SHA-256 fingerprint, hex pairs separated by `:`. */
  readonly fingerprint256: string;
  /** Not valid before this date (as the runtime prints it). */
  readonly validFrom: string;
  /** Not valid after this date (as the runtime prints it). */
  readonly validTo: string;
  /** The certificate, DER. */
  readonly raw: Uint8Array;
}

/** What the TLS handshake of a connection agreed on ({@linkcode Conn.tls}). */
export interface TlsInfo {
  /** The TLS version, e.g. `"TLSv1.3"`, where the runtime tells it. */
  readonly protocol: string | undefined;
  /** The ALPN protocol both ends chose, or `undefined`. */
  readonly alpnProtocol: string | undefined;
  /** Whether the peer's certificate was verified against the CAs given. */
  readonly authorized: boolean;
  /** The peer's certificate, or `undefined` if it sent none. */
  readonly peerCertificate: PeerCertificate | undefined;
}
