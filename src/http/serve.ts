/**
 * {@linkcode serve}: a fetch handler or a node-style handler on any netkit
 * {@linkcode Listener}, with graceful shutdown, exact counts, limits and
 * timeouts.
 *
 * Internals: the runtime's `createHttpEngine`, fed with each accepted
 * {@linkcode Conn}, parses (node:http for node:net sockets on Deno and Node,
 * netkit's own parser for every other conn) and writes through node:http's
 * `ServerResponse`; this file accepts, tracks each
 * connection in graceful's state machine (in use while a request is served,
 * idle between keep-alive requests, disowned once upgraded), keeps the
 * timeouts with one sweeping timer, and converts fetch requests and
 * responses.
 *
 * @module
 */
import { MAX_DELAY } from "../_util/validate.ts";
import {
  type Addr,
  type Conn,
  ConnWrapper,
  type Listener,
  ListenerClosedError,
} from "../runtime/mod.ts";
import { createHttpEngine, type HttpSocket } from "../runtime/_internal.ts";
import { DrainTimeoutError } from "../graceful/mod.ts";
import {
  checkDrainOptions,
  checkGrace,
  type Entry,
  newEntry,
  Tracker,
} from "../graceful/_internal.ts";
import {
  abortRequest,
  BodyTooLarge,
  type NodeRequest,
  type NodeResponse,
  toRequest,
  writeResponse,
} from "./_fetch.ts";
import type {
  FetchHandler,
  HttpServer,
  NodeHandler,
  ServeInfo,
  ServeOptions,
  ServerStats,
  ShutdownOptions,
  UpgradeHandler,
} from "./types.ts";

/** Where a connection is between requests, for its timeouts. */
const IDLE = 0;
const HEAD = 1;
const BODY = 2;
const BUSY = 3;

/** How long a shutdown waits for the next request on a conn idle since less than this. */
const RECENT_IDLE = 250;

/** How often the timeouts are checked during a shutdown. */
const DRAIN_TICK = 25;

/** Where a response keeps its conn's entry until it is done, and its fetch request. */
const ENTRY: unique symbol = Symbol("netkit.http.entry");
const REQUEST: unique symbol = Symbol("netkit.http.request");
type Tagged = NodeResponse & { [ENTRY]?: ConnEntry; [REQUEST]?: Request };

/** The optional members of a graceful conn (graceful's wrap()) that serve() keeps informed. */
interface GracefulLike {
  markIdle?(): void;
  markInUse?(): void;
  disown?(): void;
}

/** One served connection. */
interface ConnEntry extends Entry {
  readonly conn: Conn & GracefulLike;
  socket: HttpSocket;
  /** Requests whose response has not finished. */
  inflight: number;
  /** Responses finished on it. */
  served: number;
  /** When it last turned idle (ms since the epoch). */
  idleSince: number;
  phase: number;
  /** When the current phase's timeout fires (ms since the epoch), or 0 for none. */
  deadline: number;
  /** Handed to an upgrade handler. */
  detached: boolean;
  /** Responses on it not finished yet (more than one when requests are pipelined). */
  responses: NodeResponse[];
  /** Its neighbours in the server's list of served conns. */
  prev: ConnEntry | null;
  next: ConnEntry | null;
}

function checkSize(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(
      `Cannot serve: ${name} must be a positive number, received ${String(value)}`,
    );
  }
  return value;
}

