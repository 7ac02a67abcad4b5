/**
 * Errors the channels throw.
 *
 * @module
 */

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
export class ChannelClosedError extends Error {
  /**
   * Makes an error.
   *
   * @param message What could not be done: `Cannot <action>: <detail>`.
   * @param options `cause`, the underlying error, if any.
   */
  constructor(
    message: string = "Cannot use channel: channel is closed",
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ChannelClosedError";
  }
}
