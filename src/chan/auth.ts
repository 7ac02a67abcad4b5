/**
 * Authentication of importers: an exporter's `authenticate` hook sees each
 * importer's token (if it sent one) and TLS client certificate (on a mutual
 * TLS listener) before any channel is served, and refuses unknown peers with
 * a clear error on both sides. See docs/protocol.md for the wire format and
 * the threat model.
 *
 * @module
 */
import { NetkitError } from "../_util/errors.ts";
import type { Addr, TlsInfo } from "../runtime/mod.ts";

/** What an exporter knows of an importer when it decides whether to serve it. */
export interface ChanPeer {
  /** The token the importer sent (its `token` option), or `undefined`. */
  readonly token: string | undefined;
  /**
   * The TLS connection's details, with the client certificate
   * (`tls.peerCertificate`, verified against the listener's `ca` when
   * `requestCert` is set); `undefined` on a plain connection.
   */
  readonly tls: TlsInfo | undefined;
  /** The importer's address. */
  readonly remoteAddr: Addr;
}

/**
 * An exporter's authentication hook: `true` serves the importer; `false` or
 * a string (the reason, told to the importer) refuses it. A hook that throws
 * refuses too.
 */
export type Authenticate = (peer: ChanPeer) => boolean | string | Promise<boolean | string>;

/**
 * An importer was refused by an exporter's `authenticate` hook (thrown by
 * `Importer.connect()`, and reported on the exporter's `errors`), or it
 * could not authenticate (the exporter does not take tokens).
 *
 * @example Telling a refusal from other errors
 * ```ts
 * import { ChanAuthError } from "@netkit/netkit/chan";
 *
 * const err = new ChanAuthError("Cannot connect: the exporter refused the importer: unknown token");
 * console.log(err.name); // "ChanAuthError"
 * ```
 */
export class ChanAuthError extends NetkitError {}

/**
 * An {@linkcode Authenticate} hook that serves importers presenting one of
 * `tokens` (compared in constant time for equal lengths).
 *
 * @param tokens The tokens to accept; at least one, none empty.
 * @returns The hook, for the exporter's `authenticate` option.
 * @throws {TypeError} If `tokens` is not a non-empty list of non-empty strings.
 *
 * @example An exporter that serves holders of one token
 * ```ts
 * import { Exporter, tokenAuth } from "@netkit/netkit/chan";
 *
 * const exporter = new Exporter({ authenticate: tokenAuth(["s3cret"]) });
 * await exporter.close();
 * ```
 */
export function tokenAuth(tokens: string[]): Authenticate {
  if (
    !Array.isArray(tokens) || tokens.length === 0 ||
    !tokens.every((t) => typeof t === "string" && t !== "")
  ) {
    throw new TypeError("Cannot make token authentication: tokens must be non-empty strings");
  }
  const known = tokens.map((t) => new TextEncoder().encode(t));
  return (peer: ChanPeer): boolean | string => {
    if (peer.token === undefined) return "a token is required";
    const given = new TextEncoder().encode(peer.token);
    let ok = false;
    for (const k of known) if (sameBytes(k, given)) ok = true;
    return ok || "unknown token";
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
