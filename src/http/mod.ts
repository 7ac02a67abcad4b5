/**
 * HTTP servers on netkit listeners: {@linkcode serve} runs a Web fetch
 * handler (Hono's `app.fetch`, or any `Request → Response` function) or a
 * node-style `(req, res)` handler (Express) on any netkit `Listener`, on
 * Deno, Bun and Node, with graceful shutdown, exact counts, limits and
 * timeouts. On a listener from an `Upgrader`, restarts lose no request;
 * {@linkcode listenAndServe} does that in one call (restart on SIGHUP,
 * graceful shutdown on SIGTERM or once a successor serves).
 *
 * @example Hello world
 * ```ts
 * import { serve } from "@netkit/netkit/http";
 * import { listen } from "@netkit/netkit/runtime";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const server = serve({ listener, fetch: (req) => new Response(new URL(req.url).pathname) });
 * const port = server.addr.transport === "tcp" ? server.addr.port : 0;
 * console.log(await (await fetch(`http://127.0.0.1:${port}/hi`)).text()); // "/hi"
 * await server.shutdown();
 * ```
 *
 * @module
 */
export { serve } from "./serve.ts";
export { useLightResponse } from "./light_response.ts";
export { listenAndServe, type ListenAndServeOptions } from "./listen_and_serve.ts";
export { type ListenableServer, listenServer } from "./listen_server.ts";
export { DrainTimeoutError } from "../graceful/mod.ts";
// Every type of the server: FetchHandler, HttpServer, NodeHandler, ServeInfo,
// ServeOptions, ServerStats, ShutdownOptions, UpgradeHandler.
export type * from "./types.ts";
