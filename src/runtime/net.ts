// Public: the three calls every netkit program starts from; the adapter that
// serves them is picked in _select.ts.
import { adapter } from "./_select.ts";
import type { Conn, ConnectOptions, Listener, ListenOptions, RuntimeName } from "./types.ts";

/**
 * The adapter in use: its `name` tells which runtime serves.
 *
 * @example Printing the runtime
 * ```ts
 * import { runtime } from "@netkit/netkit/runtime";
 *
 * console.log(runtime.name); // "deno", "bun" or "node"
 * ```
 */
export const runtime: { readonly name: RuntimeName } = {
  get name(): RuntimeName {
    return adapter().name;
  },
};

/**
 * Listens on a TCP port, a Unix socket path, or an inherited listening fd.
 *
 * With `tls: { cert, key, alpn?, requestCert?, ca? }` every accepted conn
 * speaks TLS (node:tls on every runtime): `accept()` hands out conns whose
 * handshake is done, with `conn.tls` telling the protocol, ALPN and the
 * client's certificate; a failed handshake goes to `tls.onHandshakeError`
 * and never stops the listener. The listener is a plain netkit Listener:
 * listenBuffer, graceful, poll and inherit take it as any other.
 *
 * @param options `{ hostname?, port?, backlog?, tls? }`, `{ path, backlog?, tls? }` or `{ fd, tls? }`.
 * @returns The listener, bound and listening.
 * @throws {AddrInUseError} If the address is taken.
 * @throws {TypeError} If the options are not of one of the three shapes.
 * @throws {RangeError} If a port, backlog or fd is out of range.
 *
 * @example Listening on any free port
 * ```ts
 * import { listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.addr); // { transport: "tcp", hostname: "127.0.0.1", port: ... }
 * ```
 *
 * @example Serving TLS, with client certificates (mutual TLS)
 * ```ts ignore
 * import { listen } from "@netkit/netkit/runtime";
 *
 * const pem = (path: string) => Deno.readTextFileSync(path);
 * await using listener = await listen({
 *   port: 8443,
 *   tls: { cert: pem("server.pem"), key: pem("server.key"), requestCert: true, ca: pem("ca.pem") },
 * });
 * await using conn = await listener.accept();
 * console.log(conn.tls?.peerCertificate?.subject.CN);
 * ```
 */
export function listen(options: ListenOptions): Promise<Listener> {
  return adapter().listen(options);
}

/**
 * Connects to a TCP or Unix stream server.
 *
 * With `tls: { ca?, serverName?, cert?, key?, alpn? }` the promise resolves
 * once the TLS handshake is done; `conn.tls` tells what it agreed on.
 *
 * @param options `{ hostname?, port, signal?, tls? }` or `{ path, signal?, tls? }`.
 * @returns The connection.
 * @throws {ConnectionRefusedError} If nobody listens there.
 * @throws {TlsHandshakeError} If the TLS handshake fails (certificate expired, for another name, of an unknown CA).
 * @throws {TypeError} If the options are not of one of the two shapes.
 * @throws {RangeError} If the port is out of range.
 *
 * @example Connecting, and being refused
 * ```ts
 * import { connect, ConnectionRefusedError, listen } from "@netkit/netkit/runtime";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await listener.close();
 * try {
 *   await connect({ hostname: "127.0.0.1", port });
 * } catch (err) {
 *   console.log(err instanceof ConnectionRefusedError); // true
 * }
 * ```
 *
 * @example Connecting with TLS, checking the server against a private CA
 * ```ts ignore
 * import { connect } from "@netkit/netkit/runtime";
 *
 * await using conn = await connect({
 *   hostname: "10.0.0.5",
 *   port: 8443,
 *   tls: { ca: Deno.readTextFileSync("ca.pem"), serverName: "api.internal" },
 * });
 * console.log(conn.tls?.protocol); // "TLSv1.3"
 * ```
 */
export function connect(options: ConnectOptions): Promise<Conn> {
  return adapter().connect(options);
}
