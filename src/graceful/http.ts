/**
 * Graceful shutdown for `node:http` and `node:https` servers, on Deno, Bun
 * and Node (all three ship node:http): goji's parent `graceful` package and
 * facebookgo's httpdown, done right.
 *
 * Internals: each socket is an entry in the same state machine as the
 * graceful listener's conns. A request marks its socket in use; the end of
 * its response (`finish`; with pipelining, of the last one in flight) marks
 * it idle; an upgrade or CONNECT disowns it. The server object the caller
 * passes is typed structurally, so this file needs no node:* import.
 *
 * @module
 */
import { onSignal, type Signal, type SignalOptions } from "../runtime/mod.ts";
import { DrainTimeoutError } from "./errors.ts";
import { checkDrainOptions, checkGrace, type Entry, newEntry, Tracker } from "./_tracker.ts";
import type { GracefulDrainOptions, GracefulStats } from "./types.ts";

/** A listener function as `EventEmitter` methods take it (typed as in node:events). */
// deno-lint-ignore no-explicit-any
export type HttpEventListener = (...args: any[]) => void;

/**
 * The parts of a `node:http` / `node:https` `Server` that
 * {@linkcode gracefulHttp} uses. `http.createServer()` and
 * `https.createServer()` return one on Deno, Bun and Node.
 */
export interface HttpServerLike {
  /** Adds an event listener. */
  on(event: string, listener: HttpEventListener): unknown;
  /** Removes an event listener. */
  removeListener(event: string, listener: HttpEventListener): unknown;
  /** Adds an event listener before the others, where the emitter can. */
  prependListener?(event: string, listener: HttpEventListener): unknown;
  /** How many listeners an event has. */
  listenerCount(event: string): number;
  /** Stops listening; the callback runs once every connection is closed. */
  close(callback?: (err?: Error) => void): unknown;
  /** Destroys every socket the server knows (node:http 18.2+). */
  closeAllConnections?(): void;
  /** Present on TLS servers whose requests come on `secureConnection` sockets. */
  addContext?: unknown;
}

/** The parts of a socket that {@linkcode gracefulHttp} uses. */
interface SocketLike {
  readonly destroyed?: boolean;
  destroy(): unknown;
  once(event: "close", listener: () => void): unknown;
  /** Its entry while it is tracked (set by this module). */
  [ENTRY]?: SocketEntry;
}

/** The parts of a request and a response that {@linkcode gracefulHttp} uses. */
interface RequestLike {
  readonly socket: SocketLike;
}
interface ResponseLike {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  on(event: "finish", listener: (this: ResponseLike) => void): unknown;
  /** The socket entry of a response in flight (set by this module). */
  [ENTRY]?: SocketEntry;
}

/**
 * Where a response in flight, and a tracked socket, keep the socket's entry:
 * no table keyed by socket, which, long-lived and turned over once per
 * conn, would keep closed conns alive through minor collections
 * (docs/performance.md, the tracker's third pass).
 */
const ENTRY: unique symbol = Symbol("netkit.graceful.entry");

/** Counts of a graceful HTTP server's sockets and requests, exact now. */
export interface HttpStats extends GracefulStats {
  /** Requests in flight now (their response has not finished). */
  readonly requests: number;
  /** Responses finished since tracking started. */
  readonly served: number;
}

/** Options of {@linkcode gracefulHttp}. */
export interface GracefulHttpOptions {
  /**
   * The default `timeout` of {@linkcode GracefulHttp.shutdown} and
   * {@linkcode GracefulHttp.handleSignals}, in milliseconds.
   * @default {Infinity}
   */
  timeout?: number;
  /**
   * Milliseconds a new socket counts as in use before its first request
   * (golang/go#22682): the client may have sent it already, so a shutdown
   * must not close the socket unread. The first request ends this (the
   * socket is then in use until its response is finished); a socket with no
   * request within `grace` turns idle (a shutdown under way closes it). `0`
   * turns this off: new sockets start idle. `stats.fresh` counts them.
   * @default {5000}
   */
  grace?: number;
}

