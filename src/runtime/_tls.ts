// Internal, runtime adapter only: TLS listeners and conns on node:tls, the one
// TLS stack that does everything the issue asks on all three runtimes (client
// certificates, the peer's certificate, ALPN, serving an inherited fd): Deno's
// own listenTls can neither ask for a client certificate nor show the peer's,
// and Deno.listen/Bun.listen cannot serve an fd. A TLS listener is a plain
// netkit Listener whose accept() hands out conns whose handshake is done; a
// failed handshake is reported to `onHandshakeError` and never reaches
// accept(). Only src/runtime/ may import this file.
import type * as net from "node:net";
import type * as tls from "node:tls";
import { BaseListener, checkBacklog } from "./_base_listener.ts";
import { mapError, tlsErrorCode } from "./_map_error.ts";
import { bindServer, NodeConn } from "./_node_net.ts";
import { HOST } from "./_host.ts";
import { procListenerFd } from "./_proc_fd.ts";
import { ListenerClosedError, TlsHandshakeError } from "./errors.ts";
import { type ListWaiter, waitInList } from "../_util/abort.ts";
import type {
  AbortOptions,
  Addr,
  Conn,
  ConnectOptions,
  Listener,
  ListenOptions,
  PeerCertificate,
  Pem,
  TlsConnectOptions,
  TlsInfo,
  TlsListenOptions,
} from "./types.ts";
import { builtin } from "./_node.ts";

/** node:tls, loaded on first use: programs without TLS do not pay for it at start. */
let nodeTls: Promise<typeof tls> | undefined;
export function loadTls(): Promise<typeof tls> {
  nodeTls ??= import("node:tls");
  return nodeTls;
}

/** The default of {@linkcode TlsListenOptions.handshakeTimeout}. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

const decoder = new TextDecoder();

/** PEM bytes or text as text. */
export function pemText(pem: Pem): string {
  return typeof pem === "string" ? pem : decoder.decode(pem);
}

/** PEM bytes or text, one or a list, as a list of texts. */
export function pemList(pem: Pem | Pem[] | undefined): string[] | undefined {
  if (pem === undefined) return undefined;
  return Array.isArray(pem) ? pem.map(pemText) : [pemText(pem)];
}

function isPem(value: unknown): value is Pem {
  return typeof value === "string" || value instanceof Uint8Array;
}

function checkPem(value: unknown, name: string, action: string, optional: boolean): void {
  if (optional && value === undefined) return;
  if (!isPem(value)) {
    throw new TypeError(`Cannot ${action}: tls.${name} must be PEM text or bytes`);
  }
}

function checkCa(value: unknown, action: string): void {
  if (value === undefined) return;
  if (Array.isArray(value) ? !value.every(isPem) : !isPem(value)) {
    throw new TypeError(`Cannot ${action}: tls.ca must be PEM text or bytes, or a list of them`);
  }
}

function checkAlpn(value: unknown, action: string): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || !value.every((p) => typeof p === "string" && p !== "")) {
    throw new TypeError(`Cannot ${action}: tls.alpn must be a list of non-empty strings`);
  }
}

/** Throws TypeError/RangeError for a `tls` listen option no runtime can honour. */
export function validateTlsListen(options: unknown): asserts options is TlsListenOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot listen: tls must be an object, received ${String(options)}`);
  }
  const o = options as Record<string, unknown>;
  checkPem(o.cert, "cert", "listen", false);
  checkPem(o.key, "key", "listen", false);
  checkCa(o.ca, "listen");
  checkAlpn(o.alpn, "listen");
  if (o.requestCert !== undefined && typeof o.requestCert !== "boolean") {
    throw new TypeError("Cannot listen: tls.requestCert must be a boolean");
  }
  const t = o.handshakeTimeout;
  if (t !== undefined && (typeof t !== "number" || !(t > 0) || !Number.isFinite(t))) {
    throw new RangeError(
      `Cannot listen: tls.handshakeTimeout must be a positive number, received ${String(t)}`,
    );
  }
  if (o.onHandshakeError !== undefined && typeof o.onHandshakeError !== "function") {
    throw new TypeError("Cannot listen: tls.onHandshakeError must be a function");
  }
}

/** Throws TypeError for a `tls` connect option no runtime can honour. */
export function validateTlsConnect(options: unknown): asserts options is TlsConnectOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot connect: tls must be an object, received ${String(options)}`);
  }
  const o = options as Record<string, unknown>;
  checkCa(o.ca, "connect");
  checkPem(o.cert, "cert", "connect", true);
  checkPem(o.key, "key", "connect", true);
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new TypeError("Cannot connect: tls.cert and tls.key go together");
  }
  if (o.serverName !== undefined && typeof o.serverName !== "string") {
    throw new TypeError("Cannot connect: tls.serverName must be a string");
  }
  checkAlpn(o.alpn, "connect");
}

