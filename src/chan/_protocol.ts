// Internal: the constants of the wire protocol (docs/protocol.md, versions 1 and 2).
import type { ChanProtocolErrorCode, ImportRefusedCode } from "./errors.ts";

/** The highest protocol version this code speaks (it speaks 1 too). */
export const VERSION = 2;
/** The first four bytes of every connection: "NKCH". */
export const MAGIC: readonly number[] = [0x4e, 0x4b, 0x43, 0x48];
/** Preamble: magic (4), version u16, role u8, flags u8, max frame size u32. */
export const PREAMBLE_SIZE = 12;
/** The preamble's role byte. */
export const ROLE_EXPORTER = 1;
/** The preamble's role byte. */
export const ROLE_IMPORTER = 2;

/** No side may announce a maximum frame size below this. */
export const MIN_FRAME_SIZE = 4096;
/** The default maximum frame size (a frame's body: type byte and payload). */
export const DEFAULT_MAX_FRAME_SIZE: number = 16 * 1024 * 1024;
/** The largest maximum frame size one may configure. */
export const MAX_FRAME_SIZE_LIMIT: number = 1024 * 1024 * 1024;

// Frame types.
export const T_OPEN = 1;
export const T_OPENED = 2;
export const T_REFUSE = 3;
export const T_DATA = 4;
export const T_CREDIT = 5;
export const T_CLOSE = 6;
export const T_ACK = 7;
export const T_GOAWAY = 8;

/** OPEN's direction byte: the importer receives. */
export const WIRE_RECV = 1;
/** OPEN's direction byte: the importer sends. */
export const WIRE_SEND = 2;

/** The longest channel name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;
/** The longest message in REFUSE and GOAWAY, in UTF-8 bytes. */
export const MAX_MESSAGE_BYTES = 1024;
/** The largest count an OPEN may carry (`-1` means no limit). */
export const MAX_COUNT: number = Number.MAX_SAFE_INTEGER;
/** The largest credit window or CREDIT increment. */
export const MAX_WINDOW: number = 0xffffffff;

/** REFUSE codes on the wire: index + 1. */
export const REFUSE_CODES: readonly ImportRefusedCode[] = [
  "no-such-channel",
  "wrong-direction",
  "too-many-channels",
  "bad-request",
];

/** GOAWAY codes on the wire: index + 1. */
export const GOAWAY_CODES: readonly ChanProtocolErrorCode[] = [
  "bad-handshake",
  "version",
  "handshake-timeout",
  "frame-too-large",
  "malformed-frame",
  "unknown-frame",
  "unexpected-frame",
  "unknown-channel",
  "duplicate-channel",
  "credit",
  "ack",
  "truncated",
  "not-reading",
  "goaway",
  "over-budget",
  "idle-timeout",
  "frame-timeout",
];

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const looseDecoder = new TextDecoder("utf-8");

/** UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decodes UTF-8 strictly; `null` if invalid. */
export function strictUtf8(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

/** Decodes UTF-8, replacing invalid sequences. */
export function looseUtf8(bytes: Uint8Array): string {
  return looseDecoder.decode(bytes);
}

/** UTF-8 bytes of `s`, cut to at most `max` bytes on a character boundary. */
export function utf8Cut(s: string, max: number): Uint8Array {
  const bytes = encoder.encode(s);
  if (bytes.byteLength <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
