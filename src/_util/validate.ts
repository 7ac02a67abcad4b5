// Runtime-free shared tier: argument checks for timeouts and integers, and the
// longest delay a timer honours. Every module may import this file.

/** The largest signed 32-bit integer, 2^31 - 1: the default cap of integer options. */
export const MAX_INT32: number = 2 ** 31 - 1;

/**
 * The longest delay `setTimeout` honours: 2^31 - 1 ms (24.8 days). A longer
 * one fires at once, so callers clamp to it or treat longer waits as endless.
 */
export const MAX_DELAY: number = MAX_INT32;

/** How {@linkcode checkTimeout} reads its value. */
export interface TimeoutCheck {
  /** The option's name in the message. @default {"timeout"} */
  name?: string;
  /** What `undefined` stands for. @default {Infinity} */
  fallback?: number;
  /** Whether 0 is refused (and Infinity with it). @default {false} */
  positive?: boolean;
}

/**
 * Checks a timeout in milliseconds: a non-negative number (Infinity meaning
 * none), or with `positive` a finite number above 0. Returns it, or
 * `fallback` for `undefined`.
 */
export function checkTimeout(value: unknown, action: string, check: TimeoutCheck = {}): number {
  if (value === undefined) return check.fallback ?? Infinity;
  const ok = typeof value === "number" &&
    (check.positive ? value > 0 && Number.isFinite(value) : value >= 0);
  if (!ok) {
    throw new RangeError(
      `Cannot ${action}: ${check.name ?? "timeout"} must be a ${
        check.positive ? "positive" : "non-negative"
      } number of milliseconds, received ${String(value)}`,
    );
  }
  return value;
}

/**
 * Checks an integer option from `min` to `max` (at most 2^31 - 1 by default).
 * Returns it, or `fallback` for `undefined`.
 */
export function checkInteger(
  value: unknown,
  action: string,
  name: string,
  range: { min: number; max?: number; fallback?: number },
): number {
  const max = range.max ?? MAX_INT32;
  if (value === undefined && range.fallback !== undefined) return range.fallback;
  if (typeof value !== "number") {
    throw new TypeError(`Cannot ${action}: ${name} must be a number, received ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < range.min || value > max) {
    throw new RangeError(
      `Cannot ${action}: ${name} must be an integer from ${range.min} to ${max}, received ${value}`,
    );
  }
  return value;
}