function attributes(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null || typeof value !== "object") return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  }
  return out;
}

function peerCertificate(socket: tls.TLSSocket): PeerCertificate | undefined {
  const c = socket.getPeerCertificate(false) as Partial<tls.PeerCertificate> | null;
  if (c === null || typeof c !== "object" || c.raw === undefined) return undefined;
  return {
    subject: attributes(c.subject),
    issuer: attributes(c.issuer),
    subjectAltName: typeof c.subjectaltname === "string" ? c.subjectaltname : undefined,
    serialNumber: String(c.serialNumber ?? ""),
    fingerprint256: String(c.fingerprint256 ?? ""),
    validFrom: String(c.valid_from ?? ""),
    validTo: String(c.valid_to ?? ""),
    raw: new Uint8Array(c.raw),
  };
}

function tlsInfo(socket: tls.TLSSocket): TlsInfo {
  const alpn = socket.alpnProtocol;
  return {
    protocol: socket.getProtocol() ?? undefined,
    alpnProtocol: typeof alpn === "string" && alpn !== "" ? alpn : undefined,
    authorized: socket.authorized === true,
    peerCertificate: peerCertificate(socket),
  };
}

/**
 * Deno's node:tls (2.9) loses the peer's EOF when it arrives while the
 * socket is paused (the data arrives, `end` never does), so on Deno a TLS
 * socket is never paused: it is read as fast as the peer sends, and the
 * conn's queue is not bounded. Elsewhere pausing is what bounds it.
 */
function keepFlowingOnDeno(socket: tls.TLSSocket): tls.TLSSocket {
  if (HOST !== "deno") return socket;
  socket.pause = function (this: tls.TLSSocket) {
    return this;
  };
  return socket;
}

/** A {@linkcode Conn} over a `tls.TLSSocket` whose handshake is done. */
export class TlsConn extends NodeConn {
  readonly #tls: TlsInfo;

  /**
   * `unix` gives the local and remote paths of a Unix socket; `addrs` the
   * addresses of a socket that is not a network one (startTls over a Conn).
   */
  constructor(
    socket: tls.TLSSocket,
    unix?: [local: string, remote: string],
    addrs?: [local: Addr, remote: Addr],
  ) {
    super(keepFlowingOnDeno(socket), unix);
    this.#tls = tlsInfo(socket);
    if (addrs !== undefined) {
      (this as { localAddr: Addr }).localAddr = addrs[0];
      (this as { remoteAddr: Addr }).remoteAddr = addrs[1];
    }
  }

  /** What the handshake agreed on. */
  get tls(): TlsInfo {
    return this.#tls;
  }
}

