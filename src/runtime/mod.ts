/**
 * The runtime adapter layer: one {@linkcode Listener} and one
 * {@linkcode Conn} type over `Deno.listen`, `Bun.listen` and `node:net`.
 *
 * The adapter is picked once, by feature detection, on first use. Every
 * netkit module stands on this layer and runs unchanged on Deno, Bun and Node.
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
import { bunRuntime } from "./bun.ts";
import { denoRuntime } from "./deno.ts";
import { nodeRuntime } from "./node.ts";
import { snapshot } from "./_resources.ts";
import { listenNodeNet } from "./_node_net.ts";
import { createOs } from "./_os.ts";
import { validateListen } from "./_validate.ts";
import type {
  Conn,
  ConnectOptions,
  Listener,
  ListenOptions,
  Os,
  ResourceCounts,
  Runtime,
  RuntimeName,
} from "./types.ts";

export type {
  ExitStatus,
  FdKind,
  HeldListener,
  NotifyReceiver,
  Os,
  SignalName,
  SpawnOptions,
  Subprocess,
} from "./types.ts";
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
  ReadinessOptions,
  ReadReadiness,
  ResourceCounts,
  Runtime,
  RuntimeName,
  TcpAddr,
  TcpConnectOptions,
  TcpListenOptions,
  UnixAddr,
  UnixConnectOptions,
  UnixListenOptions,
  WriteReadiness,
} from "./types.ts";
export type {
  PeerCertificate,
  Pem,
  TlsConnectOptions,
  TlsInfo,
  TlsListenOptions,
} from "./types.ts";
export {
  AddrInUseError,
  ClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  ListenerClosedError,
  NetError,
  TimeoutError,
  TlsHandshakeError,
} from "./errors.ts";
export { onSignal } from "./_signals.ts";
export { acceptAll, type AcceptAllOptions } from "./accept_all.ts";
export { readableOf, writableOf } from "./conn_streams.ts";
export {
  startTls,
  type StartTlsOptions,
  startTlsServer,
  type StartTlsServerOptions,
} from "./_tls_start.ts";

const ADAPTERS: Record<RuntimeName, Runtime> = {
  deno: denoRuntime,
  bun: bunRuntime,
  node: nodeRuntime,
};

/** Which adapter fits the runtime this code runs on (feature detection). */
function detect(): Runtime {
  const g = globalThis as { Deno?: { listen?: unknown }; Bun?: { listen?: unknown } };
  if (typeof g.Deno?.listen === "function") return denoRuntime;
  if (typeof g.Bun?.listen === "function") return bunRuntime;
  return nodeRuntime;
}

let current: Runtime | undefined;

function adapter(): Runtime {
  current ??= detect();
  return current;
}

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
 * Replaces the detected adapter, for tests: `"node"` makes Deno or Bun use
 * their node:net compatibility layer. Returns the previous adapter's name.
 *
 * @param name The adapter to use from now on.
 * @returns The name of the adapter used until now.
 * @throws {RangeError} If `name` is not one of `"deno"`, `"bun"`, `"node"`.
 *
 * @example Forcing node:net under Deno or Bun
 * ```ts
 * import { runtime, useRuntime } from "@netkit/netkit/runtime";
 *
 * const before = useRuntime("node");
 * console.log(runtime.name); // "node"
 * useRuntime(before);
 * ```
 */
export function useRuntime(name: RuntimeName): RuntimeName {
  const next = ADAPTERS[name];
  if (next === undefined || !Object.hasOwn(ADAPTERS, name)) {
    throw new RangeError(
      `Cannot use runtime: expected "deno", "bun" or "node", received ${String(name)}`,
    );
  }
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if ((name === "deno" && g.Deno === undefined) || (name === "bun" && g.Bun === undefined)) {
    throw new RangeError(`Cannot use runtime: ${name} is not the runtime running this code`);
  }
  const before = adapter().name;
  current = next;
  return before;
}

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

/**
 * How many listeners and conns the adapter has open now; a test that closed
 * everything it opened sees the same counts before and after.
 *
 * @returns The counts.
 *
 * @example A leak check
 * ```ts
 * import { listen, openResources } from "@netkit/netkit/runtime";
 *
 * const before = openResources();
 * const listener = await listen({ port: 0, hostname: "127.0.0.1" });
 * await listener.close();
 * console.log(openResources().listeners === before.listeners); // true
 * ```
 */
export function openResources(): ResourceCounts {
  return snapshot();
}

/**
 * The process and OS services that socket inheritance needs (spawn with fds,
 * signals, environment, the command line of this program, fds, sd_notify),
 * the same on Deno, Bun and Node. Mostly for netkit's own modules.
 *
 * @example Handling a signal
 * ```ts
 * import { os } from "@netkit/netkit/runtime";
 *
 * const off = os.onSignal("SIGHUP", () => console.log("reload"));
 * console.log(os.pid > 0, os.runtime); // true "deno"
 * off();
 * ```
 */
export const os: Os = createOs((options: ListenOptions): Promise<Listener> => {
  // Deno.listen hides its fd (only /proc, which needs --allow-all, tells it);
  // Deno's node:net hands out a dup of it, so passable listeners use node:net.
  if (adapter().name !== "deno" || options.tls !== undefined) return adapter().listen(options);
  validateListen(options);
  return listenNodeNet(options);
});
export { ConnWrapper, ListenerWrapper } from "./wrapper.ts";
export { createHttpEngine } from "./http_engine.ts";
export type { HttpEngine, HttpEngineOptions, HttpSocket, HttpSocketHooks } from "./types.ts";
