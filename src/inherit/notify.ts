/**
 * `notify()`: the sd_notify protocol, telling systemd (or any supervisor that
 * sets `NOTIFY_SOCKET`) that the service is ready, reloading or stopping.
 *
 * @module
 */
import { os } from "../runtime/_internal.ts";
import { NotifyError } from "./errors.ts";

/** What {@linkcode notify} tells the supervisor; each field set adds one line. */
export interface NotifyState {
  /** `READY=1`: startup (or a reload) is finished. */
  ready?: boolean;
  /** `RELOADING=1`: a reload starts (`Type=notify-reload` also wants `MONOTONIC_USEC` in `fields`). */
  reloading?: boolean;
  /** `STOPPING=1`: shutdown starts. */
  stopping?: boolean;
  /** `STATUS=…`: a one-line status for `systemctl status`. */
  status?: string;
  /** `MAINPID=…`: the service's main process is now this pid (after an upgrade). */
  mainPid?: number;
  /** `WATCHDOG=1`: a keep-alive ping. */
  watchdog?: boolean;
  /** More `KEY=VALUE` lines, as given. */
  fields?: Record<string, string>;
}

function line(key: string, value: string): string {
  if (!/^[A-Z0-9_]+$/.test(key)) {
    throw new TypeError(
      `Cannot notify: field names are upper-case letters, digits and _, received ${key}`,
    );
  }
  if (value.includes("\n")) {
    throw new TypeError(`Cannot notify: ${key} must not contain a newline`);
  }
  return `${key}=${value}\n`;
}

/**
 * Sends an sd_notify message to the socket named by `NOTIFY_SOCKET` (a path
 * or an abstract `@name`).
 *
 * What each runtime uses:
 * - Deno with `--unstable-net`: `Deno.listenDatagram` (paths only; needs
 *   read and write permission for a temporary socket in the temp directory);
 * - Bun: libc's `sendto` through `bun:ffi` (no flag needed);
 * - Node, and Deno without `--unstable-net`: the `systemd-notify --no-block`
 *   command. Its messages come from another pid, so systemd needs
 *   `NotifyAccess=all` for them.
 *
 * @param state What to tell.
 * @returns `true` if the message was sent; `false` if `NOTIFY_SOCKET` is not
 * set or this runtime has no way to send (no `systemd-notify`).
 * @throws {NotifyError} If sending failed (no such socket, …).
 * @throws {TypeError} If a field has a bad name or a newline in its value.
 *
 * @example Telling systemd the service is up
 * ```ts
 * import { notify } from "@netkit/netkit/inherit";
 *
 * const sent = await notify({ ready: true, status: "serving on :8080" });
 * console.log(sent); // false unless started by systemd with Type=notify
 * ```
 */
export async function notify(state: NotifyState): Promise<boolean> {
  if (state === null || typeof state !== "object") {
    throw new TypeError("Cannot notify: state must be an object");
  }
  let message = "";
  if (state.ready) message += "READY=1\n";
  if (state.reloading) message += "RELOADING=1\n";
  if (state.stopping) message += "STOPPING=1\n";
  if (state.watchdog) message += "WATCHDOG=1\n";
  if (state.status !== undefined) message += line("STATUS", String(state.status));
  if (state.mainPid !== undefined) {
    if (!Number.isInteger(state.mainPid) || state.mainPid <= 0) {
      throw new RangeError(
        `Cannot notify: mainPid must be a positive integer, received ${state.mainPid}`,
      );
    }
    message += `MAINPID=${state.mainPid}\n`;
  }
  for (const [k, v] of Object.entries(state.fields ?? {})) message += line(k, String(v));
  const socket = os.getEnv("NOTIFY_SOCKET");
  if (socket === undefined || socket === "" || message === "") return false;
  try {
    return await os.sendNotify(socket, message);
  } catch (err) {
    throw new NotifyError((err as Error).message, { cause: err });
  }
}
