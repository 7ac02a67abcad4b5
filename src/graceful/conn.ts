/**
 * The tracked connection a {@linkcode GracefulListener} hands out, and the
 * functions that change its state.
 *
 * Internals: the tracked conn is a `ConnWrapper` (every member forwards to
 * the conn it wraps) that overrides only what changes state (read, the read
 * deadline, close). The read and write hot paths return the wrapped conn's
 * own promise; only a read on a fresh conn, or on an idle conn in Automatic
 * or Deadline mode, adds a `then` (to end freshness, or to mark the conn in
 * use when data arrives).
 *
 * @module
 */
import { ClosedError, type Conn, ConnWrapper, type Deadline } from "../runtime/mod.ts";
import { NotManagedError } from "./errors.ts";
import { type Entry, newEntry, type Tracker } from "./_tracker.ts";
import type { GracefulConnState, Mode } from "./types.ts";

/**
 * A connection accepted through a {@linkcode GracefulListener}: a
 * {@linkcode Conn} whose state (idle, in use, disowned, closed) the listener
 * tracks, so that a drain can close it at the right time.
 *
 * Close it through this object (not through `native`), or the listener
 * believes it still open.
 */
export interface GracefulConn extends Conn {
  /** The state the listener sees: `"idle"`, `"in-use"`, `"disowned"` or `"closed"`. */
  readonly state: GracefulConnState;
  /**
   * Whether the connection is fresh: accepted, not read from yet, within
   * its grace period (see {@linkcode GracefulOptions.grace}). A fresh
   * connection is `"in-use"`.
   */
  readonly fresh: boolean;
  /**
   * Marks the connection idle: a drain closes it now (and closes it at once
   * if a drain is under way). No-op unless it is in use. On a fresh
   * connection it only says that it is idle once no longer fresh.
   */
  markIdle(): void;
  /**
   * Marks the connection in use: a drain waits for it. No-op unless it is
   * idle. A fresh connection stays in use once no longer fresh.
   */
  markInUse(): void;
  /**
   * Stops tracking the connection (e.g. after an upgrade to WebSocket): no
   * drain closes it or waits for it. It still counts in `stats.disowned`
   * until it is closed.
   */
  disown(): void;
}

/** Internal: what the tracker keeps for a {@linkcode TrackedConn}. */
export interface ConnEntry extends Entry {
  readonly conn: TrackedConn;
}

/**
 * Internal: the one implementation of {@linkcode GracefulConn}: a
 * {@linkcode ConnWrapper} that overrides only what changes state (read, the
 * read deadline, close, closed); its streams and `setDeadline()` go through
 * those overrides.
 */
export class TrackedConn extends ConnWrapper implements GracefulConn {
  readonly #tracker: Tracker<ConnEntry>;
  /** The tracker's record (state, freshness); the hot paths read it directly. */
  readonly #entry: ConnEntry;
  readonly #auto: boolean;
  readonly #deadline: boolean;
  /** One function per conn, made on first use, not one closure per read. */
  #afterIdle: ((n: number | null) => number | null) | undefined;

  constructor(inner: Conn, tracker: Tracker<ConnEntry>, mode: Mode) {
    // Pollers (poll module) see readiness through the base's forwarding; the
    // read they then make goes through read(), so it is tracked.
    super(inner);
    this.#tracker = tracker;
    this.#entry = newEntry({ conn: this });
    this.#auto = mode !== "manual";
    this.#deadline = mode === "deadline";
  }

  /** Starts tracking (fresh, or idle with a grace of 0); returns this conn. */
  track(): this {
    this.#tracker.add(this.#entry);
    return this;
  }

  get state(): GracefulConnState {
    this.#tracker.expire();
    return this.#entry.state;
  }

  get fresh(): boolean {
    this.#tracker.expire();
    return this.#entry.fresh;
  }

  override get closed(): boolean {
    return this.#entry.state === "closed" || this.inner.closed;
  }

  override read(buf: Uint8Array): Promise<number | null> {
    const entry = this.#entry;
    if (entry.fresh) {
      if (buf.byteLength === 0) return this.inner.read(buf);
      // The first read: data (or EOF, or an error) ends freshness.
      return this.inner.read(buf).then((n) => {
        this.#checkOpen();
        this.#tracker.settle(entry, this.#auto && n !== null && n > 0);
        return n;
      }, (err: unknown) => {
        this.#tracker.settle(entry, false);
        throw err;
      });
    }
    if (entry.state !== "idle" || !this.#auto) return this.inner.read(buf);
    return this.inner.read(buf).then(
      this.#afterIdle ??= (n) => {
        this.#checkOpen();
        if (n !== null && n > 0) this.#tracker.markInUse(entry);
        return n;
      },
    );
  }

