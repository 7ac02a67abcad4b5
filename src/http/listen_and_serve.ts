/**
 * {@linkcode listenAndServe}: the common case in one call: listen through an
 * `Upgrader` (the inherited socket after a restart, a fresh one otherwise),
 * serve, restart on SIGHUP with no request lost, shut down on SIGINT/SIGTERM
 * or once a successor took over.
 *
 * @module
 */
import { createUpgrader, type NetListenOptions, type Upgrader } from "../inherit/mod.ts";
import { onSignal } from "../runtime/mod.ts";
import { serve } from "./serve.ts";
import type { HttpServer, ServeOptions } from "./types.ts";

/** Options of {@linkcode listenAndServe}: an address, and {@linkcode serve}'s options. */
export type ListenAndServeOptions = NetListenOptions & Omit<ServeOptions, "listener"> & {
  /**
   * The upgrader to listen through and restart with.
   * @default {a new one, closed once the server is shut down}
   */
  upgrader?: Upgrader;
  /**
   * Called with the error of a restart that failed (this process goes on serving).
   * @default {logs it with console.error}
   */
  onRestartError?: (error: Error) => void;
};

/**
 * Listens through an `Upgrader` and serves: a restartable HTTP server in one
 * call. `SIGHUP` starts a new copy of the program that inherits the socket
 * (see `Upgrader.upgrade`); once it is ready this process shuts the server
 * down gracefully (in-flight requests finish, with `Connection: close`) and
 * ends. `SIGINT` and `SIGTERM` shut it down the same way. Await the server's
 * `finished` to know when it is over.
 *
 * @param options The address (`hostname`, `port`, or `path`; `name` for
 * successors), the handler and every other option of {@linkcode serve}.
 * @returns The server, once it listens and the upgrader is ready.
 * @throws {TypeError} If the handler or the address is missing.
 * @throws {AddrInUseError} If a fresh listener's address is taken.
 *
 * @example A Hono app that restarts on `kill -HUP <pid>` with no request lost
 * ```ts ignore
 * import { Hono } from "hono";
 * import { listenAndServe } from "@netkit/netkit/http";
 *
 * const app = new Hono().get("/", (c) => c.text("hello"));
 * const server = await listenAndServe({ port: 8080, fetch: app.fetch });
 * await server.finished; // after SIGHUP (a successor serves) or SIGTERM
 * ```
 */
export async function listenAndServe(options: ListenAndServeOptions): Promise<HttpServer> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot listen and serve: options must be an object");
  }
  const { upgrader: given, onRestartError, hostname, port, path, name, backlog, ...rest } =
    options as ListenAndServeOptions & {
      hostname?: string;
      port?: number;
      path?: string;
      name?: string;
      backlog?: number;
    };
  if (typeof rest.fetch !== "function" && typeof rest.handler !== "function") {
    throw new TypeError("Cannot listen and serve: give a fetch or a handler function");
  }
  const upgrader = given ?? createUpgrader();
  const address =
    (path !== undefined
      ? { path, backlog, name }
      : { hostname, port, backlog, name }) as NetListenOptions;
  const listener = await upgrader.listen(address);
  let server: HttpServer;
  try {
    server = serve({ ...rest, listener });
  } catch (err) {
    await listener.close();
    throw err;
  }
  const offs = [
    upgrader.handleSignals({ onError: onRestartError ?? ((err) => console.error(err.message)) }),
  ];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const off of offs) off();
      try {
        await server.shutdown();
      } catch {
        // Cut after the shutdown timeout: the server is down all the same.
      }
      if (given === undefined) await upgrader.close();
    })();
    return stopping;
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) offs.push(onSignal(sig, () => void stop()));
  upgrader.exit.then(stop);
  await upgrader.ready();
  return server;
}
