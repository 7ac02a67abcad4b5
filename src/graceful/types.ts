/**
 * Types shared by the graceful listener and graceful HTTP.
 *
 * @module
 */

/**
 * Where a tracked connection is in its life:
 * - `"idle"`: open, between requests: a drain closes it at once;
 * - `"in-use"`: open, busy, or fresh (just accepted: see
 *   {@linkcode GracefulOptions.grace}): a drain waits for it to become idle;
 * - `"disowned"`: open, no longer tracked (e.g. upgraded to WebSocket): a
 *   drain neither waits for it nor closes it;
 * - `"closed"`: closed.
 */
export type GracefulConnState = "idle" | "in-use" | "disowned" | "closed";

/**
 * Counts of a graceful listener's (or server's) connections, exact at the
 * time they are read. `total` is `idle + inUse + disowned` (the connections
 * open now) and `accepted` is `total + closed`.
 */
export interface GracefulStats {
  /** Open and idle: a drain closes them at once. */
  readonly idle: number;
  /** Open and in use, fresh ones included: a drain waits for them. */
  readonly inUse: number;
  /**
   * Of `inUse`, how many are fresh: accepted, not read from yet (no request
   * yet, for {@linkcode gracefulHttp}), within their grace period.
   */
  readonly fresh: number;
  /** Open, and no longer tracked (a drain leaves them alone). */
  readonly disowned: number;
  /** Open now: `idle + inUse + disowned`. */
  readonly total: number;
  /** Accepted since tracking started. */
  readonly accepted: number;
  /** Closed since tracking started (by anyone, including a drain). */
  readonly closed: number;
}

/** Options of a drain or a shutdown. */
export interface GracefulDrainOptions {
  /**
   * Milliseconds to wait. When they pass, the connections still open are
   * force-closed and the call rejects with `DrainTimeoutError`.
   * @default {Infinity}
   */
  timeout?: number;
  /**
   * Ends the wait early, like `timeout`: the connections still open are
   * force-closed and the call rejects with `DrainTimeoutError` (its `cause`
   * is the signal's reason).
   */
  signal?: AbortSignal;
}

/**
 * How a {@linkcode GracefulListener}'s connections change state (goji's
 * modes), once they are no longer fresh (see {@linkcode GracefulOptions.grace}):
 * - `Mode.Manual`: only `markIdle()` and `markInUse()` change it;
 * - `Mode.Automatic`: a read that brings data marks the connection in use;
 *   the caller marks it idle;
 * - `Mode.Deadline`: like Automatic, and setting a read deadline also marks
 *   it idle, which is what an HTTP server does between requests.
 */
export type Mode = "manual" | "automatic" | "deadline";

/**
 * The {@linkcode Mode} values, by goji's names.
 *
 * @example Choosing a mode
 * ```ts
 * import { Mode } from "@netkit/netkit/graceful";
 *
 * console.log(Mode.Manual, Mode.Automatic, Mode.Deadline); // "manual" "automatic" "deadline"
 * ```
 */
export const Mode: {
  /** Only `markIdle()` and `markInUse()` change a connection's state. */
  readonly Manual: "manual";
  /** A read that brings data marks the connection in use. */
  readonly Automatic: "automatic";
  /** Like Automatic; setting a read deadline also marks the connection idle. */
  readonly Deadline: "deadline";
} = Object.freeze({ Manual: "manual", Automatic: "automatic", Deadline: "deadline" });

/** Options of {@linkcode wrap}. */
export interface GracefulOptions {
  /**
   * How connections change state.
   * @default {Mode.Automatic}
   */
  mode?: Mode;
  /**
   * Milliseconds a freshly accepted connection counts as in use before its
   * first read (golang/go#22682): the client may have sent its request
   * already, so `closeIdle()` and `drain()` must not close it unread.
   *
   * A connection is fresh from `accept()` until, in every mode:
   * - its first read returns: with data it is then in use in Automatic and
   *   Deadline mode, and in Manual mode in the state `markIdle()` /
   *   `markInUse()` gave it (idle if neither was called); with EOF or an
   *   error it is idle (unless marked in use in Manual mode);
   * - or `grace` ms pass without such a read: it turns idle (a drain under
   *   way then closes it), unless marked in use in Manual mode;
   * - or it is disowned or closed.
   *
   * While fresh it is `"in-use"` (`stats.inUse` and `stats.fresh` count
   * it), and a drain waits for it. `markIdle()` and setting a read deadline
   * (Deadline mode) do not end freshness (a server marks idle before each
   * read, the first one included); `markInUse()` makes it stay in use once
   * fresh no more. When a drain starts, the connections the runtime had
   * already accepted (node:net and Bun accept eagerly) are still handed out
   * by `accept()`, fresh, instead of being reset.
   *
   * `0` turns this off: connections start idle, as in goji, and a drain
   * closes them (and those the runtime had accepted) at once.
   * @default {5000}
   */
  grace?: number;
}