/** A signal {@linkcode GracefulHttp.handleSignals} can handle. @deprecated Use `Signal` from the runtime entry. */
export type ShutdownSignal = Signal;

/** What a signal-driven shutdown reports when it is over. */
export interface ShutdownReport {
  /** The first signal received. */
  readonly signal: ShutdownSignal;
  /** The counts once the shutdown was over. */
  readonly stats: HttpStats;
  /** Whether sockets still open were force-closed (timeout or second signal). */
  readonly forced: boolean;
  /** How many sockets were force-closed. */
  readonly cut: number;
}

/** Options of {@linkcode GracefulHttp.handleSignals}. */
export interface HandleSignalsOptions extends SignalOptions {
  /**
   * The signals that start a shutdown; the same signal again (or another
   * one of them) forces it.
   * @default {["SIGINT", "SIGTERM"]}
   */
  signals?: readonly ShutdownSignal[];
  /**
   * Milliseconds a shutdown may take before the sockets still open are
   * force-closed.
   * @default {the `timeout` given to gracefulHttp(), else Infinity}
   */
  timeout?: number;
  /** Called on each signal, with whether it forces the shutdown. */
  onSignal?: (signal: ShutdownSignal, forced: boolean) => void;
  /** Called once the shutdown is over, with its report. */
  onDone?: (report: ShutdownReport) => void;
}

/** A `node:http` server with graceful shutdown; see {@linkcode gracefulHttp}. */
export interface GracefulHttp<S extends HttpServerLike = HttpServerLike> extends AsyncDisposable {
  /** The server. */
  readonly server: S;
  /** Counts of sockets (idle, in use, disowned, ...) and requests, exact now. */
  readonly stats: HttpStats;
  /** Whether a shutdown started. */
  readonly shuttingDown: boolean;
  /**
   * Shuts the server down gracefully: stops listening (new connections are
   * refused), makes responses not yet started carry `Connection: close`,
   * closes idle keep-alive sockets, closes each busy socket once its
   * response is finished, and resolves with the stats once no tracked socket
   * is left (upgraded ones, e.g. WebSocket, are disowned: they stay open and
   * do not hold the shutdown up).
   * Past `timeout`, or when `signal` aborts, force-closes the sockets still
   * open and rejects with `DrainTimeoutError` (`cut` says how many).
   * Calling it again joins the shutdown under way.
   */
  shutdown(options?: GracefulDrainOptions): Promise<HttpStats>;
  /**
   * Stops listening and closes every tracked socket now, in-flight requests
   * included; resolves with the stats once they are closed.
   */
  shutdownNow(): Promise<HttpStats>;
  /**
   * Shuts down on SIGINT or SIGTERM: the first signal starts a graceful
   * shutdown (with `timeout`), a second one forces it. Once the shutdown is
   * over the handlers are removed, so that the next signal has its default
   * effect, and `onDone` gets the report. Nothing calls `process.exit()`:
   * the process ends when nothing else keeps it alive.
   *
   * @returns A function that removes the handlers.
   */
  handleSignals(options?: HandleSignalsOptions): () => void;
}

interface SocketEntry extends Entry {
  readonly socket: SocketLike;
  /** Requests in flight on this socket. */
  active: number;
  /** Their responses, to add `Connection: close` when a shutdown starts. */
  readonly responses: Set<ResponseLike>;
}

/** A "finish" listener that hands on its `this`, the response. */
function finishListener(finished: (res: ResponseLike) => void): (this: ResponseLike) => void {
  return function (this: ResponseLike): void {
    finished(this);
  };
}

const DEFAULT_SIGNALS: readonly ShutdownSignal[] = ["SIGINT", "SIGTERM"];

function checkTimeout(timeout: unknown, action: string): number {
  return checkDrainOptions({ timeout }, action)[0];
}

