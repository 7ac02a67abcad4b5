// Runtime-free shared tier: the root of every error class netkit exports.
// No Deno.*, Bun.* or node:* here; every module may import this file.

/**
 * The root of every error netkit throws on purpose: the runtime's
 * {@linkcode NetError} family and each module's own errors (chan, graceful,
 * poll, inherit, http) extend it, so one `instanceof NetkitError` tells a
 * netkit error from any other. `name` is the class's name (a subclass's
 * own, with no code of its own); `cause` is passed through.
 *
 * @example Telling netkit's errors from others
 * ```ts
 * import { NetkitError, TimeoutError } from "@netkit/netkit/runtime";
 *
 * const err = new TimeoutError("Cannot read: deadline exceeded");
 * console.log(err instanceof NetkitError, err.name); // true "TimeoutError"
 * ```
 */
export class NetkitError extends Error {
  /**
   * Makes an error.
   * @param message What could not be done: `Cannot <action>: <detail>`.
   * @param options `cause`, the error that led to this one.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}
