/**
 * The runtime adapter layer: one {@linkcode Listener} and one
 * {@linkcode Conn} type over `Deno.listen`, `Bun.listen` and `node:net`.
 *
 * The adapter is picked once, by feature detection, on first use. Every
 * netkit module stands on this layer and runs unchanged on Deno, Bun and Node.
 * Test-only controls (`useRuntime`, `openResources`) are in
 * `@netkit/netkit/testing`.
 *
 * @example An echo server and a client
 * ```ts
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 *
 * const served = (async () => {
 *   await using conn = await listener.accept();
 *   const buf = new Uint8Array(64);
 *   const n = await conn.read(buf);
 *   if (n !== null) await conn.write(buf.subarray(0, n));
 * })();
 *
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await client.write(new TextEncoder().encode("hello"));
 * const buf = new Uint8Array(64);
 * const n = await client.read(buf);
 * console.log(new TextDecoder().decode(buf.subarray(0, n ?? 0))); // "hello"
 * await served;
 * ```
 *
 * @module
 */
export type {
  AbortOptions,
  AcceptReadiness,
  Addr,
  Conn,
  ConnectOptions,
  Deadline,
  FdListenOptions,
  Listener,
  ListenOptions,
  PeerCertificate,
  Pem,
  ReadinessOptions,
  ReadReadiness,
  RuntimeName,
  Signal,
  SignalOptions,
  TcpAddr,
  TcpConnectOptions,
  TcpListenOptions,
  TlsConnectOptions,
  TlsInfo,
  TlsListenOptions,
  UnixAddr,
  UnixConnectOptions,
  UnixListenOptions,
  WriteReadiness,
} from "./types.ts";
export {
  AddrInUseError,
  ClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  ListenerClosedError,
  NetError,
  NetkitError,
  TimeoutError,
  TlsHandshakeError,
} from "./errors.ts";
export { connect, listen, runtime } from "./net.ts";
export { onSignal } from "./_signals.ts";
export { acceptAll, type AcceptAllOptions } from "./accept_all.ts";
export { readableOf, writableOf } from "./conn_streams.ts";
export {
  startTls,
  type StartTlsOptions,
  startTlsServer,
  type StartTlsServerOptions,
} from "./_tls_start.ts";
export { ConnWrapper, ListenerWrapper } from "./wrapper.ts";
