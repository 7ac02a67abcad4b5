/**
 * Errors a poller throws: easygo's sentinel errors as classes.
 *
 * @module
 */
import { NetkitError } from "../_util/errors.ts";

/**
 * The poller is closed (easygo's `ErrClosed`): `start()`, `stop()` and
 * `resume()` after `close()` throw it.
 *
 * @example Using a closed poller
 * ```ts
 * import { createPoller, handleRead, PollerClosedError } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * const poller = createPoller();
 * await poller.close();
 * try {
 *   poller.start(handleRead(conn), () => {});
 * } catch (err) {
 *   console.log(err instanceof PollerClosedError); // true
 * }
 * ```
 */
export class PollerClosedError extends NetkitError {
  /** Makes an error; `message` defaults to `Cannot use poller: the poller is closed`. */
  constructor(message: string = "Cannot use poller: the poller is closed", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * The conn or listener is registered already (easygo's `ErrRegistered`):
 * a second `start()` for it throws this.
 *
 * @example Starting twice
 * ```ts
 * import { AlreadyRegisteredError, createPoller, handleRead } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * await using poller = createPoller();
 * poller.start(handleRead(conn), () => {});
 * try {
 *   poller.start(handleRead(conn), () => {});
 * } catch (err) {
 *   console.log(err instanceof AlreadyRegisteredError); // true
 * }
 * ```
 */
export class AlreadyRegisteredError extends NetkitError {
  /** Makes an error; `message` defaults to `Cannot start: the descriptor is registered already`. */
  constructor(
    message: string = "Cannot start: the descriptor is registered already",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The conn or listener is not registered (easygo's `ErrNotRegistered`):
 * `stop()` or `resume()` of a descriptor the poller does not watch.
 *
 * @example Stopping what was never started
 * ```ts
 * import { createPoller, handleRead, NotRegisteredError } from "@netkit/netkit/poll";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * await using conn = await connect({ hostname: "127.0.0.1", port });
 * await using poller = createPoller();
 * try {
 *   poller.stop(handleRead(conn));
 * } catch (err) {
 *   console.log(err instanceof NotRegisteredError); // true
 * }
 * ```
 */
export class NotRegisteredError extends NetkitError {
  /** Makes an error; `message` defaults to `Cannot use descriptor: it is not registered`. */
  constructor(
    message: string = "Cannot use descriptor: it is not registered",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
