// Internal: the connection state machine shared by GracefulListener (netkit
// conns) and gracefulHttp (node:http sockets): idle / in-use / disowned /
// closed, exact counters, and drain with a timeout. Runtime-free.
//
// Fresh entries (golang/go#22682): a new entry counts as in use until its
// owner settles it (first read, first request) or the grace period passes.
// Entries are added in time order with one grace, so the fresh ones, kept in
// insertion order, are also in expiry order. The end of grace is applied
// lazily where it can be seen (stats, closeIdle, a conn's state: a check of
// the oldest only), and, only while draining, by one timer per tracker armed
// for the oldest, cleared once nothing is tracked. Per connection this costs
// a timestamp and a link and unlink in a list, no timer.
//
// The idle and in-use entries are a doubly linked list through the entries
// themselves (in insertion order), not a Set and a Map: on V8 a Set or Map
// that lives long and turns its entries over is rebuilt every few dozen
// inserts, and the table it leaves behind is already in the old generation
// with its slots still pointing at young entries; each scavenge treats those
// slots as roots, so every closed conn they name (and all it holds: the
// socket, its streams, the reset's error) survives and is promoted until the
// next full GC. On Node's accept bench that doubled the server's scavenge
// time (a wrap(listen()) server cost about 20 µs more CPU per conn than
// listen()). An unlinked entry's links are cleared for the same reason.
import { MAX_DELAY } from "../_util/validate.ts";
import { DrainTimeoutError } from "./errors.ts";
import type { GracefulConnState, GracefulDrainOptions, GracefulStats } from "./types.ts";

/** Something tracked: the tracker keeps its state here. */
export interface Entry {
  state: GracefulConnState;
  /** Set by the tracker: accepted, not settled yet, within the grace period (counts in use). */
  fresh: boolean;
  /** While fresh: whether it stays in use once settled (markInUse/markIdle set it). */
  held: boolean;
  /** Owned by the tracker: the idle or in-use entry tracked before this one, or `null`. */
  older: Entry | null;
  /** Owned by the tracker: the idle or in-use entry tracked after this one, or `null`. */
  newer: Entry | null;
  /** Owned by the tracker: while fresh, when the grace period ends (`performance.now()` ms). */
  graceEnd: number;
}

/**
 * A new entry: `fields` (the owner's own) with the tracker's fields
 * initialised, not yet tracked (`Tracker.add()` tracks it).
 */
export function newEntry<T extends object>(fields: T): T & Entry {
  return {
    state: "idle",
    fresh: false,
    held: false,
    older: null,
    newer: null,
    graceEnd: 0,
    ...fields,
  };
}

/** The default grace period of a fresh entry, in milliseconds. */
export const DEFAULT_GRACE = 5000;

/** Past 2^31 - 1 ms (24.8 days) timers misfire: such a wait counts as endless. */
const MAX_TIMER = MAX_DELAY;

