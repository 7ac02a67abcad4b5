// Runtime adapter: process signal handlers through node:process, which Deno,
// Bun and Node all provide. Only src/runtime/ may import `node:*`.
import { builtin } from "./_node.ts";
import type { Signal } from "./types.ts";

const SIGNALS: ReadonlySet<string> = new Set<Signal>([
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
]);

/** Throws unless `signal` names a {@linkcode Signal}. */
export function checkSignal(signal: unknown, action: string): asserts signal is Signal {
  if (typeof signal !== "string") {
    throw new TypeError(
      `Cannot ${action}: expected a signal name like "SIGINT", received ${String(signal)}`,
    );
  }
  if (!SIGNALS.has(signal)) {
    throw new RangeError(
      `Cannot ${action}: signal must be one of ${[...SIGNALS].join(", ")}, received ${signal}`,
    );
  }
}

/**
 * Calls `handler` each time the process receives `signal`, instead of the
 * signal's default action (for SIGINT and SIGTERM: exiting). Returns the
 * function that removes the handler; once the last handler of a signal is
 * removed, its default action applies again. The handler does not keep the
 * process alive.
 *
 * This is the one signal API: `GracefulHttp.handleSignals()`,
 * `Upgrader.handleSignals()` and the `netkit` CLI stand on it.
 *
 * @param signal The signal's name, e.g. `"SIGINT"` or `"SIGTERM"`.
 * @param handler Called with the signal's name.
 * @returns A function that removes the handler (idempotent).
 * @throws {TypeError} If `signal` is not a string or `handler` is not a function.
 * @throws {RangeError} If `signal` is not one of {@linkcode Signal}.
 *
 * @example Shutting down on Ctrl+C
 * ```ts
 * import { onSignal } from "@netkit/netkit/runtime";
 *
 * const off = onSignal("SIGINT", (signal) => console.log("got", signal));
 * off(); // Ctrl+C exits again
 * ```
 */
export function onSignal(signal: Signal, handler: (signal: Signal) => void): () => void {
  checkSignal(signal, "handle signal");
  if (typeof handler !== "function") {
    throw new TypeError("Cannot handle signal: handler must be a function");
  }
  const listener = () => handler(signal);
  builtin("node:process").on(signal, listener);
  let on = true;
  return () => {
    if (!on) return;
    on = false;
    builtin("node:process").off(signal, listener);
  };
}
