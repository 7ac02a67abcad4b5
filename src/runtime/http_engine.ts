// Runtime adapter: the HTTP engine. node:http's `IncomingMessage` and
// `ServerResponse` always; the parser is node:http's own for a node:net
// socket on Deno and Node (it reads the handle itself), and netkit's
// (_http_own.ts) for every other conn and everything on Bun, where node:http
// fed through a `stream.Duplex` (_conn_socket.ts; still there as
// `parser: "node"`) costs 1.3 to 3 times as much (docs/runtimes.md).
// Modules above it (src/http/) see the types in types.ts.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { listenNodeNet, NodeConn } from "./_node_net.ts";
import { DenoListener } from "./deno.ts";
import { HOST } from "./_host.ts";
import { ConnSocket } from "./_conn_socket.ts";
import { OwnSocket } from "./_http_own.ts";
import { canDup, dupFd } from "./_dup.ts";
import { closeFd } from "./_fd.ts";
import type {
  Conn,
  HttpEngine,
  HttpEngineOptions,
  HttpSocket,
  HttpSocketHooks,
  Listener,
} from "./types.ts";

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
  tag: unknown = undefined;
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
  const parser = options.parser;
  // node:http parses from a node:net socket's own handle at its best; fed
  // through a Duplex it costs more than netkit's parser (docs/runtimes.md).
  // On Bun its parser is a JavaScript one even on a node:net socket.
  const nodeParses = parser === "node" || (parser === undefined && HOST !== "bun");
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
      const raw = nodeParses && conn instanceof NodeConn ? conn.release() : undefined;
      if (raw !== undefined) {
        const socket = new NativeSocket(conn, raw, hooks);
        server.emit("connection", raw);
        raw.resume();
        return socket;
      }
      if (parser !== "node") {
        const socket = new OwnSocket(conn, hooks, options);
        socket.start();
        return socket;
      }
      const socket = new ConnSocket(conn, hooks);
      server.emit("connection", socket);
      return socket;
    },
  };
}
