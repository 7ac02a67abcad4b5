// Internal, runtime adapter only: startTls, TLS begun on a conn that is
// already open (STARTTLS, a proxy's CONNECT). It runs node:tls over the conn
// itself (a Duplex whose reads and writes are the conn's), so it works on
// every runtime and on any netkit Conn: a plain one from any adapter, or a
// wrapper's. Only src/runtime/ may import this file.
import type { Duplex } from "node:stream";
import type * as tls from "node:tls";
import { mapError, tlsErrorCode } from "./_map_error.ts";
import {
  HANDSHAKE_TIMEOUT_MS,
  loadTls,
  pemList,
  pemText,
  TlsConn,
  validateTlsConnect,
  validateTlsListen,
} from "./_tls.ts";
import { TlsHandshakeError } from "./errors.ts";
import type { Conn, TlsConnectOptions, TlsListenOptions } from "./types.ts";
import { builtin } from "./_node.ts";

/** The options of {@linkcode startTls}: those of `connect({ tls })`, and a signal. */
export interface StartTlsOptions extends TlsConnectOptions {
  /**
   * Aborts the handshake; the conn is then closed.
   * @default {none}
   */
  signal?: AbortSignal;
}

/** The options of {@linkcode startTlsServer}: the server's `listen({ tls })` options, and a signal. */
export interface StartTlsServerOptions
  extends
    Pick<TlsListenOptions, "cert" | "key" | "alpn" | "requestCert" | "ca" | "handshakeTimeout"> {
  /**
   * Aborts the handshake; the conn is then closed.
   * @default {none}
   */
  signal?: AbortSignal;
}

function checkConn(conn: Conn): void {
  if (conn === null || typeof conn !== "object" || typeof conn.read !== "function") {
    throw new TypeError("Cannot start TLS: conn must be a netkit Conn");
  }
  if (conn.closed) throw new TypeError("Cannot start TLS: the connection is closed");
  if (conn.tls !== undefined) throw new TypeError("Cannot start TLS: the connection speaks TLS");
}

/**
 * What both ends check before a hand-shake: the conn, then the options (with
 * `validate`), then the signal, before and after node:tls loads.
 */
async function begin<O extends { signal?: AbortSignal }>(
  conn: Conn,
  options: O,
  validate: (options: O) => void,
): Promise<typeof tls> {
  checkConn(conn);
  validate(options);
  options.signal?.throwIfAborted();
  const tlsApi = await loadTls();
  options.signal?.throwIfAborted();
  return tlsApi;
}

/** Settles once `socket` is secure (the event `ready`), with a TlsConn over it. */
function secured(
  socket: tls.TLSSocket,
  conn: Conn,
  ready: "secureConnect" | "secure",
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
): Promise<Conn> {
  return new Promise<Conn>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      if (timer !== undefined) clearTimeout(timer);
    };
    const onAbort = () => {
      done();
      socket.destroy();
      reject(signal!.reason);
    };
    const onError = (err: Error) => {
      done();
      socket.destroy();
      const failure = mapError(err, "start TLS");
      reject(
        failure instanceof TlsHandshakeError ? failure : new TlsHandshakeError(
          `Cannot start TLS: TLS handshake failed: ${err.message}`,
          { code: tlsErrorCode(err) ?? (err as { code?: string }).code, cause: err },
        ),
      );
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("error", onError);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        onError(new Error("Handshake timed out"));
      }, timeoutMs);
    }
    socket.once(ready, () => {
      done();
      resolve(new TlsConn(socket, undefined, [conn.localAddr, conn.remoteAddr]));
    });
  });
}

/** A Duplex whose reads and writes are `conn`'s, read only while node:tls wants more. */
function duplexOf(conn: Conn): Duplex {
  const buf = new Uint8Array(64 * 1024);
  let reading = false;
  let readEnded = false;
  let onReadEnd: (() => void) | undefined;
  const pump = async (): Promise<void> => {
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) {
          duplex.push(null);
          readEnded = true;
          onReadEnd?.();
          return;
        }
        if (!duplex.push(buf.slice(0, n))) break;
      }
    } catch (err) {
      readEnded = true;
      onReadEnd?.();
      duplex.destroy(err as Error);
      return;
    }
    reading = false;
  };
  const duplex: Duplex = new (builtin("node:stream").Duplex)({
    read() {
      if (reading) return;
      reading = true;
      pump();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      conn.write(chunk).then(() => callback(), callback);
    },
    final(callback) {
      // 'finish' waits for the read side's end: Bun's node:tls stops reading
      // a Duplex socket once it has finished (a half-close lost the rest).
      conn.closeWrite().then(() => {
        if (readEnded) callback();
        else onReadEnd = () => callback();
      }, callback);
    },
    destroy(err, callback) {
      conn.close();
      callback(err);
    },
  });
  return duplex;
}

