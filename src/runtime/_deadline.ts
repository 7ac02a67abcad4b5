// Internal: Go-style deadlines, with timers armed only while an operation waits.
// Runtime-free.
import { MAX_DELAY } from "../_util/validate.ts";
import { TimeoutError } from "./errors.ts";
import type { Deadline } from "./types.ts";

/** A pending operation that a deadline or a close can cut short. */
export type Fail = (err: Error) => void;

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
 * One direction's deadline. Operations register a `Fail`; when the deadline
 * passes, every registered operation fails with `TimeoutError`. A timer runs
 * only while the deadline is set and something waits.
 */
export class DeadlineClock {
  readonly #what: string;
  readonly #pending = new Set<Fail>();
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

  /** Registers a waiting operation; returns the function that unregisters it. */
  add(fail: Fail): void {
    this.#pending.add(fail);
    if (this.#at !== null && this.#timer === undefined) this.#arm();
  }

  /** Unregisters a waiting operation. */
  delete(fail: Fail): void {
    this.#pending.delete(fail);
    if (this.#pending.size === 0) this.#disarm();
  }

  /** Fails every waiting operation with the error `make` returns (made only if one waits). */
  failAll(make: () => Error): void {
    if (this.#pending.size === 0) {
      this.#disarm();
      return;
    }
    const err = make();
    const all = [...this.#pending];
    this.#pending.clear();
    this.#disarm();
    for (const fail of all) fail(err);
  }

  #disarm(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(): void {
    this.#disarm();
    if (this.#at === null || this.#pending.size === 0) return;
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