  /**
   * A drain closed the conn after the data came but before the caller saw
   * it: drop the data, as goji does, so that no request starts that cannot
   * be answered.
   */
  #checkOpen(): void {
    if (this.#entry.state === "closed") {
      throw new ClosedError("Cannot read: the connection was closed by a drain");
    }
  }

  override close(): void {
    this.#tracker.gone(this.#entry);
    this.inner.close();
  }

  override setReadDeadline(deadline: Deadline): void {
    this.inner.setReadDeadline(deadline);
    if (this.#deadline) this.#tracker.markIdle(this.#entry);
  }

  markIdle(): void {
    this.#tracker.markIdle(this.#entry);
  }

  markInUse(): void {
    this.#tracker.markInUse(this.#entry);
  }

  disown(): void {
    this.#tracker.disown(this.#entry);
  }
}

function managed(conn: unknown, action: string): TrackedConn {
  if (conn instanceof TrackedConn) return conn;
  throw new NotManagedError(
    `Cannot ${action}: the connection was not accepted through a graceful listener`,
  );
}

/**
 * Marks a connection idle (goji's `MarkIdle`): a drain closes it now, and if
 * a drain is under way it is closed at once. No-op unless it is in use.
 *
 * @param conn A connection accepted through a {@linkcode GracefulListener}.
 * @throws {NotManagedError} If no graceful listener wrapped `conn`.
 *
 * @example Marking a connection idle between requests (Manual mode)
 * ```ts
 * import { markIdle, markInUse, Mode, wrap } from "@netkit/netkit/graceful";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * await using listener = wrap(await listen({ hostname: "127.0.0.1", port: 0 }), Mode.Manual);
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * const accepted = listener.accept();
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await using conn = await accepted;
 *
 * markInUse(conn); // a request starts
 * console.log(conn.state); // "in-use"
 * markIdle(conn); // the response is written
 * console.log(conn.state); // "idle"
 * ```
 */
export function markIdle(conn: Conn): void {
  managed(conn, "mark idle").markIdle();
}

/**
 * Marks a connection in use (goji's `MarkInUse`): a drain waits until it is
 * idle again. No-op unless it is idle.
 *
 * @param conn A connection accepted through a {@linkcode GracefulListener}.
 * @throws {NotManagedError} If no graceful listener wrapped `conn`.
 *
 * @example Keeping a connection open through a drain
 * ```ts
 * import { markIdle, markInUse, wrap } from "@netkit/netkit/graceful";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * const listener = wrap(await listen({ hostname: "127.0.0.1", port: 0 }));
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * const accepted = listener.accept();
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * const conn = await accepted;
 *
 * markInUse(conn);
 * const drained = listener.drain();
 * console.log(conn.closed); // false: the drain waits for it
 * markIdle(conn); // done: the drain closes it and resolves
 * await drained;
 * console.log(conn.closed); // true
 * ```
 */
export function markInUse(conn: Conn): void {
  managed(conn, "mark in use").markInUse();
}

/**
 * Stops tracking a connection (goji's `Disown`), e.g. once it was upgraded to
 * WebSocket: no drain closes it or waits for it. Close it yourself.
 *
 * @param conn A connection accepted through a {@linkcode GracefulListener}.
 * @throws {NotManagedError} If no graceful listener wrapped `conn`.
 *
 * @example A disowned connection survives drainAll()
 * ```ts
 * import { disown, wrap } from "@netkit/netkit/graceful";
 * import { connect, listen } from "@netkit/netkit/runtime";
 *
 * const listener = wrap(await listen({ hostname: "127.0.0.1", port: 0 }));
 * const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
 * const accepted = listener.accept();
 * await using client = await connect({ hostname: "127.0.0.1", port });
 * await using conn = await accepted;
 *
 * disown(conn);
 * await listener.drainAll();
 * console.log(conn.closed, listener.stats.disowned); // false 1
 * ```
 */
export function disown(conn: Conn): void {
  managed(conn, "disown").disown();
}
