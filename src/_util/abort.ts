// Runtime-free shared tier: waits that end on an AbortSignal or a timer.
// Every module may import this file.
import { MAX_DELAY } from "./validate.ts";

/** What {@linkcode watch} calls, at most one of them, at most once. */
export interface WatchHandlers {
  /** Called with the signal's reason when it aborts (at once if it already has). */
  onAbort?: (reason: unknown) => void;
  /** Called when `timeout` ms have passed (never for Infinity or past 2^31 - 1 ms). */
  onTimeout?: () => void;
}

/**
 * Watches `signal` and a timer of `timeout` ms; calls the handler of the first
 * to fire, once. Returns `stop`, which removes the abort listener and clears
 * the timer (idempotent): call it when the wait ends some other way.
 */
export function watch(
  signal: AbortSignal | undefined,
  timeout: number,
  handlers: WatchHandlers,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  const onAbort = () => {
    if (done) return;
    stop();
    handlers.onAbort?.(signal!.reason);
  };
  if (signal?.aborted) {
    onAbort();
    return stop;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  if (timeout <= MAX_DELAY) {
    timer = setTimeout(() => {
      if (done) return;
      stop();
      handlers.onTimeout?.();
    }, timeout);
  }
  return stop;
}

/**
 * Resolves with `pending`, or rejects with the signal's reason on abort;
 * whatever `pending` opens after that is closed, not leaked.
 */
export function abortable<T extends { close(): void }>(
  pending: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (signal === undefined) return pending;
  return new Promise<T>((resolve, reject) => {
    const stop = watch(signal, Infinity, {
      onAbort: (reason) => {
        reject(reason);
        pending.then((value) => value.close(), () => {});
      },
    });
    pending.then((value) => {
      stop();
      if (!signal.aborted) resolve(value);
    }, (err) => {
      stop();
      reject(err);
    });
  });
}

/** A promise's settlers, parked in a list by {@linkcode waitInList}. */
export interface ListWaiter<T> {
  /** Settles the wait with a value. */
  resolve(value: T | PromiseLike<T>): void;
  /** Settles the wait with an error. */
  reject(err: unknown): void;
  /** Stops watching the signal: call it when taking the waiter out to settle it. */
  cleanup(): void;
}

/**
 * Parks a waiter (its settlers and `extra`) at the end of `list` until whoever
 * owns the list settles it; if `signal` aborts first, the waiter leaves the
 * list and the wait rejects with the signal's reason (at once if it already has).
 */
export function waitInList<T, X extends object>(
  list: (ListWaiter<T> & X)[],
  signal: AbortSignal | undefined,
  extra: X,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const cleanup = watch(signal, Infinity, {
      onAbort: (reason) => {
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        reject(reason);
      },
    });
    const waiter: ListWaiter<T> & X = { ...extra, resolve, reject, cleanup };
    list.push(waiter);
  });
}
