/**
 * Errors the graceful module throws.
 *
 * @module
 */
import { NetkitError } from "../_util/errors.ts";

/**
 * `markIdle`, `markInUse` or `disown` got a connection that no
 * {@linkcode GracefulListener} wrapped (goji's `errNotManaged`).
 *
 * @example Marking a connection this module does not manage
 * ```ts
 * import { markIdle, NotManagedError } from "@netkit/netkit/graceful";
 * import type { Conn } from "@netkit/netkit/runtime";
 *
 * try {
 *   markIdle({} as Conn);
 * } catch (err) {
 *   console.log(err instanceof NotManagedError); // true
 * }
 * ```
 */
export class NotManagedError extends NetkitError {
  /** Makes an error; `message` defaults to the one for a connection no listener wrapped. */
  constructor(
    message: string = "Cannot track connection: it was not accepted through a graceful listener",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A drain or a shutdown ran out of time (its `timeout` passed or its
 * `signal` aborted): the connections still open were force-closed. `cut`
 * says how many.
 *
 * @example Reading how many connections were cut
 * ```ts
 * import { DrainTimeoutError } from "@netkit/netkit/graceful";
 *
 * const err = new DrainTimeoutError("Cannot drain: 2 connections still in use after 10 ms", {
 *   cut: 2,
 * });
 * console.log(err.name, err.cut); // "DrainTimeoutError" 2
 * ```
 */
export class DrainTimeoutError extends NetkitError {
  /** How many connections were still open and were force-closed. */
  readonly cut: number;

  /**
   * Makes an error.
   *
   * @param message What could not be done: `Cannot <action>: <detail>`.
   * @param options `cut` (how many connections were force-closed) and
   * `cause` (the abort reason, when a signal ended the wait).
   */
  constructor(message: string, options: { cut: number; cause?: unknown }) {
    super(message, options);
    this.cut = options.cut;
  }
}
