// Internal: waits that end when a condition holds (the exporter's and the
// importer's drain and sync), re-checked on events and on a timer.
import { checkTimeout, MAX_DELAY } from "../_util/validate.ts";
import { TimeoutError } from "../runtime/mod.ts";
import type { WaitOptions } from "./options.ts";
import { checkObject } from "./_options.ts";

/** Checks wait options; returns the timeout (Infinity: none) and signal. */
function waitOptions(
  options: WaitOptions | undefined,
  action: string,
): { timeout: number; signal: AbortSignal | undefined } {
  checkObject(options, action);
  const timeout = checkTimeout(options?.timeout, action);
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Cannot ${action}: signal must be an AbortSignal`);
  }
  return { timeout, signal };
}

/** What a wait's check says: done, not yet, or failed. */
export type CheckResult = boolean | Error;

interface PendingWait {
  check: () => CheckResult;
  settle: (result: true | Error) => void;
}

/** Waits that end when a condition holds, re-checked on events and every 100 ms. */
export class ConditionWaits {
  readonly #waits = new Set<PendingWait>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Whether something waits. */
  get size(): number {
    return this.#waits.size;
  }

  /** Waits until `check` returns true (resolve) or an Error (reject). */
  wait(check: () => CheckResult, options: WaitOptions | undefined, action: string): Promise<void> {
    const { timeout, signal } = waitOptions(options, action);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const first = check();
    if (first === true) return Promise.resolve();
    if (first instanceof Error) return Promise.reject(first);
    if (timeout === 0) return Promise.reject(timeoutError(action, 0));
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => w.settle(signal!.reason);
      const w: PendingWait = {
        check,
        settle: (result) => {
          if (!this.#waits.delete(w)) return;
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          if (this.#waits.size === 0 && this.#timer !== undefined) {
            clearInterval(this.#timer);
            this.#timer = undefined;
          }
          if (result === true) resolve();
          else reject(result);
        },
      };
      this.#waits.add(w);
      if (timeout !== Infinity) {
        timer = setTimeout(
          () => w.settle(timeoutError(action, timeout)),
          Math.min(timeout, MAX_DELAY),
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#timer ??= setInterval(() => this.recheck(), 100);
    });
  }

  /** Re-checks every wait. */
  recheck(): void {
    for (const w of [...this.#waits]) {
      let r: CheckResult;
      try {
        r = w.check();
      } catch (err) {
        r = err instanceof Error ? err : new Error(String(err));
      }
      if (r !== false) w.settle(r);
    }
  }

  /** Fails every wait with `err`. */
  failAll(err: Error): void {
    for (const w of [...this.#waits]) w.settle(err);
  }
}

function timeoutError(action: string, timeout: number): TimeoutError {
  return new TimeoutError(`Cannot ${action}: not done within ${timeout} ms`);
}
