// Internal: what the push-based conns (node:net, Bun) share on top of
// BaseConn: the queue their socket pushes into, the socket's first error
// (mapped on first use), and the writes waiting for 'drain'. Runtime-free:
// the subclass wires its socket's events to the `_on*` methods.
import { BaseConn } from "./_base_conn.ts";
import { ChunkQueue, type Pausable } from "./_chunk_queue.ts";
import { ClosedError } from "./errors.ts";
import { mapEventError } from "./_map_error.ts";
import type { Addr, ReadReadiness } from "./types.ts";

/**
 * The error a read fails with once the conn is closed: passed to
 * `ChunkQueue.fail()` as a function, so it is made only if a read needs it.
 */
export function closedForRead(): Error {
  return new ClosedError("Cannot read: the connection is closed");
}

/** A Unix socket address. */
export function unixAddr(path: string): Addr {
  return { transport: "unix", path };
}

/** A TCP address from what a runtime reports (either part may be missing). */
export function tcpAddr(hostname: string | undefined, port: number | undefined): Addr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}

/** What a node:net or Bun socket reports of its addresses. */
interface SocketAddrs {
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

/**
 * A conn's local and remote address: the paths of a Unix socket (`unix`),
 * else TCP ones, the local one `local` where the caller knows it (a
 * listener bound to one address: saves a getsockname per accept). The
 * remote one is read now on purpose: once the peer resets the conn, node:net
 * and Bun have closed the handle and it could not be read any more.
 */
export function connAddrs(
  socket: SocketAddrs,
  unix: [local: string, remote: string] | undefined,
  local: Addr | undefined,
): [local: Addr, remote: Addr] {
  if (unix !== undefined) return [unixAddr(unix[0]), unixAddr(unix[1])];
  return [
    local !== undefined ? { ...local } : tcpAddr(socket.localAddress, socket.localPort),
    tcpAddr(socket.remoteAddress, socket.remotePort),
  ];
}

/** Hostnames a listener may be bound to that stand for any local address. */
const WILDCARD = new Set(["", "0.0.0.0", "::", "::0", "0:0:0:0:0:0:0:0"]);

/**
 * The local address of every conn a listener at `addr` accepts, where that
 * is the listener's own (bound to one address), else `undefined` (ask the
 * socket): saves a getsockname per accept.
 */
export function boundLocal(addr: Addr): Addr | undefined {
  return addr.transport === "tcp" && !WILDCARD.has(addr.hostname) ? addr : undefined;
}

/** A {@linkcode BaseConn} whose reads are served from a {@linkcode ChunkQueue}. */
export abstract class QueuedConn extends BaseConn {
  /** What the socket pushed and nobody read yet. */
  protected readonly _chunks: ChunkQueue;
  /** Writes waiting for 'drain' (made when the first one waits). */
  #drainWaiters: (() => void)[] | null = null;
  #rawError: Error | null = null;
  #mapped: Error | null = null;

  /**
   * `socket`'s `pause()` and `resume()` stop and restart its reading;
   * `flowing`: it is not paused now.
   */
  constructor(socket: Pausable, flowing = false) {
    super();
    this._chunks = new ChunkQueue(socket, flowing);
    this._queue = this._chunks;
  }

  /** Whether the socket failed. */
  protected get _failed(): boolean {
    return this.#rawError !== null;
  }

  /** The socket's error as a netkit error (no stack: see mapEventError), made on first use. */
  protected _failure(): Error | null {
    if (this.#rawError === null) return null;
    this.#mapped ??= mapEventError(this.#rawError, "use the connection");
    return this.#mapped;
  }

  /** The socket failed: reads after the queued bytes and waiting writes fail. */
  protected _onError(err: Error): void {
    this.#rawError ??= err;
    this._chunks.fail(() => this._failure()!);
    this._wakeWriters();
  }

  /** Calls `fn` at the next 'drain' (or error, or close). */
  protected _whenDrained(fn: () => void): void {
    (this.#drainWaiters ??= []).push(fn);
  }

  /** 'drain' (or an error or close): every waiting write looks again. */
  protected _wakeWriters(): void {
    const waiters = this.#drainWaiters;
    if (waiters === null || waiters.length === 0) return;
    this.#drainWaiters = null;
    for (const fn of waiters) fn();
  }

  protected override _watchReadable(
    fire: ((state: ReadReadiness) => void) | null,
    edge: boolean,
  ): void {
    this._chunks.watch(fire, edge);
  }
}