/** A socket's descriptor through node:net internals, where the runtime has one. */
function handleFd(handle: unknown): number | undefined {
  const fd = (handle as { fd?: unknown } | null | undefined)?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/** The TCP socket under a server-side TLS socket (Bun has one object for both). */
function rawOf(socket: tls.TLSSocket): unknown {
  return (socket as unknown as { _parent?: unknown })._parent ?? socket;
}

/** An accept() waiting in {@linkcode HandoffWaiters}. */
type HandoffWaiter = ListWaiter<Conn>;

/**
 * The accept() calls made while a TLS listener has stopped accepting to hand
 * its socket over, served newest first. The drain that hands the socket over
 * (src/inherit/) loops `while (pending > 0) await accept()` while the
 * application's own accept() loop may wait too; `pending` counts handshakes
 * in progress, so in FIFO order the application's older accept() could take
 * the last conn and leave the drain's waiting for ever (the TLS hand-off
 * hang of issue #12). Newest first, the drain's accept() (always the latest:
 * it calls again at once) is served, and the older ones wait for close().
 */
export class HandoffWaiters {
  readonly #stack: HandoffWaiter[] = [];

  /** Waits for a conn handed to {@linkcode deliver}, an error, or `signal`. */
  wait(signal: AbortSignal | undefined): Promise<Conn> {
    return waitInList(this.#stack, signal, {});
  }

  /** Gives `conn` to the newest waiter; `false` when none waits. */
  deliver(conn: Conn): boolean {
    return this.#settleNewest((waiter) => waiter.resolve(conn));
  }

  /** Fails the newest waiter (a handshake ended without a conn); `false` when none waits. */
  fail(err: unknown): boolean {
    return this.#settleNewest((waiter) => waiter.reject(err));
  }

  #settleNewest(settle: (waiter: HandoffWaiter) => void): boolean {
    const waiter = this.#stack.pop();
    if (waiter === undefined) return false;
    waiter.cleanup();
    settle(waiter);
    return true;
  }

  /** The listener closed: every waiter gets ListenerClosedError. */
  close(): void {
    const err = new ListenerClosedError("Cannot accept: the listener is closed");
    for (const waiter of this.#stack.splice(0)) {
      waiter.cleanup();
      waiter.reject(err);
    }
  }
}

/**
 * A {@linkcode Listener} over a `tls.Server`: accept() hands out conns whose
 * handshake is done; failed handshakes never reach it. `pending` counts the
 * handshakes in progress too, so that a listener that stops accepting to
 * hand its socket over (inherit) still serves the clients whose handshake
 * it had begun.
 */
export class TlsListener extends BaseListener {
  readonly addr: Addr;
  readonly native: tls.Server;
  #fd: number | undefined;
  #handshakeErrors = 0;
  readonly #handshaking = new Set<unknown>();
  readonly #handoff = new HandoffWaiters();
  #stopped = false;

  constructor(
    server: tls.Server,
    addr: Addr,
    bound: number,
    fd: number | undefined,
    onHandshakeError: ((err: Error) => void) | undefined,
  ) {
    super(bound);
    this.native = server;
    this.addr = addr;
    this.#fd = fd;
    const unix: [string, string] | undefined = addr.transport === "unix"
      ? [addr.path, ""]
      : undefined;
    server.on("connection", (raw: net.Socket) => {
      this.#handshaking.add(raw);
      raw.once("close", () => this.#settled(raw));
    });
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      this.#handshaking.delete(rawOf(socket));
      const conn = new TlsConn(socket, unix);
      if (!this.#stopped || this.closed || !this.#handoff.deliver(conn)) this._deliver(conn);
    });
    server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
      this.#handshakeErrors++;
      socket.destroy();
      const failure = new TlsHandshakeError(
        `Cannot accept: TLS handshake failed: ${err.message}`,
        { code: tlsErrorCode(err) ?? (err as { code?: string }).code, cause: err },
      );
      this.#settled(rawOf(socket), failure);
      onHandshakeError?.(failure);
    });
    // Errors after listening (EMFILE on accept) go to the oldest waiting accept().
    server.on("error", (err: Error) => this._fail(err));
  }

  /** A handshake ended without a conn: wake a drain that waits for it. */
  #settled(raw: unknown, err?: TlsHandshakeError): void {
    if (!this.#handshaking.delete(raw)) return;
    if (!this.#stopped || this.closed) return;
    // Stopped (handing over): the newest accept() waiting for a handshake
    // gets a TlsHandshakeError instead of waiting forever.
    this.#handoff.fail(
      err ?? new TlsHandshakeError("Cannot accept: the client left during the TLS handshake"),
    );
  }

  /**
   * Once stopped, an accept() that finds nothing queued waits newest first
   * for the handshakes in progress (see {@linkcode HandoffWaiters}).
   */
  override accept(options?: AbortOptions): Promise<Conn> {
    if (!this.#stopped || this.closed || (super.pending ?? 0) > 0) return super.accept(options);
    return this.#handoff.wait(options?.signal);
  }

  /**
   * Stops taking connections from the kernel queue (see `os.stopAccepting`);
   * handshakes in progress go on, and `pending` counts them until they end.
   */
  stopAccepting(): void {
    this.#stopped = true;
    if (this.native.listening) this.native.close();
  }

  override get pending(): number | undefined {
    return (super.pending ?? 0) + this.#handshaking.size;
  }

  /** How many clients failed their handshake (and were disconnected) so far. */
  get handshakeErrors(): number {
    return this.#handshakeErrors;
  }

  get fd(): number | undefined {
    this.#fd ??= handleFd((this.native as unknown as { _handle?: unknown })._handle) ??
      procListenerFd(this.addr);
    return this.#fd;
  }

  protected _close(): void {
    this.#handshaking.clear();
    this.#handoff.close();
    if (this.native.listening) this.native.close();
  }
}

