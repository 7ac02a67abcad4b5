/**
 * Options of networked channels, shared by the exporter and the importer.
 *
 * @module
 */
import type { CodecOption } from "./codec.ts";
import type { StandardSchemaV1 } from "./standard_schema.ts";

/** Options of a wait that can time out ({@linkcode Exporter.drain} and the like). */
export interface WaitOptions {
  /**
   * Milliseconds to wait before the promise rejects with `TimeoutError`.
   * `0` checks once.
   *
   * @default {Infinity}
   */
  timeout?: number;
  /** Gives up the wait: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Options of one networked channel, on either side. Both sides of a channel
 * must use the same codec.
 *
 * @typeParam T The channel's value type.
 */
export interface ChannelOptions<T> {
  /**
   * How values are encoded: a {@linkcode Codec}, or `"json"` or `"bytes"`
   * for the built-in ones.
   *
   * @default {"json"}
   */
  codec?: CodecOption<T>;
  /**
   * A Standard Schema v1 validator (zod, valibot, arktype, …) for the values
   * this side receives: a value that fails never reaches the channel; it is
   * reported on `errors` as a `ChanValueError` and its credit returned. The
   * schema's output (after transforms) is what the channel gets.
   */
  schema?: StandardSchemaV1<unknown, T>;
}

/** Options the exporter and the importer share. */
export interface ConnectionOptions {
  /**
   * The largest frame (type byte and payload) this side accepts, announced
   * to the peer in the handshake; a larger frame ends the connection. At
   * least 4096.
   *
   * @default {16777216}
   */
  maxFrameSize?: number;
  /**
   * Milliseconds the peer has to send its handshake; `0` for no limit.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * Milliseconds one write may wait for the peer to read before the
   * connection is closed; `0` for no limit.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * How many errors `errors` keeps for a reader; beyond that the oldest are
   * dropped (and counted).
   *
   * @default {100}
   */
  errorBuffer?: number;
}
