// Internal: argument checks shared by every adapter (runtimes silently ignore
// options they do not know, so the adapter validates). Runtime-free.
import { checkBacklog } from "./_base_listener.ts";
import type { ConnectOptions, ListenOptions } from "./types.ts";

function checkPort(port: unknown, action: string, allowZero: boolean): void {
  if (
    typeof port !== "number" || !Number.isInteger(port) || port < (allowZero ? 0 : 1) ||
    port > 65535
  ) {
    throw new RangeError(
      `Cannot ${action}: port must be an integer from ${allowZero ? 0 : 1} to 65535, received ${
        String(port)
      }`,
    );
  }
}

function checkObject(options: unknown, action: string): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot ${action}: options must be an object, received ${String(options)}`);
  }
}

/** Throws TypeError/RangeError for listen options no adapter can honour. */
export function validateListen(options: ListenOptions): void {
  checkObject(options, "listen");
  checkBacklog(options.backlog);
  if ("fd" in options) {
    const fd = options.fd;
    if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) {
      throw new RangeError(
        `Cannot listen: fd must be a non-negative integer, received ${String(fd)}`,
      );
    }
  } else if ("path" in options) {
    if (typeof options.path !== "string" || options.path === "") {
      throw new TypeError("Cannot listen: path must be a non-empty string");
    }
  } else {
    if (options.hostname !== undefined && typeof options.hostname !== "string") {
      throw new TypeError("Cannot listen: hostname must be a string");
    }
    if (options.port !== undefined) checkPort(options.port, "listen", true);
  }
}

/** Throws TypeError/RangeError for connect options no adapter can honour. */
export function validateConnect(options: ConnectOptions): void {
  checkObject(options, "connect");
  if ("path" in options) {
    if (typeof options.path !== "string" || options.path === "") {
      throw new TypeError("Cannot connect: path must be a non-empty string");
    }
  } else {
    if (options.hostname !== undefined && typeof options.hostname !== "string") {
      throw new TypeError("Cannot connect: hostname must be a string");
    }
    checkPort(options.port, "connect", false);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError("Cannot connect: signal must be an AbortSignal");
  }
}