/**
 * Begins TLS, as the client, on a conn that is already open (after a
 * STARTTLS exchange, or through a proxy's CONNECT): resolves with a new
 * conn, whose `tls` tells what the handshake agreed on, once the handshake
 * is done. The conn given belongs to the new one from then on (closing the
 * new one closes it); do not read or write it any more. node:tls runs over
 * the conn on every runtime and adapter.
 *
 * @param conn An open conn whose peer is ready for a TLS handshake.
 * @param options What `connect({ tls })` takes, and a signal; without
 * `serverName`, the name checked is the conn's remote hostname.
 * @returns The TLS conn.
 * @throws {TypeError} If an option has the wrong type.
 * @throws {TlsHandshakeError} If the handshake fails (the conn is closed).
 *
 * @example Upgrading a plain conn after the peer agreed
 * ```ts ignore
 * import { connect, startTls } from "@netkit/netkit/runtime";
 *
 * const plain = await connect({ hostname: "127.0.0.1", port: 2525 });
 * await plain.write(new TextEncoder().encode("STARTTLS\r\n"));
 * // … read the peer's go-ahead, then:
 * const conn = await startTls(plain, { serverName: "mail.example.com" });
 * console.log(conn.tls?.protocol);
 * conn.close();
 * ```
 */
export async function startTls(conn: Conn, options: StartTlsOptions = {}): Promise<Conn> {
  const tlsApi = await begin(conn, options, validateTlsConnect);
  const signal = options.signal;
  const remote = conn.remoteAddr;
  const host = remote.transport === "tcp" ? remote.hostname : undefined;
  // SNI may not be an IP address; without it node:tls checks the IP SANs.
  const serverName = options.serverName ??
    (host !== undefined && host !== "" && builtin("node:net").isIP(host) === 0 ? host : undefined);
  // node:tls takes allowHalfOpen (passed to the TLSSocket) though its types omit it.
  const tlsOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    socket: duplexOf(conn),
    allowHalfOpen: true,
    ca: pemList(options.ca),
    cert: options.cert === undefined ? undefined : pemText(options.cert),
    key: options.key === undefined ? undefined : pemText(options.key),
    ALPNProtocols: options.alpn,
    servername: serverName,
    host: serverName ?? host,
  };
  if (serverName !== undefined) {
    tlsOptions.checkServerIdentity = (_host, cert) => tlsApi.checkServerIdentity(serverName, cert);
  }
  return await secured(tlsApi.connect(tlsOptions), conn, "secureConnect", signal, undefined);
}

/**
 * Begins TLS, as the server, on a conn that is already open: resolves with
 * a new conn once the client's handshake is done. As with
 * {@linkcode startTls}, the conn given belongs to the new one from then on.
 * node:tls runs over the conn on every runtime and adapter.
 *
 * @param conn An open conn whose peer is about to begin a TLS handshake.
 * @param options The server's certificate and key, as `listen({ tls })` takes them, and a signal.
 * @returns The TLS conn.
 * @throws {TypeError} If an option has the wrong type.
 * @throws {TlsHandshakeError} If the handshake fails or takes longer than
 * `handshakeTimeout` (the conn is closed).
 *
 * @example Answering a client's STARTTLS
 * ```ts ignore
 * import { listen, startTlsServer } from "@netkit/netkit/runtime";
 *
 * const cert = await Deno.readTextFile("cert.pem");
 * const key = await Deno.readTextFile("key.pem");
 * const listener = await listen({ port: 2525 });
 * const plain = await listener.accept();
 * // … read the client's STARTTLS, answer it, then:
 * const conn = await startTlsServer(plain, { cert, key });
 * conn.close();
 * listener.close();
 * ```
 */
export async function startTlsServer(conn: Conn, options: StartTlsServerOptions): Promise<Conn> {
  const tlsApi = await begin(conn, options, validateTlsListen);
  const signal = options.signal;
  const requestCert = options.requestCert === true;
  // node:tls takes allowHalfOpen (passed to the TLSSocket) though its types omit it.
  const socketOptions: tls.TLSSocketOptions & { allowHalfOpen: boolean } = {
    isServer: true,
    allowHalfOpen: true,
    secureContext: tlsApi.createSecureContext({
      cert: pemText(options.cert),
      key: pemText(options.key),
      ca: pemList(options.ca),
    }),
    requestCert,
    rejectUnauthorized: requestCert,
    ALPNProtocols: options.alpn,
  };
  const socket = new tlsApi.TLSSocket(duplexOf(conn), socketOptions);
  return await secured(
    socket,
    conn,
    "secure",
    signal,
    options.handshakeTimeout ?? HANDSHAKE_TIMEOUT_MS,
  );
}
