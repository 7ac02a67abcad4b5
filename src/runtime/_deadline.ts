// Internal: Go-style deadlines, with timers armed only while an operation waits.
// Runtime-free.
import { MAX_DELAY } from "../_util/validate.ts";
import { TimeoutError } from "./errors.ts";
import type { Deadline } from "./types.ts";

/** A pending operation that a deadline or a close can cut short. */
export interface Cuttable {
  /** Fails the operation with `err` (a no-op once it settled). */
  cut(err: Error): void;
}

/** Converts a `Deadline` to epoch milliseconds (or `null`), validating it. */
export function toEpochMs(deadline: Deadline, what: string): number | null {
  if (deadline === null) return null;
  if (deadline instanceof Date) {
    const t = deadline.getTime();
    if (Number.isNaN(t)) throw new RangeError(`Cannot set ${what} deadline: invalid Date`);
    return t;
  }
  if (typeof deadline !== "number") {
    throw new TypeError(
      `Cannot set ${what} deadline: expected a Date, a number or null, received ${typeof deadline}`,
    );
  }
  if (Number.isNaN(deadline)) throw new RangeError(`Cannot set ${what} deadline: received NaN`);
  return deadline;
}

/**
 * One direction's deadline. Operations register a `Cuttable`; when the
 * deadline passes, every registered operation fails with `TimeoutError`. A
 * timer runs only while the deadline is set and something waits. One waiting
 * operation (the usual case) takes a slot, not a Set entry.
 */
export class DeadlineClock {
  readonly #what: string;
  #one: Cuttable | null = null;
  #more: Set<Cuttable> | null = null;
  #at: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(what: string) {
    this.#what = what;
  }

  /** Whether the deadline has passed. */
  get expired(): boolean {
    return this.#at !== null && Date.now() >= this.#at;
  }

  /** Sets (or clears, with `null`) the deadline. */
  set(deadline: Deadline): void {
    this.#at = toEpochMs(deadline, this.#what);
    this.#arm();
  }

  /** The error an operation past the deadline fails with. */
  error(): TimeoutError {
    return new TimeoutError(`Cannot ${this.#what}: the ${this.#what} deadline passed`);
  }

  #waiting(): boolean {
    return this.#one !== null || (this.#more !== null && this.#more.size > 0);
  }

  /** Registers a waiting operation. */
  add(op: Cuttable): void {
    if (this.#one === null) this.#one = op;
    else (this.#more ??= new Set()).add(op);
    if (this.#at !== null && this.#timer === undefined) this.#arm();
  }

  /** Unregisters a waiting operation. */
  delete(op: Cuttable): void {
    if (this.#one === op) this.#one = null;
    else this.#more?.delete(op);
    if (this.#timer !== undefined && !this.#waiting()) this.#disarm();
  }

  /** Fails every waiting operation with the error `make` returns (made only if one waits). */
  failAll(make: () => Error): void {
    if (!this.#waiting()) {
      this.#disarm();
      return;
    }
    const err = make();
    const all = this.#one === null ? [] : [this.#one];
    if (this.#more !== null) all.push(...this.#more);
    this.#one = null;
    this.#more = null;
    this.#disarm();
    for (const op of all) op.cut(err);
  }

  #disarm(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(): void {
    this.#disarm();
    if (this.#at === null || !this.#waiting()) return;
    const wait = this.#at - Date.now();
    if (wait <= 0) {
      this.failAll(() => this.error());
      return;
    }
    // Timers may fire a little early; re-check and re-arm until the time has come.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#arm();
    }, Math.min(wait, MAX_DELAY));
  }
}

/**
 * A read waiting for data that settles its own promise; a deadline or a
 * close can cut it through the clock it is registered with. One object and
 * one promise per waiting read, no closures besides the promise's executor.
 */
export class PendingRead implements Cuttable {
  readonly buf: Uint8Array;
  readonly promise: Promise<number | null>;
  /** Answered (settled or cut). */
  done = false;
  readonly #clock: DeadlineClock;
  readonly #owner: { forget(r: PendingRead): void } | null;
  #resolve!: (n: number | null) => void;
  #reject!: (err: Error) => void;

  /** `owner.forget` is told when a deadline or close cuts the read. */
  constructor(
    buf: Uint8Array,
    clock: DeadlineClock,
    owner: { forget(r: PendingRead): void } | null,
  ) {
    this.buf = buf;
    this.#clock = clock;
    this.#owner = owner;
    this.promise = new Promise<number | null>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    clock.add(this);
  }

  /** Answers the read (an `Error` rejects it). */
  settle(n: number | null | Error): void {
    this.done = true;
    this.#clock.delete(this);
    if (n instanceof Error) this.#reject(n);
    else this.#resolve(n);
  }

  /** A deadline or close answered first. */
  cut(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.#owner?.forget(this);
    this.#reject(err);
  }
}
