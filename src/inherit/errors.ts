/**
 * Errors of the inherit module.
 *
 * @module
 */
import { NetkitError } from "../_util/errors.ts";

/**
 * No inherited listener has the name asked for (or it is already in use).
 *
 * @example Falling back when systemd did not pass a socket
 * ```ts
 * import { NotInheritedError } from "@netkit/netkit/inherit";
 *
 * const err = new NotInheritedError('Cannot listen: no inherited listener is named "web"');
 * console.log(err instanceof NotInheritedError, err.name); // true "NotInheritedError"
 * ```
 */
export class NotInheritedError extends NetkitError {}

/**
 * The inheritance variables are malformed: `LISTEN_FDS` (or einhorn's
 * `EINHORN_FD_COUNT`, `EINHORN_FD_<i>`, `EINHORN_FDS`) is not a plain decimal
 * number, or claims more fds than netkit takes (4096). The message names the
 * variable. Thrown by `new Net()` after the variables were unset, so a
 * second `new Net()` starts with nothing inherited.
 *
 * @example Telling a bad environment apart
 * ```ts
 * import { InheritanceError } from "@netkit/netkit/inherit";
 *
 * const err = new InheritanceError('Cannot inherit: LISTEN_FDS must be a decimal number from 0 to 4096, received "0x1"');
 * console.log(err.name); // "InheritanceError"
 * ```
 */
export class InheritanceError extends NetkitError {}

/** Why an upgrade failed: see {@linkcode UpgradeError.reason}. */
export type UpgradeFailure =
  | "closed"
  | "not-ready"
  | "busy"
  | "done"
  | "spawn"
  | "exited"
  | "timeout";

/**
 * An upgrade did not happen. The current process goes on serving as before;
 * `reason` tells why:
 * - `"closed"`: the upgrader was closed (before or during the upgrade);
 * - `"not-ready"`: `ready()` was not called yet;
 * - `"busy"`: another upgrade is in progress;
 * - `"done"`: a successor has already taken over;
 * - `"spawn"`: the successor could not be started;
 * - `"exited"`: the successor exited before it was ready;
 * - `"timeout"`: the successor was not ready in time and was killed.
 *
 * @example Telling a crashed successor from a slow one
 * ```ts
 * import { UpgradeError } from "@netkit/netkit/inherit";
 *
 * const err = new UpgradeError("Cannot upgrade: the successor exited with code 1", "exited");
 * console.log(err.reason); // "exited"
 * ```
 */
export class UpgradeError extends NetkitError {
  /** Why the upgrade failed. */
  readonly reason: UpgradeFailure;

  /**
   * Makes an error.
   * @param message What could not be done: `Cannot upgrade: <detail>`.
   * @param reason Why.
   * @param options `cause`.
   */
  constructor(message: string, reason: UpgradeFailure, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * An sd_notify message could not be sent to `NOTIFY_SOCKET`.
 *
 * @example
 * ```ts
 * import { NotifyError } from "@netkit/netkit/inherit";
 *
 * const err = new NotifyError("Cannot notify: /run/x.sock: No such file or directory");
 * console.log(err.name); // "NotifyError"
 * ```
 */
export class NotifyError extends NetkitError {}
