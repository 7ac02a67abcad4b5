// Internal, runtime adapter only: makes a listener's runtime stop taking
// connections from the kernel queue while the adapter's own queue of
// connections it already took stays for accept(). On a socket shared with a
// successor, what stays in the kernel queue is the successor's to accept; the
// connections this process took are its own to serve. Listener.close() alone
// would close those (clients see a reset): node:net and Bun accept eagerly.
import { BunListener, BunTlsListener } from "./bun.ts";
import { NodeListener } from "./_node_net.ts";
import { TlsListener } from "./_tls.ts";
import type { Listener } from "./types.ts";

/**
 * Stops the native accepting of a node:net or Bun listener; `false` (and
 * nothing done) for other listeners (Deno.listen accepts only on demand).
 */
export function stopAccepting(listener: Listener): boolean {
  try {
    if (listener instanceof NodeListener) {
      if (listener.native.listening) listener.native.close();
      return true;
    }
    if (listener instanceof TlsListener) {
      listener.stopAccepting();
      return true;
    }
    if (listener instanceof BunTlsListener) {
      listener.stopAccepting();
      return true;
    }
    if (listener instanceof BunListener) {
      listener.native.stop(false);
      return true;
    }
  } catch {
    // Already stopped.
    return true;
  }
  return false;
}
