// Internal: turns a runtime's error into netkit's typed errors. Runtime-free.
import {
  AddrInUseError,
  ClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  NetError,
  TimeoutError,
  TlsHandshakeError,
} from "./errors.ts";

/** Deno's error class names, mapped to the OS codes node:net uses. */
const DENO_NAMES: Record<string, string> = {
  AddrInUse: "EADDRINUSE",
  ConnectionRefused: "ECONNREFUSED",
  ConnectionReset: "ECONNRESET",
  ConnectionAborted: "ECONNABORTED",
  BrokenPipe: "EPIPE",
  TimedOut: "ETIMEDOUT",
  NotFound: "ENOENT",
  PermissionDenied: "EACCES",
  AddrNotAvailable: "EADDRNOTAVAIL",
  BadResource: "EBADF",
  Interrupted: "EINTR",
  NotConnected: "ENOTCONN",
};

/** The OS error code of a runtime error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const e = err as { code?: unknown; name?: unknown };
  if (typeof e.code === "string" && e.code.startsWith("E")) return e.code;
  if (typeof e.name === "string" && e.name in DENO_NAMES) return DENO_NAMES[e.name];
  return undefined;
}

/**
 * Wraps `err` in the netkit error class for its condition.
 * `action` completes "Cannot <action>", e.g. `"connect to 127.0.0.1:80"`.
 */
export function mapError(err: unknown, action: string): Error {
  if (err instanceof NetError) return err;
  const tlsCode = tlsErrorCode(err);
  if (tlsCode !== undefined) {
    const detail = err instanceof Error ? err.message : String(err);
    return new TlsHandshakeError(`Cannot ${action}: ${detail || tlsCode}`, {
      code: tlsCode,
      cause: err,
    });
  }
  const code = errorCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  const message = `Cannot ${action}: ${detail || code || "unknown error"}`;
  switch (code) {
    case "EADDRINUSE":
      return new AddrInUseError(message, { cause: err });
    case "ECONNREFUSED":
    case "ENOENT":
      return new ConnectionRefusedError(message, { code, cause: err });
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
      return new ConnectionResetError(message, { code, cause: err });
    case "ETIMEDOUT":
      return new TimeoutError(message, { cause: err });
    case "EBADF":
    case "EINTR":
    case "ENOTCONN":
      return new ClosedError(message, { cause: err });
    default:
      return new NetError(message, { code, cause: err });
  }
}

/**
 * {@linkcode mapError} for an error a socket event delivered (a reset, a
 * broken pipe): the stack there is the runtime's event dispatch and
 * netkit's queue, never the caller's (its read or write awaits), so none is
 * captured: capturing it was the largest piece of netkit's own JavaScript
 * per accepted conn that the peer resets. Class, message, `code` and `cause`
 * (the runtime's error, with its own stack) are the same.
 */
export function mapEventError(err: unknown, action: string): Error {
  const ctor = Error as { stackTraceLimit?: number };
  const limit = ctor.stackTraceLimit;
  try {
    ctor.stackTraceLimit = 0;
  } catch {
    return mapError(err, action); // a frozen Error: keep the stack
  }
  try {
    return mapError(err, action);
  } finally {
    ctor.stackTraceLimit = limit;
  }
}

/** The codes of node:tls (and OpenSSL's certificate checks) that mean a handshake failed. */
const TLS_CODE =
  /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_)/;

/** The TLS error code of a runtime error, if it is a TLS handshake failure. */
export function tlsErrorCode(err: unknown): string | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && TLS_CODE.test(code) ? code : undefined;
}