function addrText(addr: Addr): string {
  return addr.transport === "tcp"
    ? (addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`)
    : "localhost";
}

function logError(err: unknown): void {
  console.error("netkit/http: handler error:", err);
}

/** The conn of an upgraded request: closing it updates the server's counts. */
class UpgradedConn extends ConnWrapper {
  readonly #onClose: () => void;
  constructor(inner: Conn, onClose: () => void) {
    super(inner);
    this.#onClose = onClose;
  }
  override close(): void {
    this.#onClose();
    super.close();
  }
}

class Server implements HttpServer {
  readonly #listener: Listener;
  readonly #fetch: FetchHandler | undefined;
  readonly #handler: NodeHandler | undefined;
  readonly #onError: NonNullable<ServeOptions["onError"]>;
  readonly #onUpgrade: UpgradeHandler | undefined;
  readonly #maxBody: number;
  readonly #headersTimeout: number;
  readonly #requestTimeout: number;
  readonly #idleTimeout: number;
  readonly #readinessPath: string | undefined;
  readonly #beforeShutdown: (() => void | Promise<void>) | undefined;
  readonly #drainDelay: number;
  readonly #shutdownTimeout: number;
  readonly #engine: ReturnType<typeof createHttpEngine>;
  /**
   * The engine's node:net listener on a dup of #listener's socket, accepted
   * from instead of #listener (the fast path), if it gave one.
   */
  #taken: Listener | undefined;
  readonly #tracker: Tracker<ConnEntry>;
  /**
   * The conns being served, linked through their entries (newest first);
   * a socket's entry is its `tag`. No table keyed by socket: a long-lived
   * Map turned over once per conn keeps closed conns alive through minor
   * collections (docs/performance.md, the tracker's third pass).
   */
  #conns: ConnEntry | null = null;
  readonly #host: string;
  readonly #onFinish: (this: NodeResponse) => void;
  readonly #onClose: (this: NodeResponse) => void;
  #sweeper: ReturnType<typeof setInterval>;
  readonly #accepting: Promise<void>;
  #requests = 0;
  #served = 0;
  #cutting = false;
  #shutdown: Promise<void> | undefined;
  #resolveFinished!: () => void;
  readonly finished: Promise<void>;

  constructor(options: ServeOptions) {
    this.#listener = options.listener;
    this.#fetch = options.fetch;
    this.#handler = options.handler;
    const onError = options.onError;
    this.#onError = onError ?? logError;
    this.#onUpgrade = options.onUpgrade;
    this.#maxBody = checkSize("maxBodySize", options.maxBodySize, 16 * 1024 * 1024);
    const maxHeader = checkSize("maxHeaderSize", options.maxHeaderSize, 16 * 1024);
    this.#headersTimeout = checkSize("headersTimeout", options.headersTimeout, 10_000);
    this.#requestTimeout = checkSize("requestTimeout", options.requestTimeout, 300_000);
    this.#idleTimeout = checkSize("idleTimeout", options.idleTimeout, 5_000);
    this.#readinessPath = options.readinessPath;
    this.#beforeShutdown = options.beforeShutdown;
    this.#drainDelay = options.drainDelay ?? 0;
    if (typeof this.#drainDelay !== "number" || !(this.#drainDelay >= 0)) {
      throw new RangeError(
        `Cannot serve: drainDelay must be a non-negative number, received ${
          String(options.drainDelay)
        }`,
      );
    }
    this.#shutdownTimeout = options.shutdownTimeout ?? 30_000;
    checkDrainOptions({ timeout: this.#shutdownTimeout }, "serve");
    this.#host = addrText(this.#listener.addr);
    const done = (res: NodeResponse) => this.#done(res);
    this.#onFinish = function (this: NodeResponse) {
      done(this);
    };
    this.#onClose = function (this: NodeResponse) {
      const request = (this as Tagged)[REQUEST];
      if (request !== undefined && !this.writableFinished) abortRequest(request);
      done(this);
    };
    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
    // A new conn is fresh (in use) until its first byte or request, or until
    // `grace` passes (graceful's rule): a shutdown waits for it meanwhile.
    const grace = checkGrace(options.grace, "serve");
    this.#tracker = new Tracker<ConnEntry>((entry) => {
      if (this.#cutting || entry.inflight > 0) entry.socket.destroy();
      else if (entry.phase !== IDLE) {
        // Its next request is arriving: it gets one answer with
        // `Connection: close`, or its timeout.
      } else if (entry.served === 0) {
        // No request within its grace (or a grace of 0): close it.
        entry.socket.close();
      } else {
        // Idle for a while: close now. Idle since just now: its client may be
        // sending the next request already (closing would make it retry):
        // give it until RECENT_IDLE to arrive, answered with `Connection: close`.
        const idleFor = Date.now() - entry.idleSince;
        if (idleFor >= RECENT_IDLE) entry.socket.close();
        else entry.deadline = entry.idleSince + RECENT_IDLE;
      }
    }, grace);
    this.#engine = createHttpEngine({
      maxHeaderSize: maxHeader,
      idleTimeout: this.#idleTimeout,
      onRequest: (req, res, socket) =>
        this.#request(req as NodeRequest, res as NodeResponse, socket, false),
      onCheckContinue: (req, res, socket) =>
        this.#request(req as NodeRequest, res as NodeResponse, socket, true),
      onUpgrade: this.#onUpgrade === undefined
        ? undefined
        : (req, socket, head) => this.#upgrade(req as NodeRequest, socket, head),
    });
    const tick = Math.max(
      10,
      Math.min(250, this.#headersTimeout / 4, this.#requestTimeout / 4, this.#idleTimeout / 4),
    );
    this.#sweeper = setInterval(() => this.#sweep(), tick);
    this.#accepting = this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#listener.addr;
  }

  get stats(): ServerStats {
    return { ...this.#tracker.stats(), requests: this.#requests, served: this.#served };
  }

  get ready(): boolean {
    return this.#shutdown === undefined;
  }

  get shuttingDown(): boolean {
    return this.#shutdown !== undefined;
  }

  get node(): unknown {
    return this.#engine.native;
  }

  async #acceptLoop(): Promise<void> {
    const taken = await this.#engine.takeOver(this.#listener).catch(() => undefined);
    if (taken !== undefined) {
      if (this.#listener.closed || this.#shutdown !== undefined) await taken.close();
      else this.#taken = taken;
    }
    const from = this.#taken ?? this.#listener;
    while (true) {
      let conn: Conn;
      try {
        conn = await from.accept();
      } catch (err) {
        if (err instanceof ListenerClosedError || from.closed) return;
        // Out of fds and the like: wait a little, as Go's http.Server does.
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      this.#serveConn(conn);
    }
  }

  #serveConn(conn: Conn & GracefulLike): void {
    const entry: ConnEntry = newEntry({
      conn,
      socket: undefined as unknown as HttpSocket,
      inflight: 0,
      served: 0,
      idleSince: Date.now(),
      phase: IDLE,
      deadline: Date.now() + this.#idleTimeout,
      detached: false,
      responses: [],
      prev: null,
      next: null,
    });
    this.#link(entry);
    entry.socket = this.#engine.serve(conn, {
      onRead: () => {
        // The first byte ends freshness (as graceful's first read): in use.
        if (entry.fresh) this.#tracker.settle(entry, true);
        if (entry.phase === IDLE) {
          entry.phase = HEAD;
          entry.deadline = Date.now() + this.#headersTimeout;
        }
      },
      onClose: () => {
        this.#unlink(entry);
        if (!entry.detached) this.#tracker.gone(entry);
      },
    });
    entry.socket.tag = entry;
    this.#tracker.add(entry);
  }

  #link(entry: ConnEntry): void {
    entry.next = this.#conns;
    if (this.#conns !== null) this.#conns.prev = entry;
    this.#conns = entry;
  }

  /** Takes `entry` out of the list (once). */
  #unlink(entry: ConnEntry): void {
    if (entry.prev !== null) entry.prev.next = entry.next;
    else if (this.#conns === entry) this.#conns = entry.next;
    else return;
    if (entry.next !== null) entry.next.prev = entry.prev;
    entry.prev = null;
    entry.next = null;
  }

  /** The served entry of `socket`, if it is still served. */
  #entryOf(socket: HttpSocket): ConnEntry | undefined {
    const entry = socket.tag as ConnEntry | undefined;
    return entry !== undefined && (entry.prev !== null || this.#conns === entry)
      ? entry
      : undefined;
  }

  #sweep(): void {
    // The listener closed by its owner: stop accepting on its dup too.
    if (this.#taken !== undefined && this.#listener.closed && !this.#taken.closed) {
      this.#taken.close().catch(() => {});
    }
    const now = Date.now();
    for (let entry = this.#conns; entry !== null;) {
      const next = entry.next;
      if (entry.deadline !== 0 && now > entry.deadline) entry.socket.destroy();
      entry = next;
    }
  }

  #request(req: NodeRequest, res: NodeResponse, socket: HttpSocket, expect: boolean): void {
    const entry = this.#entryOf(socket);
    if (entry === undefined) {
      res.destroy();
      return;
    }
    this.#requests++;
    entry.inflight++;
    // The first request ends freshness (the node:net path reports no reads).
    if (entry.fresh) this.#tracker.settle(entry, true);
    this.#tracker.markInUse(entry);
    entry.conn.markInUse?.();
    if (req.complete) {
      entry.phase = BUSY;
      entry.deadline = 0;
    } else {
      entry.phase = BODY;
      entry.deadline = Date.now() + this.#requestTimeout;
      req.once("end", () => {
        if (entry.phase === BODY) {
          entry.phase = BUSY;
          entry.deadline = 0;
        }
      });
    }
    entry.responses.push(res);
    // Shared listeners (no closures per request), the entry on the response.
    (res as Tagged)[ENTRY] = entry;
    res.on("finish", this.#onFinish);
    res.on("close", this.#onClose);
    const draining = this.#shutdown !== undefined;
    if (draining) res.setHeader("connection", "close");

    const length = Number(req.headers["content-length"] ?? 0);
    if (length > this.#maxBody) {
      this.#tooLarge(res);
      return;
    }
    if (expect) res.writeContinue();
    if (this.#readinessPath !== undefined && req.url === this.#readinessPath) {
      const ok = this.#shutdown === undefined;
      const body = ok ? "ok\n" : "shutting down\n";
      res.writeHead(ok ? 200 : 503, {
        "content-type": "text/plain; charset=utf-8",
        "content-length": String(body.length),
      });
      res.end(body);
      return;
    }
    if (this.#fetch !== undefined) {
      this.#serveFetch(req, res, entry, this.#fetch);
      return;
    }
    try {
      const out = this.#handler!(req, res);
      if (out instanceof Promise) out.catch((err) => this.#failed(err, res, undefined));
    } catch (err) {
      this.#failed(err, res, undefined);
    }
  }

  /** A response finished or its socket closed: the request is done (once). */
  #done(res: NodeResponse): void {
    const entry = (res as Tagged)[ENTRY];
    if (entry === undefined) return;
    (res as Tagged)[ENTRY] = undefined;
    const responses = entry.responses;
    const at = responses.indexOf(res);
    if (at >= 0) responses.splice(at, 1);
    this.#requests--;
    this.#served++;
    entry.served++;
    if (--entry.inflight === 0) {
      entry.phase = IDLE;
      entry.idleSince = Date.now();
      entry.deadline = entry.idleSince + this.#idleTimeout;
      entry.conn.markIdle?.();
      this.#tracker.markIdle(entry);
    }
  }

  #tooLarge(res: NodeResponse): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(413, { "connection": "close", "content-length": "0" });
    res.end();
  }

  async #serveFetch(
    req: NodeRequest,
    res: NodeResponse,
    entry: ConnEntry,
    fetch: FetchHandler,
  ): Promise<void> {
    let request: Request | undefined;
    try {
      request = toRequest(req, this.#host, this.#maxBody, () => this.#tooLarge(res));
      // Aborted by #onClose if the client goes away first.
      (res as Tagged)[REQUEST] = request;
      const info: ServeInfo = { remoteAddr: entry.conn.remoteAddr, conn: entry.conn };
      const response = await fetch(request, info);
      if (!(response instanceof Response)) {
        throw new TypeError(
          `Cannot answer request: the fetch handler returned ${
            response === null ? "null" : typeof response
          }, not a Response`,
        );
      }
      await writeResponse(res, response, req.method === "HEAD", this.#shutdown !== undefined);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        this.#tooLarge(res);
        return;
      }
      await this.#failed(err, res, request);
    }
  }

  async #failed(err: unknown, res: NodeResponse, request: Request | undefined): Promise<void> {
    if (res.headersSent || res.writableEnded) {
      // Too late for a 500: cut the response short so the client sees it failed.
      if (!res.writableFinished) res.destroy();
      if (res.writableEnded) return;
    }
    let response: Response | void = undefined;
    try {
      response = await this.#onError(err, request);
    } catch (hookErr) {
      logError(hookErr);
    }
    if (res.headersSent || res.destroyed) return;
    try {
      if (response instanceof Response) {
        await writeResponse(
          res,
          response,
          request?.method === "HEAD",
          this.#shutdown !== undefined,
        );
        return;
      }
    } catch (writeErr) {
      logError(writeErr);
      if (res.headersSent) {
        res.destroy();
        return;
      }
    }
    const body = "Internal Server Error\n";
    res.writeHead(500, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(body.length),
    });
    res.end(body);
  }

  #upgrade(req: NodeRequest, socket: HttpSocket, head: Uint8Array): void {
    const entry = this.#entryOf(socket);
    if (entry === undefined || this.#onUpgrade === undefined) {
      socket.destroy();
      return;
    }
    entry.detached = true;
    entry.deadline = 0;
    this.#tracker.disown(entry);
    entry.conn.disown?.();
    let closed = false;
    const conn = new UpgradedConn(socket.detach(head), () => {
      if (closed) return;
      closed = true;
      this.#tracker.gone(entry);
    });
    let request: Request;
    try {
      request = toRequest(req, this.#host, 0, () => {});
      this.#onUpgrade(request, conn, head);
    } catch (err) {
      conn.close();
      Promise.resolve(this.#onError(err)).catch(logError);
    }
  }

  shutdown(options?: ShutdownOptions): Promise<void> {
    const [timeout, signal] = checkDrainOptions(options, "shut down");
    this.#shutdown ??= this.#stop(
      options?.timeout === undefined ? this.#shutdownTimeout : timeout,
      signal,
    );
    return this.#shutdown;
  }

  async #stop(timeout: number, signal: AbortSignal | undefined): Promise<void> {
    const started = Date.now();
    try {
      if (this.#beforeShutdown !== undefined) await this.#beforeShutdown();
      if (this.#drainDelay > 0) await new Promise((r) => setTimeout(r, this.#drainDelay));
      await this.#listener.close();
      await this.#taken?.close();
      await this.#accepting;
      for (let entry = this.#conns; entry !== null; entry = entry.next) {
        for (const res of entry.responses) {
          if (!res.headersSent) res.setHeader("connection", "close");
        }
      }
      clearInterval(this.#sweeper);
      this.#sweeper = setInterval(() => this.#sweep(), DRAIN_TICK);
      const left = Math.max(0, timeout - (Date.now() - started));
      await this.#drain(left, signal);
    } finally {
      clearInterval(this.#sweeper);
      this.#resolveFinished();
    }
  }

  #drain(timeout: number, signal: AbortSignal | undefined): Promise<void> {
    const drained = this.#tracker.drain(Infinity, undefined, "shut down");
    if (this.#tracker.tracked === 0) return drained;
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cut = (detail: string, cause?: unknown) => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#cutting = true;
        const n = this.#tracker.closeAll();
        drained.then(() =>
          reject(
            new DrainTimeoutError(
              `Cannot shut down: ${
                n === 1 ? "1 connection" : `${n} connections`
              } still open ${detail}; closed ${n === 1 ? "it" : "them"}`,
              { cut: n, cause },
            ),
          )
        );
      };
      const onAbort = () => cut("when the signal aborted", signal!.reason);
      drained.then(() => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (!this.#cutting) resolve();
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeout <= MAX_DELAY) timer = setTimeout(() => cut(`after ${timeout} ms`), timeout);
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.shutdown();
    } catch (err) {
      if (!(err instanceof DrainTimeoutError)) throw err;
    }
  }
}

/**
 * Serves HTTP/1.1 on a netkit listener: a Web fetch handler (`fetch`, e.g.
 * Hono's `app.fetch`) or a node-style `(req, res)` handler (`handler`, e.g.
 * an Express app), on Deno, Bun and Node. Any {@linkcode Listener} works:
 * from `listen()`, `listenBuffer()`, graceful's `wrap()` (its counts see
 * each request), a `Net` or an `Upgrader` (inherited sockets), TLS ones.
 *
 * Keep-alive and pipelining, chunked and streamed bodies both ways, `HEAD`
 * and `Expect: 100-continue` are served as node:http serves them (its
 * `IncomingMessage` and `ServerResponse`, with its parser or netkit's own,
 * which is as strict about framing); limits (body, head size) and
 * timeouts (head, body, idle) have defaults that close slow clients.
 * `request.signal` aborts when the client goes away. A handler that throws
 * gives a 500 (or what `onError` returns), never a crash.
 *
 * @param options The listener, the handler, limits, timeouts and shutdown hooks.
 * @returns The server; `shutdown()` or `await using` stops it.
 * @throws {TypeError} If there is no listener, or not exactly one of `fetch` and `handler`.
 * @throws {RangeError} If a limit or timeout is not a positive number.
 *
 * @example Hello world on a fresh listener
 * ```ts
 * import { serve } from "@netkit/netkit/http";
 * import { listen } from "@netkit/netkit/runtime";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * await using server = serve({ listener, fetch: () => new Response("hello\n") });
 * const port = server.addr.transport === "tcp" ? server.addr.port : 0;
 * const res = await fetch(`http://127.0.0.1:${port}/`);
 * console.log(await res.text()); // "hello\n"
 * ```
 *
 * @example A node-style handler, shut down with a timeout
 * ```ts ignore
 * import { serve } from "@netkit/netkit/http";
 * import { listen } from "@netkit/netkit/runtime";
 *
 * const server = serve({
 *   listener: await listen({ port: 8080 }),
 *   handler: (req, res) => res.end(`you asked for ${req.url}\n`),
 * });
 * await server.shutdown({ timeout: 10_000 });
 * ```
 */
export function serve(options: ServeOptions): HttpServer {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot serve: options must be an object");
  }
  const listener = options.listener as Listener | undefined;
  if (
    listener === null || typeof listener !== "object" || typeof listener.accept !== "function"
  ) {
    throw new TypeError("Cannot serve: listener must be a netkit Listener");
  }
  const kinds = (typeof options.fetch === "function" ? 1 : 0) +
    (typeof options.handler === "function" ? 1 : 0);
  if (
    kinds !== 1 || (options.fetch !== undefined && typeof options.fetch !== "function") ||
    (options.handler !== undefined && typeof options.handler !== "function")
  ) {
    throw new TypeError("Cannot serve: give exactly one of fetch and handler, as a function");
  }
  return new Server(options);
}