/** Validates a `grace` option (milliseconds, 0 turns freshness off). */
export function checkGrace(grace: unknown, action: string): number {
  if (grace === undefined) return DEFAULT_GRACE;
  if (typeof grace !== "number" || Number.isNaN(grace) || grace < 0) {
    throw new RangeError(
      `Cannot ${action}: grace must be a non-negative number of milliseconds, received ${
        String(grace)
      }`,
    );
  }
  return grace;
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
  readonly #grace: number;
  // Idle and in-use entries, oldest first, linked through `older`/`newer`;
  // state changes only move a counter (the hot path), while the rare
  // closeIdle/closeAll walk the list.
  #oldest: E | null = null;
  #newest: E | null = null;
  #live = 0;
  // How many are fresh, and an entry in the list no fresh one is older than
  // (fresh entries are only ever added at the newest end, so it only moves
  // towards it): the oldest fresh one is found from there.
  #fresh = 0;
  #freshFrom: E | null = null;
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #inUse = 0;
  #disowned = 0;
  #accepted = 0;
  #closed = 0;
  #draining = false;
  #emptyWaiters: (() => void)[] = [];

  /**
   * @param shut Closes an entry.
   * @param grace Milliseconds a new entry stays fresh (in use) unless settled
   * first; 0: new entries start idle, as in goji.
   */
  constructor(shut: (entry: E) => void, grace: number = DEFAULT_GRACE) {
    this.#shut = shut;
    this.#grace = grace;
  }

  /** The grace period of a fresh entry, in milliseconds. */
  get grace(): number {
    return this.#grace;
  }

  /** Whether a drain started: entries that turn idle are closed. */
  get draining(): boolean {
    return this.#draining;
  }

  /** How many entries are idle or in use. */
  get tracked(): number {
    return this.#live;
  }

  /**
   * A new entry: fresh (in use) for the grace period unless it is settled
   * first, or in use when it is first seen busy. With a grace of 0 it starts
   * idle (as in goji), and is closed at once while draining.
   */
  add(entry: E, inUse = false): void {
    this.#accepted++;
    this.#link(entry);
    entry.fresh = false;
    entry.held = false;
    if (inUse || this.#grace > 0) {
      entry.state = "in-use";
      this.#inUse++;
      if (!inUse) this.#addFresh(entry);
      return;
    }
    entry.state = "idle";
    if (this.#draining) this.#shut(entry);
  }

  #addFresh(entry: E): void {
    entry.fresh = true;
    entry.graceEnd = this.#grace > MAX_TIMER ? Infinity : performance.now() + this.#grace;
    this.#fresh++;
    this.#freshFrom ??= entry;
    if (this.#draining) this.#armSweep();
  }

  /** Appends `entry` to the list of idle and in-use entries. */
  #link(entry: E): void {
    const newest = this.#newest;
    entry.older = newest;
    entry.newer = null;
    if (newest === null) this.#oldest = entry;
    else newest.newer = entry;
    this.#newest = entry;
    this.#live++;
  }

  /** Takes `entry` out of the list, and clears its links (see the file's note). */
  #unlink(entry: E): void {
    const older = entry.older as E | null;
    const newer = entry.newer as E | null;
    if (older === null) this.#oldest = newer;
    else older.newer = newer;
    if (newer === null) this.#newest = older;
    else newer.older = older;
    if (this.#freshFrom === entry) this.#freshFrom = newer;
    entry.older = null;
    entry.newer = null;
    this.#live--;
  }

  /** The oldest fresh entry, or `null`. */
  #oldestFresh(): E | null {
    if (this.#fresh === 0) {
      this.#freshFrom = null;
      return null;
    }
    let entry = this.#freshFrom;
    while (entry !== null && !entry.fresh) entry = entry.newer as E | null;
    this.#freshFrom = entry;
    return entry;
  }

  /** Calls `fn` with each idle and in-use entry, oldest first (`fn` must not close any). */
  forEachLive(fn: (entry: E) => void): void {
    for (let e = this.#oldest; e !== null; e = e.newer as E | null) fn(e);
  }

  /** The idle and in-use entries now, oldest first. */
  #liveEntries(): E[] {
    const all: E[] = [];
    for (let e = this.#oldest; e !== null; e = e.newer as E | null) all.push(e);
    return all;
  }

  /**
   * Ends the freshness of the entries whose grace period has passed. Done
   * lazily, where it can be seen (stats, closeIdle, a conn's state) and by a
   * timer only while draining, so that no timer runs per connection.
   */
  expire(): void {
    if (this.#fresh === 0) return;
    const now = performance.now();
    // settle() may close the entry (while draining), which unlinks it.
    for (let e; (e = this.#oldestFresh()) !== null && e.graceEnd <= now;) this.settle(e, false);
  }

  /** While draining, a timer for the oldest fresh entry's end of grace. */
  #armSweep(): void {
    if (!this.#draining || this.#sweepTimer !== undefined) return;
    const oldest = this.#oldestFresh();
    if (oldest === null || oldest.graceEnd === Infinity) return;
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(0, oldest.graceEnd - performance.now()));
  }

  readonly #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.expire();
    this.#armSweep();
  };

  /**
   * Ends an entry's freshness: its first read returned, or its first request
   * came. It stays in use if `busy` (data came) or if it was marked in use
   * while fresh; otherwise it turns idle (and is closed while draining).
   */
  settle(entry: E, busy: boolean): void {
    if (!entry.fresh) return;
    entry.fresh = false;
    this.#fresh--;
    if (!busy && !entry.held) this.#toIdle(entry);
  }

  markInUse(entry: E): void {
    if (entry.fresh) {
      entry.held = true;
      return;
    }
    if (entry.state !== "idle") return;
    entry.state = "in-use";
    this.#inUse++;
  }

  /** While fresh, records that it is idle once settled; it stays in use until then. */
  markIdle(entry: E): void {
    if (entry.fresh) {
      entry.held = false;
      return;
    }
    this.#toIdle(entry);
  }

  #toIdle(entry: E): void {
    if (entry.state !== "in-use") return;
    entry.state = "idle";
    this.#inUse--;
    if (this.#draining) this.#shut(entry);
  }

  #unfresh(entry: E): void {
    if (!entry.fresh) return;
    entry.fresh = false;
    this.#fresh--;
  }

  disown(entry: E): void {
    this.#unfresh(entry);
    if (entry.state === "in-use") this.#inUse--;
    else if (entry.state !== "idle") return;
    this.#unlink(entry);
    entry.state = "disowned";
    this.#disowned++;
    this.#wake();
  }

  /** The entry is closed (idempotent). */
  gone(entry: E): void {
    this.#unfresh(entry);
    switch (entry.state) {
      case "idle":
        this.#unlink(entry);
        break;
      case "in-use":
        this.#unlink(entry);
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
    this.#wake();
  }

  /** Clears the sweep timer once nothing is tracked, so that it never outlives the entries. */
  #stopSweepIfEmpty(): void {
    if (this.#live === 0 && this.#sweepTimer !== undefined) {
      clearTimeout(this.#sweepTimer);
      this.#sweepTimer = undefined;
    }
  }

  /** Closes the entries idle now. */
  closeIdle(): void {
    this.expire();
    for (const entry of this.#liveEntries()) if (entry.state === "idle") this.#shut(entry);
  }

  /** Closes every idle and in-use entry; returns how many there were. */
  closeAll(): number {
    const all = this.#liveEntries();
    for (const entry of all) this.#shut(entry);
    return all.length;
  }

  stats(): GracefulStats {
    this.expire();
    const inUse = this.#inUse;
    const idle = this.#live - inUse;
    const disowned = this.#disowned;
    return {
      idle,
      inUse,
      fresh: this.#fresh,
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
    this.startDraining();
    return this.#wait(timeout, signal, action);
  }

  /** From now on entries that turn idle are closed; closes the idle ones. */
  startDraining(): void {
    this.#draining = true;
    this.closeIdle();
    this.#armSweep();
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
      if (timeout <= MAX_TIMER) timer = setTimeout(() => cut(`after ${timeout} ms`), timeout);
    });
  }

  #wake(): void {
    this.#stopSweepIfEmpty();
    if (this.#emptyWaiters.length === 0 || this.tracked !== 0) return;
    const waiters = this.#emptyWaiters;
    this.#emptyWaiters = [];
    for (const fn of waiters) fn();
  }
}
