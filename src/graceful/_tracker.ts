// Internal: the connection state machine shared by GracefulListener (netkit
// conns) and gracefulHttp (node:http sockets): idle / in-use / disowned /
// closed, exact counters, and drain with a timeout. Runtime-free.
import { DrainTimeoutError } from "./errors.ts";
import type { GracefulConnState, GracefulDrainOptions, GracefulStats } from "./types.ts";

/** Something tracked: the tracker keeps its state here. */
export interface Entry {
  state: GracefulConnState;
}

function plural(n: number): string {
  return n === 1 ? "1 connection" : `${n} connections`;
}

/** Validates drain options; returns the timeout (Infinity for none) and signal. */
export function checkDrainOptions(
  options: unknown,
  action: string,
): [timeout: number, signal: AbortSignal | undefined] {
  if (options === undefined) return [Infinity, undefined];
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot ${action}: options must be an object, received ${String(options)}`);
  }
  const { timeout, signal } = options as GracefulDrainOptions;
  if (
    timeout !== undefined && (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0)
  ) {
    throw new RangeError(
      `Cannot ${action}: timeout must be a non-negative number of milliseconds, received ${
        String(timeout)
      }`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Cannot ${action}: signal must be an AbortSignal`);
  }
  return [timeout ?? Infinity, signal];
}

/**
 * Tracks entries through their states. `shut` closes an entry; the owner
 * calls `gone()` once it is closed (synchronously or later).
 */
export class Tracker<E extends Entry> {
  readonly #shut: (entry: E) => void;
  // Idle and in-use entries; state changes only move a counter (the hot path),
  // while the rare closeIdle/closeAll walk the set.
  readonly #live = new Set<E>();
  #inUse = 0;
  #disowned = 0;
  #accepted = 0;
  #closed = 0;
  #draining = false;
  #emptyWaiters: (() => void)[] = [];

  constructor(shut: (entry: E) => void) {
    this.#shut = shut;
  }

  /** Whether a drain started: entries that turn idle are closed. */
  get draining(): boolean {
    return this.#draining;
  }

  /** How many entries are idle or in use. */
  get tracked(): number {
    return this.#live.size;
  }

  /**
   * A new entry: it starts idle (as in goji), or in use when it is first
   * seen busy. An idle one is closed at once while draining.
   */
  add(entry: E, inUse = false): void {
    this.#accepted++;
    this.#live.add(entry);
    if (inUse) {
      entry.state = "in-use";
      this.#inUse++;
      return;
    }
    entry.state = "idle";
    if (this.#draining) this.#shut(entry);
  }

  markInUse(entry: E): void {
    if (entry.state !== "idle") return;
    entry.state = "in-use";
    this.#inUse++;
  }

  markIdle(entry: E): void {
    if (entry.state !== "in-use") return;
    entry.state = "idle";
    this.#inUse--;
    if (this.#draining) this.#shut(entry);
  }

  disown(entry: E): void {
    if (entry.state === "in-use") this.#inUse--;
    else if (entry.state !== "idle") return;
    this.#live.delete(entry);
    entry.state = "disowned";
    this.#disowned++;
    this.#settle();
  }

  /** The entry is closed (idempotent). */
  gone(entry: E): void {
    switch (entry.state) {
      case "idle":
        this.#live.delete(entry);
        break;
      case "in-use":
        this.#live.delete(entry);
        this.#inUse--;
        break;
      case "disowned":
        this.#disowned--;
        break;
      default:
        return;
    }
    entry.state = "closed";
    this.#closed++;
    this.#settle();
  }

  /** Closes the entries idle now. */
  closeIdle(): void {
    for (const entry of [...this.#live]) if (entry.state === "idle") this.#shut(entry);
  }

  /** Closes every idle and in-use entry; returns how many there were. */
  closeAll(): number {
    const all = [...this.#live];
    for (const entry of all) this.#shut(entry);
    return all.length;
  }

  stats(): GracefulStats {
    const inUse = this.#inUse;
    const idle = this.#live.size - inUse;
    const disowned = this.#disowned;
    return {
      idle,
      inUse,
      disowned,
      total: idle + inUse + disowned,
      accepted: this.#accepted,
      closed: this.#closed,
    };
  }

  /**
   * Drains: from now on entries that turn idle are closed; closes the idle
   * ones; resolves once none is idle or in use. Past `timeout`, or when
   * `signal` aborts, closes the rest and rejects with DrainTimeoutError.
   */
  drain(timeout: number, signal: AbortSignal | undefined, action: string): Promise<void> {
    this.#draining = true;
    this.closeIdle();
    return this.#wait(timeout, signal, action);
  }

  /** Closes every idle and in-use entry; resolves once they are gone. */
  drainAll(): Promise<void> {
    this.#draining = true;
    this.closeAll();
    return this.#whenEmpty();
  }

  #whenEmpty(): Promise<void> {
    if (this.tracked === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#emptyWaiters.push(resolve));
  }

  #wait(timeout: number, signal: AbortSignal | undefined, action: string): Promise<void> {
    if (this.tracked === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stop = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = this.#emptyWaiters.indexOf(done);
        if (i >= 0) this.#emptyWaiters.splice(i, 1);
      };
      const done = () => {
        stop();
        resolve();
      };
      const cut = (detail: string, cause?: unknown) => {
        stop();
        const n = this.closeAll();
        const err = new DrainTimeoutError(
          `Cannot ${action}: ${plural(n)} still open ${detail}; closed ${n === 1 ? "it" : "them"}`,
          { cut: n, cause },
        );
        this.#whenEmpty().then(() => reject(err));
      };
      const onAbort = () => cut("when the signal aborted", signal!.reason);
      this.#emptyWaiters.push(done);
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      // Past 2^31 - 1 ms (24.8 days) timers misfire: treat such a wait as endless.
      if (timeout <= 2 ** 31 - 1) timer = setTimeout(() => cut(`after ${timeout} ms`), timeout);
    });
  }

  #settle(): void {
    if (this.#emptyWaiters.length === 0 || this.tracked !== 0) return;
    const waiters = this.#emptyWaiters;
    this.#emptyWaiters = [];
    for (const fn of waiters) fn();
  }
}
