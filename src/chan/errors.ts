/**
 * Errors the channels throw.
 *
 * @module
 */
import { NetkitError } from "../_util/errors.ts";

/**
 * The channel is closed: a send on a closed channel (Go panics there), or a
 * receive on a channel that is closed and drained.
 *
 * @example Detecting a closed channel
 * ```ts
 * import { Channel, ChannelClosedError } from "@netkit/netkit/chan";
 *
 * const ch = new Channel<number>();
 * ch.close();
 * try {
 *   await ch.send(1);
 * } catch (err) {
 *   console.log(err instanceof ChannelClosedError); // true
 * }
 * ```
 */
export class ChannelClosedError extends NetkitError {
  /** Makes an error; `message` defaults to `Cannot use channel: channel is closed`. */
  constructor(message: string = "Cannot use channel: channel is closed", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * What a peer did wrong, in {@linkcode ChanProtocolError.code}:
 *
 * - `"bad-handshake"`: the connection did not start with a valid netkit
 *   channel preamble (garbage, or the wrong role: two exporters).
 * - `"version"`: the peer speaks no protocol version this side speaks.
 * - `"handshake-timeout"`: the peer sent no preamble in time.
 * - `"frame-too-large"`: a frame's length is over the maximum frame size.
 * - `"malformed-frame"`: a frame's length or fields do not fit its type.
 * - `"unknown-frame"`: a frame type this version does not define.
 * - `"unexpected-frame"`: a frame this side's role never receives, or one
 *   that does not fit the channel's state or direction.
 * - `"unknown-channel"`: a frame names a channel id that is not open.
 * - `"duplicate-channel"`: the importer reused an open channel id.
 * - `"credit"`: values beyond the credits granted, or credits for values
 *   that were never sent.
 * - `"ack"`: an acknowledgement of values that were never sent.
 * - `"truncated"`: the connection ended in the middle of a frame.
 * - `"not-reading"`: the peer stopped reading (a write waited longer than
 *   the write timeout, or replies piled up unread).
 * - `"goaway"`: the peer closed the connection because it found this side
 *   at fault; the message carries its reason.
 * - `"over-budget"`: the connection held the most bytes when the exporter
 *   went over its `maxTotalBytes`.
 * - `"idle-timeout"`: the connection had no channel open for the exporter's
 *   `idleTimeout`.
 * - `"frame-timeout"`: a frame's body did not arrive within the exporter's
 *   `frameTimeout`.
 */
export type ChanProtocolErrorCode =
  | "bad-handshake"
  | "version"
  | "handshake-timeout"
  | "frame-too-large"
  | "malformed-frame"
  | "unknown-frame"
  | "unexpected-frame"
  | "unknown-channel"
  | "duplicate-channel"
  | "credit"
  | "ack"
  | "truncated"
  | "not-reading"
  | "goaway"
  | "over-budget"
  | "idle-timeout"
  | "frame-timeout";

/**
 * A peer broke the networked channel protocol, or stopped taking part in it
 * (no handshake, no reading). The connection to that one peer is closed;
 * the {@linkcode Exporter} goes on serving the others. Reported on
 * `errors`, never thrown out of `serve()`.
 *
 * @example Telling protocol errors apart
 * ```ts
 * import { ChanProtocolError } from "@netkit/netkit/chan";
 *
 * const err = new ChanProtocolError("Cannot serve connection: no preamble", {
 *   code: "handshake-timeout",
 * });
 * console.log(err.name, err.code); // "ChanProtocolError" "handshake-timeout"
 * ```
 */
export class ChanProtocolError extends NetkitError {
  /** What the peer did wrong. */
  readonly code: ChanProtocolErrorCode;

  /**
   * Makes an error.
   *
   * @param message What could not be done: `Cannot <action>: <detail>`.
   * @param options `code`, what the peer did wrong, and `cause`.
   */
  constructor(message: string, options: { code: ChanProtocolErrorCode; cause?: unknown }) {
    super(message, options);
    this.code = options.code;
  }
}

/**
 * Why an exporter refused an import, in {@linkcode ImportRefusedError.code}:
 * no channel is exported under the name (`"no-such-channel"`), it is
 * exported in the same direction (`"wrong-direction"`: an exporter's
 * `Send` pairs with an importer's `Recv`), the connection has too many
 * channels open (`"too-many-channels"`), or the request is invalid
 * (`"bad-request"`).
 */
export type ImportRefusedCode =
  | "no-such-channel"
  | "wrong-direction"
  | "too-many-channels"
  | "bad-request";

/**
 * The exporter refused an {@linkcode Importer.import}: the import's promise
 * rejects with it. Only that request fails; the connection stays up.
 *
 * @example Importing a name nobody exports
 * ```ts ignore
 * import { Channel, Dir, Importer, ImportRefusedError } from "@netkit/netkit/chan";
 *
 * await using importer = await Importer.connect({ port: 9000 });
 * try {
 *   await importer.import("nope", new Channel<number>(), Dir.Recv, 16);
 * } catch (err) {
 *   if (err instanceof ImportRefusedError) console.log(err.code); // "no-such-channel"
 * }
 * ```
 */
export class ImportRefusedError extends NetkitError {
  /** Why the exporter refused. */
  readonly code: ImportRefusedCode;

  /**
   * Makes an error.
   *
   * @param message What could not be done: `Cannot <action>: <detail>`.
   * @param options `code`, why the exporter refused, and `cause`.
   */
  constructor(message: string, options: { code: ImportRefusedCode; cause?: unknown }) {
    super(message, options);
    this.code = options.code;
  }
}

/**
 * One issue a Standard Schema validator found: a message and, if the
 * validator tells, where in the value.
 */
export interface ChanValueIssue {
  /** What is wrong. */
  readonly message: string;
  /** Where in the value, as property keys (or `{ key }` segments). */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/**
 * One value could not cross the network: it failed to encode (`"encode"`),
 * encoded to more bytes than the peer's maximum frame (`"too-large"`), failed
 * to decode (`"decode"`), or was rejected by the channel's schema
 * (`"validate"`). The value is dropped, its credit returned, and the channel
 * goes on: nothing stalls. Reported on `errors`.
 */
export type ChanValueStage = "encode" | "too-large" | "decode" | "validate";

/**
 * A value was dropped on its way through a networked channel (see
 * {@linkcode ChanValueStage}). Reported on the `errors` of the side that
 * dropped it.
 *
 * @example Reading the details
 * ```ts
 * import { ChanValueError } from "@netkit/netkit/chan";
 *
 * const err = new ChanValueError('Cannot receive on "prices": invalid value', {
 *   channel: "prices",
 *   stage: "validate",
 *   issues: [{ message: "Expected number", path: ["price"] }],
 * });
 * console.log(err.stage, err.issues?.[0].message); // "validate" "Expected number"
 * ```
 */
export class ChanValueError extends NetkitError {
  /** The channel's name. */
  readonly channel: string;
  /** Where the value failed. */
  readonly stage: ChanValueStage;
  /** The schema's issues, for `stage: "validate"`. */
  readonly issues: readonly ChanValueIssue[] | undefined;

  /**
   * Makes an error.
   *
   * @param message What could not be done: `Cannot <action>: <detail>`.
   * @param options The `channel` name, the `stage`, the schema's `issues`,
   *   and `cause`.
   */
  constructor(
    message: string,
    options: {
      channel: string;
      stage: ChanValueStage;
      issues?: readonly ChanValueIssue[];
      cause?: unknown;
    },
  ) {
    super(message, options);
    this.channel = options.channel;
    this.stage = options.stage;
    this.issues = options.issues;
  }
}
