/**
 * How values become bytes on the wire: pluggable per channel.
 *
 * @module
 */

/**
 * Turns a channel's values into bytes and back. Both ends of a channel must
 * use the same codec (it is not negotiated). Plug in any serializer, e.g.
 * msgpackr's `pack`/`unpack` or cbor-x's `encode`/`decode`; netkit depends
 * on none of them.
 *
 * `encode` and `decode` run synchronously on the connection's path and may
 * throw: the value is then dropped and reported on `errors` as a
 * {@linkcode ChanValueError}. `decode` gets a view into netkit's read
 * buffer that is valid only during the call: copy the bytes if you keep
 * them.
 *
 * @typeParam T The channel's value type.
 *
 * @example A codec for numbers as 8-byte floats
 * ```ts
 * import type { Codec } from "@netkit/netkit/chan";
 *
 * const float64: Codec<number> = {
 *   encode: (n) => new Uint8Array(new Float64Array([n]).buffer),
 *   decode: (b) => new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(0, true),
 * };
 * console.log(float64.decode(float64.encode(1.5))); // 1.5
 * ```
 */
export interface Codec<T> {
  /** Encodes one value. */
  encode(value: T): Uint8Array;
  /** Decodes one value from a view that is valid only during the call. */
  decode(bytes: Uint8Array): T;
}

/** A codec, or the name of a built-in one. */
export type CodecOption<T> = Codec<T> | "json" | "bytes";

const encoder = new TextEncoder();
// Not fatal: twice as fast on V8; invalid UTF-8 becomes U+FFFD, as in `Response.json()`.
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/**
 * The default codec: JSON text in UTF-8. `undefined` travels as an empty
 * payload and comes back as `undefined`; everything else follows
 * `JSON.stringify` (so a `Date` arrives as a string, and a `BigInt` or a
 * cycle fails to encode).
 *
 * @example Round trip
 * ```ts
 * import { jsonCodec } from "@netkit/netkit/chan";
 *
 * const bytes = jsonCodec.encode({ id: 1, name: "a" });
 * console.log(jsonCodec.decode(bytes)); // { id: 1, name: "a" }
 * ```
 */
// deno-lint-ignore no-explicit-any
export const jsonCodec: Codec<any> = Object.freeze({
  encode(value: unknown): Uint8Array {
    const text = JSON.stringify(value);
    return text === undefined ? EMPTY : encoder.encode(text);
  },
  decode(bytes: Uint8Array): unknown {
    return bytes.byteLength === 0 ? undefined : JSON.parse(decoder.decode(bytes));
  },
});

/**
 * The codec for raw bytes: a `Uint8Array` is sent as it is, and received as
 * a copy that the receiver owns.
 *
 * @example Round trip
 * ```ts
 * import { bytesCodec } from "@netkit/netkit/chan";
 *
 * const payload = new Uint8Array([1, 2, 3]);
 * console.log(bytesCodec.decode(bytesCodec.encode(payload))); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export const bytesCodec: Codec<Uint8Array> = Object.freeze({
  encode(value: Uint8Array): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot encode value: the bytes codec takes a Uint8Array, received ${typeof value}`,
      );
    }
    return value;
  },
  decode(bytes: Uint8Array): Uint8Array {
    return bytes.slice();
  },
});
