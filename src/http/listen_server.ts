/**
 * {@linkcode listenServer}: for users who keep their own server (node:http,
 * Express, Fastify): listen on a raw fd from `Net.listenFd()` /
 * `Upgrader.listenFd()` and check that the runtime really serves it.
 *
 * @module
 */
import type { Addr } from "../runtime/mod.ts";

/** The parts of a node:http (or net) `Server` that {@linkcode listenServer} uses. */
export interface ListenableServer {
  /** Listens on a handle; the callback runs once listening. */
  listen(handle: { fd: number }, callback?: () => void): unknown;
  /** The address served: `{ address, port }` for TCP. */
  address(): unknown;
  /** Adds a one-time listener (for `"error"`). */
  once(event: "error", listener: (err: Error) => void): unknown;
  /** Removes a listener. */
  removeListener(event: "error", listener: (err: Error) => void): unknown;
}

/**
 * Makes `server` listen on `claimed.fd` and checks the port it then serves
 * against `claimed.addr`. Bun's node:http ignores `fd` and binds a random
 * port instead (oven-sh/bun#22559): then it warns (`console.warn`) and
 * resolves `false`; serve such a server's handler with `serve({ handler })`
 * on a netkit listener instead.
 *
 * @param server A node:http, node:https or node:net server, not listening yet.
 * @param claimed What `Net.listenFd()` or `Upgrader.listenFd()` returned.
 * @returns `true` if the server serves the claimed socket.
 * @throws {Error} What `listen()` fails with.
 *
 * @example An Express or node:http server on an inherited socket
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { listenServer } from "@netkit/netkit/http";
 * import { createUpgrader } from "@netkit/netkit/inherit";
 *
 * const upgrader = createUpgrader();
 * const server = createServer((req, res) => res.end("hi"));
 * await listenServer(server, await upgrader.listenFd({ port: 8080 }));
 * upgrader.handleSignals();
 * await upgrader.ready();
 * ```
 */
export async function listenServer(
  server: ListenableServer,
  claimed: { fd: number; addr: Addr },
): Promise<boolean> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen({ fd: claimed.fd }, () => {
      server.removeListener("error", onError);
      resolve();
    });
  });
  if (claimed.addr.transport !== "tcp") return true;
  const served = server.address() as { port?: number } | null;
  if (served?.port === claimed.addr.port) return true;
  console.warn(
    `netkit: the server was given fd ${claimed.fd} (port ${claimed.addr.port}) but serves port ${
      served?.port ?? "?"
    }: this runtime's node:http ignores listen({ fd }) (Bun: oven-sh/bun#22559); ` +
      `serve its handler with serve({ handler }) from @netkit/netkit/http instead`,
  );
  return false;
}
