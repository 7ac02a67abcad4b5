// Runtime adapter: process signal handlers through node:process, which Deno,
// Bun and Node all provide. Only src/runtime/ may import `node:*`.
import process from "node:process";

/**
 * Calls `handler` each time the process receives `signal`, instead of the
 * signal's default action (for SIGINT and SIGTERM: exiting). Returns the
 * function that removes the handler; once the last handler of a signal is
 * removed, its default action applies again.
 *
 * @param signal The signal's name, e.g. `"SIGINT"` or `"SIGTERM"`.
 * @param handler Called with the signal's name.
 * @returns A function that removes the handler (idempotent).
 * @throws {TypeError} If `signal` is not a string naming a signal or
 * `handler` is not a function.
 *
 * @example Shutting down on Ctrl+C
 * ```ts
 * import { onSignal } from "@netkit/netkit/runtime";
 *
 * const off = onSignal("SIGINT", (signal) => console.log("got", signal));
 * off(); // Ctrl+C exits again
 * ```
 */
export function onSignal(signal: string, handler: (signal: string) => void): () => void {
  if (typeof signal !== "string" || !/^SIG[A-Z0-9]+$/.test(signal)) {
    throw new TypeError(
      `Cannot handle signal: expected a name like "SIGINT", received ${String(signal)}`,
    );
  }
  if (typeof handler !== "function") {
    throw new TypeError("Cannot handle signal: handler must be a function");
  }
  const listener = () => handler(signal);
  process.on(signal as "SIGINT", listener);
  let on = true;
  return () => {
    if (!on) return;
    on = false;
    process.off(signal as "SIGINT", listener);
  };
}