class GracefulHttpServer<S extends HttpServerLike> implements GracefulHttp<S> {
  readonly server: S;
  readonly #timeout: number;
  readonly #tracker: Tracker<SocketEntry>;
  #requests = 0;
  #served = 0;
  #shuttingDown = false;
  readonly #onFinish: (this: ResponseLike) => void;
  // Upgrade and CONNECT listeners are attached only while the user has one:
  // node:http treats an event with a listener differently from one without.
  readonly #attached = { upgrade: false, connect: false };

  constructor(server: S, timeout: number, grace: number) {
    this.server = server;
    this.#timeout = timeout;
    this.#tracker = new Tracker<SocketEntry>((e) => e.socket.destroy(), grace);
    this.#onFinish = finishListener((res) => this.#finished(res));
    const tls = typeof server.addContext === "function";
    server.on(tls ? "secureConnection" : "connection", this.#onConnection);
    if (typeof server.prependListener === "function") {
      server.prependListener("request", this.#onRequest);
    } else server.on("request", this.#onRequest);
    server.on("newListener", this.#onNewListener);
    server.on("removeListener", this.#onRemoveListener);
    for (const event of ["upgrade", "connect"] as const) {
      if (server.listenerCount(event) > 0) this.#attach(event);
    }
  }

  get stats(): HttpStats {
    return { ...this.#tracker.stats(), requests: this.#requests, served: this.#served };
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  #track(socket: SocketLike, inUse: boolean): SocketEntry {
    const entry: SocketEntry = newEntry({
      socket,
      active: 0,
      responses: new Set(),
    });
    if (socket.destroyed === true) {
      // Already closed: its "close" event is past, so it cannot be tracked.
      entry.state = "closed";
      return entry;
    }
    socket[ENTRY] = entry;
    socket.once("close", () => {
      socket[ENTRY] = undefined;
      this.#requests -= entry.active;
      entry.active = 0;
      entry.responses.clear();
      this.#tracker.gone(entry);
    });
    this.#tracker.add(entry, inUse);
    return entry;
  }

  #onConnection = (socket: SocketLike): void => {
    if (socket[ENTRY] === undefined) this.#track(socket, false);
  };

  #onRequest = (req: RequestLike, res: ResponseLike): void => {
    const socket = req.socket;
    // Bun reports a connection only with its first request: track it then.
    const entry = socket[ENTRY] ?? this.#track(socket, true);
    if (this.#shuttingDown && !res.headersSent) res.setHeader("Connection", "close");
    if (entry.state === "disowned" || entry.state === "closed") return;
    entry.active++;
    entry.responses.add(res);
    this.#requests++;
    this.#tracker.settle(entry, true); // the first request ends freshness
    this.#tracker.markInUse(entry);
    // One shared listener (no closure, no once() wrapper per request).
    res[ENTRY] = entry;
    res.on("finish", this.#onFinish);
  };

  #finished(res: ResponseLike): void {
    const entry = res[ENTRY];
    if (entry === undefined) return;
    res[ENTRY] = undefined;
    if (!entry.responses.delete(res)) return; // the socket closed first
    entry.active--;
    this.#requests--;
    this.#served++;
    if (entry.active === 0) this.#tracker.markIdle(entry);
  }

  #onUpgrade = (req: RequestLike, socket: SocketLike): void => {
    const from = socket ?? req.socket;
    const entry = from[ENTRY] ?? this.#track(from, false);
    this.#tracker.disown(entry);
  };

  #onNewListener = (event: unknown, listener: unknown): void => {
    if ((event === "upgrade" || event === "connect") && listener !== this.#onUpgrade) {
      this.#attach(event);
    }
  };

  #onRemoveListener = (event: unknown, listener: unknown): void => {
    if ((event !== "upgrade" && event !== "connect") || !this.#attached[event]) return;
    if (listener === this.#onUpgrade) {
      this.#attached[event] = false; // removed by removeAllListeners()
    } else if (this.server.listenerCount(event) === 1) {
      // Only ours is left: remove it, so that node:http's default applies.
      this.#attached[event] = false;
      this.server.removeListener(event, this.#onUpgrade);
    }
  };

  #attach(event: "upgrade" | "connect"): void {
    if (this.#attached[event]) return;
    this.#attached[event] = true;
    if (typeof this.server.prependListener === "function") {
      this.server.prependListener(event, this.#onUpgrade);
    } else this.server.on(event, this.#onUpgrade);
  }

  #begin(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    // Stop listening; the callback's error (not listening) does not matter.
    this.server.close(() => {});
    this.#tracker.forEachLive((entry) => {
      for (const res of entry.responses) {
        if (!res.headersSent) res.setHeader("Connection", "close");
      }
    });
  }

  async shutdown(options?: GracefulDrainOptions): Promise<HttpStats> {
    const [timeout, signal] = checkDrainOptions(options, "shut down");
    this.#begin();
    await this.#tracker.drain(
      options?.timeout === undefined ? this.#timeout : timeout,
      signal,
      "shut down",
    );
    return this.stats;
  }

  async shutdownNow(): Promise<HttpStats> {
    this.#begin();
    const drained = this.#tracker.drainAll();
    this.server.closeAllConnections?.();
    await drained;
    return this.stats;
  }

  handleSignals(options?: HandleSignalsOptions): () => void {
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw new TypeError(
        `Cannot handle signals: options must be an object, received ${String(options)}`,
      );
    }
    const signals = options?.signals ?? DEFAULT_SIGNALS;
    if (!Array.isArray(signals) || signals.length === 0) {
      throw new TypeError("Cannot handle signals: signals must be a non-empty array");
    }
    const timeout = options?.timeout === undefined
      ? this.#timeout
      : checkTimeout(options.timeout, "handle signals");
    let first: ShutdownSignal | undefined;
    let forced = false;
    let cut = 0;
    const handler = (sig: Signal) => {
      if (first !== undefined) {
        if (forced) return;
        forced = true;
        options?.onSignal?.(sig, true);
        const stats = this.#tracker.stats();
        cut += stats.idle + stats.inUse;
        this.shutdownNow().catch(() => {});
        return;
      }
      first = sig;
      options?.onSignal?.(sig, false);
      this.shutdown({ timeout }).then(
        () => {},
        (err) => {
          if (!(err instanceof DrainTimeoutError)) throw err;
          forced = true;
          cut += err.cut;
        },
      ).then(() => {
        off();
        options?.onDone?.({ signal: sig, stats: this.stats, forced, cut });
      });
    };
    const offs = signals.map((s) => onSignal(s, handler));
    const off = () => {
      for (const fn of offs) fn();
    };
    return off;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown().then(() => {});
  }
}

/**
 * Adds graceful shutdown to a `node:http` or `node:https` server (HTTP/1.1),
 * on Deno, Bun and Node. It tracks each socket from the request lifecycle:
 * a request marks its socket in use, the end of its response marks it idle,
 * an upgrade (WebSocket) or CONNECT disowns it. Then
 * {@linkcode GracefulHttp.shutdown} stops listening, answers in-flight
 * requests with `Connection: close`, closes idle keep-alive sockets, waits
 * for the busy ones and force-closes at the timeout, and
 * {@linkcode GracefulHttp.stats} counts everything.
 *
 * Call it before the server listens, so that it sees every connection. It
 * uses only the server's public API (events, `close()`), never private
 * fields such as `socket._httpMessage`.
 *
 * Runtime notes:
 * - **Bun** reports a connection only with its first request: a client that
 *   connected and sent nothing is not tracked (and not counted); Bun's own
 *   idle timeout closes it. Bun's `server.close()` (which a shutdown calls
 *   to stop listening) resets such a connection at once (seen on Bun
 *   1.4.4), so the `grace` period protects new sockets on Deno and Node only.
 * - **`Deno.serve`** has its own graceful `shutdown()` (stop listening,
 *   finish in-flight requests), without a timeout; aborting the `signal`
 *   given to `Deno.serve` force-closes at once, in-flight requests included.
 *   The two do not combine: on Deno 2.9, aborting the signal once
 *   `shutdown()` runs throws an uncaught `BadResource`, so a timer that ends
 *   the process is the timeout (see the example).
 * - **`Bun.serve`**'s `stop()` is graceful and `stop(true)` forces, also
 *   after a `stop()` that waits: race `stop()` with a timer that calls
 *   `stop(true)` (see the example).
 * - Neither `Deno.serve` nor `Bun.serve` counts connections; use node:http
 *   with this function where the stats matter.
 *
 * @typeParam S The server's type.
 * @param server A `node:http` or `node:https` server.
 * @param options `timeout`: the default shutdown timeout in milliseconds;
 * `grace`: how long a new socket counts as in use before its first request.
 * @returns The graceful server, tracking from now on.
 * @throws {TypeError} If `server` does not look like a node:http server.
 * @throws {RangeError} If `timeout` or `grace` is negative or not a number.
 *
 * @example A server that shuts down gracefully on Ctrl+C
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { gracefulHttp } from "@netkit/netkit/graceful";
 *
 * const server = createServer((_req, res) => res.end("hello\n"));
 * const graceful = gracefulHttp(server, { timeout: 10_000 });
 * graceful.handleSignals({
 *   onDone: (report) => console.log("shut down", report.stats, report.forced ? "(forced)" : ""),
 * });
 * server.listen(8080);
 * ```
 *
 * @example Shutting down by hand, with a deadline
 * ```ts
 * import { createServer } from "node:http";
 * import { DrainTimeoutError, gracefulHttp } from "@netkit/netkit/graceful";
 *
 * const server = createServer((_req, res) => res.end("hello\n"));
 * const graceful = gracefulHttp(server);
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as { port: number };
 *
 * const res = await fetch(`http://127.0.0.1:${port}/`);
 * console.log(await res.text()); // "hello\n"
 *
 * try {
 *   const stats = await graceful.shutdown({ timeout: 5000 });
 *   console.log(stats.served); // 1
 * } catch (err) {
 *   if (err instanceof DrainTimeoutError) console.log("cut", err.cut);
 * }
 * ```
 *
 * @example The same for Deno.serve, which has no timeout of its own
 * ```ts ignore
 * const server = Deno.serve({ port: 8080 }, () => new Response("hi"));
 * Deno.addSignalListener("SIGTERM", async () => {
 *   // Aborting Deno.serve's signal after shutdown() began throws (Deno 2.9):
 *   // past the timeout, end the process.
 *   const timer = setTimeout(() => Deno.exit(1), 10_000);
 *   await server.shutdown(); // stop listening, finish in-flight requests
 *   clearTimeout(timer);
 * });
 * ```
 *
 * @example The same for Bun.serve
 * ```ts ignore
 * const server = Bun.serve({ port: 8080, fetch: () => new Response("hi") });
 * process.on("SIGTERM", async () => {
 *   const timer = setTimeout(() => server.stop(true), 10_000); // force after 10 s
 *   await server.stop(); // stop listening, finish in-flight requests
 *   clearTimeout(timer);
 * });
 * ```
 */
export function gracefulHttp<S extends HttpServerLike>(
  server: S,
  options?: GracefulHttpOptions,
): GracefulHttp<S> {
  if (
    server === null || typeof server !== "object" || typeof server.on !== "function" ||
    typeof server.close !== "function" || typeof server.listenerCount !== "function" ||
    typeof server.removeListener !== "function"
  ) {
    throw new TypeError("Cannot make server graceful: expected a node:http or node:https server");
  }
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new TypeError(
      `Cannot make server graceful: options must be an object, received ${String(options)}`,
    );
  }
  const timeout = checkTimeout(options?.timeout, "make server graceful");
  const grace = checkGrace(options?.grace, "make server graceful");
  return new GracefulHttpServer(server, timeout, grace);
}
