/**
 * Errors the runtime adapters throw, the same classes on every runtime.
 *
 * @module
 */
import { NetkitError } from "../_util/errors.ts";

export { NetkitError };

/**
 * Base class of netkit's network errors. Keeps the OS error code (e.g.
 * `"EADDRINUSE"`) where there is one, and the runtime's error as `cause`.
 *
 * @example Catching any netkit network error
 * ```ts
 * import { NetError } from "@netkit/netkit/runtime";
 *
 * const err = new NetError("Cannot read: boom", { code: "EIO" });
 * console.log(err instanceof Error, err.code); // true "EIO"
 * ```
 */
export class NetError extends NetkitError {
  /** The OS error code, e.g. `"ECONNRESET"`, or `undefined`. */
  readonly code: string | undefined;

  /**
   * Makes an error.
   * @param message What could not be done: `Cannot <action>: <detail>`.
   * @param options `code` (the OS error code) and `cause`.
   */
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.code = options?.code;
  }
}

/**
 * The address is already in use (`EADDRINUSE`).
 *
 * @example Detecting a taken port
 * ```ts
 * import { AddrInUseError } from "@netkit/netkit/runtime";
 *
 * const err = new AddrInUseError("Cannot listen: address 127.0.0.1:80 is in use");
 * console.log(err.name, err.code); // "AddrInUseError" "EADDRINUSE"
 * ```
 */
export class AddrInUseError extends NetError {
  /** Makes an error; `options.cause` is passed through. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { code: "EADDRINUSE", cause: options?.cause });
  }
}

/**
 * Nobody listens at the address (`ECONNREFUSED`, or `ENOENT` for a Unix path).
 *
 * @example Detecting a refused connection
 * ```ts
 * import { ConnectionRefusedError } from "@netkit/netkit/runtime";
 *
 * const err = new ConnectionRefusedError("Cannot connect: 127.0.0.1:1 refused");
 * console.log(err.code); // "ECONNREFUSED"
 * ```
 */
export class ConnectionRefusedError extends NetError {
  /** Makes an error; `options.code` defaults to `"ECONNREFUSED"`. */
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, { code: options?.code ?? "ECONNREFUSED", cause: options?.cause });
  }
}

/**
 * The peer reset the connection, or it broke (`ECONNRESET`, `EPIPE`).
 *
 * @example Telling a reset from other errors
 * ```ts
 * import { ConnectionResetError } from "@netkit/netkit/runtime";
 *
 * const err = new ConnectionResetError("Cannot read: connection reset by peer");
 * console.log(err.code); // "ECONNRESET"
 * ```
 */
export class ConnectionResetError extends NetError {
  /** Makes an error; `options.code` defaults to `"ECONNRESET"`. */
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, { code: options?.code ?? "ECONNRESET", cause: options?.cause });
  }
}

/**
 * An operation on a connection that is closed.
 *
 * @example Reading after close
 * ```ts
 * import { ClosedError } from "@netkit/netkit/runtime";
 *
 * const err = new ClosedError("Cannot read: the connection is closed");
 * console.log(err.name); // "ClosedError"
 * ```
 */
export class ClosedError extends NetError {
  /** Makes an error; `options.cause` is passed through. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * `accept()` on a listener that is closed, or was closed while it waited.
 *
 * @example Ending an accept loop
 * ```ts
 * import { ListenerClosedError } from "@netkit/netkit/runtime";
 *
 * const err = new ListenerClosedError("Cannot accept: the listener is closed");
 * console.log(err instanceof ListenerClosedError); // true
 * ```
 */
export class ListenerClosedError extends NetError {
  /** Makes an error; `options.cause` is passed through. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A deadline or timeout passed (`ETIMEDOUT`).
 *
 * @example A read past its deadline
 * ```ts
 * import { TimeoutError } from "@netkit/netkit/runtime";
 *
 * const err = new TimeoutError("Cannot read: the read deadline passed");
 * console.log(err.code); // "ETIMEDOUT"
 * ```
 */
export class TimeoutError extends NetError {
  /** Makes an error; `options.cause` is passed through. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { code: "ETIMEDOUT", cause: options?.cause });
  }
}

/**
 * A TLS handshake failed: the peer's certificate was refused (expired, wrong
 * name, unknown CA), the peer refused ours (or sent none where one is
 * required), or no protocol was agreed. `code` is the TLS library's code,
 * e.g. `"CERT_HAS_EXPIRED"` or `"ERR_TLS_CERT_ALTNAME_INVALID"`.
 *
 * With TLS 1.3 a client learns that the server refused its certificate only
 * after its own handshake is done: then the first `read()` rejects with
 * this error rather than `connect()`.
 *
 * @example Telling a refused certificate from other errors
 * ```ts
 * import { TlsHandshakeError } from "@netkit/netkit/runtime";
 *
 * const err = new TlsHandshakeError("Cannot connect: certificate has expired", {
 *   code: "CERT_HAS_EXPIRED",
 * });
 * console.log(err.name, err.code); // "TlsHandshakeError" "CERT_HAS_EXPIRED"
 * ```
 */
export class TlsHandshakeError extends NetError {}
