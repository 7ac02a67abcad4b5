/**
 * Types of the HTTP server: its options, handlers and the server object.
 *
 * @module
 */
import type { GracefulStats } from "../graceful/mod.ts";
import type { Addr, Conn, Listener } from "../runtime/mod.ts";

/**
 * Counts of a server's connections and requests, exact when read (the same
 * as graceful's `HttpStats`): graceful's connection counts (connections
 * handed to the upgrade handler count as `disowned`), and the requests.
 */
export interface ServerStats extends GracefulStats {
  /** Requests in flight now (their response has not finished). */
  readonly requests: number;
  /** Responses finished since the server started. */
  readonly served: number;
}

/** Options of {@linkcode HttpServer.shutdown}. */
export interface ShutdownOptions {
  /**
   * Milliseconds to wait for requests in flight; then the connections still
   * open are closed and the shutdown rejects with `DrainTimeoutError`.
   * @default {the server's shutdownTimeout}
   */
  timeout?: number;
  /** Ends the wait early, like `timeout`. */
  signal?: AbortSignal;
}

/** What a fetch handler gets besides the request. */
export interface ServeInfo {
  /** The client's address. */
  readonly remoteAddr: Addr;
  /** The connection the request came on (do not read from it or close it). */
  readonly conn: Conn;
}

/**
 * A Web-standard fetch handler: Hono's `app.fetch`, or any function from a
 * `Request` to a `Response`.
 */
export type FetchHandler = (
  request: Request,
  info: ServeInfo,
) => Response | Promise<Response>;

/**
 * A node-style request listener, as `http.createServer()` takes it (an
 * Express app is one). `req` and `res` are node:http's `IncomingMessage` and
 * `ServerResponse`.
 */
// deno-lint-ignore no-explicit-any
export type NodeHandler = (req: any, res: any) => unknown;

/** What an upgrade or CONNECT handler gets. */
export type UpgradeHandler = (request: Request, conn: Conn, head: Uint8Array) => void;

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /**
   * The listener to serve: from `listen()`, `listenBuffer()`, `wrap()`, a `Net` or an `Upgrader`.
   * serve() owns accepting from it. On Deno with `-A`, a listener of `listen()` itself is served
   * through node:net on a dup of its socket (node:http then reads each socket itself); closing the
   * listener stops that within 250 ms, `shutdown()` at once.
   */
  listener: Listener;
  /** The fetch handler (exactly one of `fetch` and `handler`). */
  fetch?: FetchHandler;
  /** A node-style `(req, res)` handler, e.g. an Express app (exactly one of `fetch` and `handler`). */
  handler?: NodeHandler;
  /**
   * Called with each error a handler throws (and with its request, in fetch
   * mode); what it returns is sent instead of the default 500. Errors it
   * throws are logged.
   * @default {logs the error with console.error}
   */
  onError?: (error: unknown, request?: Request) => Response | void | Promise<Response | void>;
  /**
   * Takes upgrade (e.g. WebSocket) and CONNECT requests: the conn is no
   * longer tracked (a shutdown neither waits for it nor closes it) and
   * reads first the bytes that came after the request head. Without it,
   * upgrade requests go to the handler as plain requests and CONNECT is refused.
   */
  onUpgrade?: UpgradeHandler;
  /**
   * The largest request body accepted, in bytes; a larger one gets 413 and
   * the connection is closed.
   * @default {16777216}
   */
  maxBodySize?: number;
  /**
   * The largest request head (request line and headers) accepted, in bytes;
   * a larger one gets 431.
   * @default {16384}
   */
  maxHeaderSize?: number;
  /**
   * Milliseconds from the first byte of a request to the end of its head;
   * then the connection is closed (slowloris).
   * @default {10000}
   */
  headersTimeout?: number;
  /**
   * Milliseconds from the end of a request head to the end of its body;
   * then the connection is closed.
   * @default {300000}
   */
  requestTimeout?: number;
  /**
   * Milliseconds a connection may stay open with no request (a new one, or
   * a keep-alive one between requests); then it is closed.
   * @default {5000}
   */
  idleTimeout?: number;
  /**
   * Milliseconds a freshly accepted connection counts as in use before its
   * first byte or request (graceful's rule, golang/go#22682): a shutdown
   * waits that long for the request of a connection just opened, then
   * closes it. `0`: new connections are idle and a shutdown closes the
   * ones with no request at once.
   * @default {5000}
   */
  grace?: number;
  /**
   * A path answered before the handler: 200 while serving, 503 once a
   * shutdown started (for load balancers' readiness checks).
   */
  readinessPath?: string;
  /**
   * Called when a shutdown starts, before anything stops; the shutdown
   * waits for it (terminus' `beforeShutdown`).
   */
  beforeShutdown?: () => void | Promise<void>;
  /**
   * Milliseconds a shutdown keeps serving normally (readiness answering
   * 503) before it stops accepting, so that load balancers notice first.
   * @default {0}
   */
  drainDelay?: number;
  /**
   * The `timeout` of a shutdown by `[Symbol.asyncDispose]`, and of
   * `shutdown()` when it is given none, in milliseconds.
   * @default {30000}
   */
  shutdownTimeout?: number;
}

/** A server made by {@linkcode serve}. */
export interface HttpServer extends AsyncDisposable {
  /** The listener's address. */
  readonly addr: Addr;
  /**
   * Counts of connections (idle, in use, disowned, ...) and requests, exact
   * now (as graceful's).
   */
  readonly stats: ServerStats;
  /** `true` until a shutdown starts (what the readiness path answers). */
  readonly ready: boolean;
  /** Whether a shutdown started. */
  readonly shuttingDown: boolean;
  /** Settles once the server is shut down (never rejects). */
  readonly finished: Promise<void>;
  /**
   * The `node:http` `Server` behind it (it never listens): an escape hatch.
   * It parses, and emits `request`, only for the connections node:http reads
   * from a socket handle (node:net sockets on Deno and Node); netkit's own
   * parser serves every other connection without it.
   */
  readonly node: unknown;
  /**
   * Shuts down gracefully: runs `beforeShutdown`, waits `drainDelay`, stops
   * accepting (closes the listener), closes idle keep-alive connections at
   * once, answers requests in flight with `Connection: close`, and resolves
   * once no connection is left. Past `timeout`, or when `signal` aborts, the
   * connections still open are closed and it rejects with
   * `DrainTimeoutError`. Calling it again joins the shutdown under way.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}