/** Listens with node:tls on a TCP port, a Unix path or an inherited fd. */
export async function listenTls(options: ListenOptions): Promise<Listener> {
  const t = options.tls;
  validateTlsListen(t);
  const bound = checkBacklog(options.backlog);
  const tlsApi = await loadTls();
  const server = tlsApi.createServer({
    cert: pemText(t.cert),
    key: pemText(t.key),
    ca: pemList(t.ca),
    requestCert: t.requestCert === true,
    rejectUnauthorized: t.requestCert === true,
    ALPNProtocols: t.alpn,
    handshakeTimeout: t.handshakeTimeout ?? HANDSHAKE_TIMEOUT_MS,
    allowHalfOpen: true,
    // As Go and Deno do: small TLS records go out at once (Nagle off).
    noDelay: true,
  });
  const addr = await bindServer(server, options, bound);
  return new TlsListener(
    server,
    addr,
    bound,
    "fd" in options ? options.fd : undefined,
    t.onHandshakeError,
  );
}

/** Connects with node:tls; resolves once the handshake is done. */
export async function connectTls(options: ConnectOptions): Promise<Conn> {
  const t = options.tls;
  validateTlsConnect(t);
  const signal = options.signal;
  signal?.throwIfAborted();
  const tlsApi = await loadTls();
  signal?.throwIfAborted();
  const isUnix = "path" in options;
  const host = isUnix ? undefined : options.hostname ?? "127.0.0.1";
  const what = isUnix ? options.path : `${host}:${options.port}`;
  // SNI may not be an IP address; without it node:tls checks the IP SANs.
  const serverName = t.serverName ??
    (host !== undefined && builtin("node:net").isIP(host) === 0 ? host : undefined);
  // node:tls takes allowHalfOpen (passed to the TLSSocket) though its types omit it.
  const common: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    ca: pemList(t.ca),
    cert: t.cert === undefined ? undefined : pemText(t.cert),
    key: t.key === undefined ? undefined : pemText(t.key),
    ALPNProtocols: t.alpn,
    servername: serverName,
    allowHalfOpen: true,
  };
  if (isUnix && serverName !== undefined) {
    common.checkServerIdentity = (_host, cert) => tlsApi.checkServerIdentity(serverName, cert);
  }
  return await new Promise<Conn>((resolve, reject) => {
    const socket = isUnix
      ? tlsApi.connect({ ...common, path: options.path })
      : tlsApi.connect({ ...common, host, port: options.port });
    let tcpUp = false;
    const onAbort = () => {
      socket.destroy();
      reject(signal!.reason);
    };
    const onError = (err: Error) => {
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      const action = `connect to ${what}`;
      // Past the TCP connect, any failure is the handshake's.
      if (tcpUp && tlsErrorCode(err) === undefined) {
        reject(
          new TlsHandshakeError(`Cannot ${action}: TLS handshake failed: ${err.message}`, {
            code: (err as { code?: string }).code,
            cause: err,
          }),
        );
      } else reject(mapError(err, action));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => {
      tcpUp = true;
    });
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      resolve(new TlsConn(socket, isUnix ? ["", options.path] : undefined));
    });
  });
}
