// Internal: the option and argument checks the exporter and the importer share.
import { checkInteger, MAX_INT32 } from "../_util/validate.ts";
import { Channel } from "./channel.ts";
import { bytesCodec, type Codec, jsonCodec } from "./codec.ts";
import type { Dir } from "./dir.ts";
import type { StandardSchemaV1 } from "./standard_schema.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  MAX_FRAME_SIZE_LIMIT,
  MAX_NAME_BYTES,
  MIN_FRAME_SIZE,
  utf8,
} from "./_protocol.ts";
import type { SessionConfig } from "./_session.ts";
import type { ChannelOptions, ConnectionOptions } from "./options.ts";

/** Checks that `options` is an object or undefined. */
export function checkObject(options: unknown, action: string): void {
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new TypeError(`Cannot ${action}: options must be an object, received ${String(options)}`);
  }
}

/** Checks an integer option in [min, max]. */
export function intOption(
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  what: string,
  action: string,
): number {
  return checkInteger(value, action, what, { min, max, fallback });
}

/** The session settings from `options`. */
export function sessionConfig(options: ConnectionOptions | undefined, action: string): {
  config: SessionConfig;
  errorBuffer: number;
} {
  checkObject(options, action);
  const o = options ?? {};
  return {
    config: {
      maxFrameSize: intOption(
        o.maxFrameSize,
        DEFAULT_MAX_FRAME_SIZE,
        MIN_FRAME_SIZE,
        MAX_FRAME_SIZE_LIMIT,
        "maxFrameSize",
        action,
      ),
      handshakeTimeout: intOption(
        o.handshakeTimeout,
        10_000,
        0,
        MAX_INT32,
        "handshakeTimeout",
        action,
      ),
      writeTimeout: intOption(o.writeTimeout, 30_000, 0, MAX_INT32, "writeTimeout", action),
      maxConnectionBytes: Infinity,
    },
    errorBuffer: intOption(o.errorBuffer, 100, 1, MAX_INT32, "errorBuffer", action),
  };
}

/** Checks a channel name; returns its UTF-8 bytes. */
export function checkName(name: unknown, action: string): Uint8Array {
  if (typeof name !== "string") {
    throw new TypeError(`Cannot ${action}: name must be a string, received ${typeof name}`);
  }
  const bytes = utf8(name);
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_NAME_BYTES) {
    throw new RangeError(
      `Cannot ${action}: name must be 1 to ${MAX_NAME_BYTES} UTF-8 bytes, received ${bytes.byteLength}`,
    );
  }
  return bytes;
}

/** Checks a channel argument. */
export function checkChannel(channel: unknown, action: string): void {
  if (!(channel instanceof Channel)) {
    throw new TypeError(`Cannot ${action}: channel must be a Channel, received ${String(channel)}`);
  }
}

/** Checks a direction argument. */
export function checkDir(dir: unknown, action: string): Dir {
  if (dir !== "send" && dir !== "recv") {
    throw new TypeError(
      `Cannot ${action}: dir must be Dir.Send ("send") or Dir.Recv ("recv"), received ${
        String(dir)
      }`,
    );
  }
  return dir;
}

/** The codec and schema of a channel's options. */
export function channelOptions<T>(
  options: ChannelOptions<T> | undefined,
  action: string,
): { codec: Codec<unknown>; schema: StandardSchemaV1<unknown, unknown> | undefined } {
  checkObject(options, action);
  const c = options?.codec;
  let codec: Codec<unknown>;
  if (c === undefined || c === "json") codec = jsonCodec;
  else if (c === "bytes") codec = bytesCodec as Codec<unknown>;
  else if (
    c !== null && typeof c === "object" && typeof c.encode === "function" &&
    typeof c.decode === "function"
  ) codec = c as Codec<unknown>;
  else {
    throw new TypeError(
      `Cannot ${action}: codec must be "json", "bytes" or { encode, decode }, received ${
        String(c)
      }`,
    );
  }
  const s = options?.schema;
  if (
    s !== undefined &&
    (s === null || typeof s !== "object" && typeof s !== "function" ||
      typeof (s as StandardSchemaV1)["~standard"]?.validate !== "function")
  ) {
    throw new TypeError(`Cannot ${action}: schema must implement Standard Schema v1`);
  }
  return { codec, schema: s as StandardSchemaV1<unknown, unknown> | undefined };
}
