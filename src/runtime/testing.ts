/**
 * Controls for tests: which adapter serves (`useRuntime("node")` runs Deno
 * or Bun on their node:net layer) and how many listeners and conns are open
 * (a leak check). Not for production code.
 *
 * @example A leak check on the node:net adapter
 * ```ts
 * import { listen } from "@netkit/netkit/runtime";
 * import { openResources, useRuntime } from "@netkit/netkit/testing";
 *
 * const before = useRuntime("node");
 * const open = openResources();
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * await listener.close();
 * console.log(openResources().listeners === open.listeners); // true
 * useRuntime(before);
 * ```
 *
 * @module
 */
import { snapshot } from "./_resources.ts";
import { selectAdapter } from "./_select.ts";
import type { ResourceCounts, RuntimeName } from "./types.ts";

export type { ResourceCounts, RuntimeName } from "./types.ts";

/**
 * Replaces the detected adapter, for tests: `"node"` makes Deno or Bun use
 * their node:net compatibility layer. Returns the previous adapter's name.
 *
 * @param name The adapter to use from now on.
 * @returns The name of the adapter used until now.
 * @throws {RangeError} If `name` is not one of `"deno"`, `"bun"`, `"node"`.
 *
 * @example Forcing node:net under Deno or Bun
 * ```ts
 * import { runtime } from "@netkit/netkit/runtime";
 * import { useRuntime } from "@netkit/netkit/testing";
 *
 * const before = useRuntime("node");
 * console.log(runtime.name); // "node"
 * useRuntime(before);
 * ```
 */
export function useRuntime(name: RuntimeName): RuntimeName {
  return selectAdapter(name);
}

/**
 * How many listeners and conns the adapter has open now; a test that closed
 * everything it opened sees the same counts before and after.
 *
 * @returns The counts.
 *
 * @example A leak check
 * ```ts
 * import { listen } from "@netkit/netkit/runtime";
 * import { openResources } from "@netkit/netkit/testing";
 *
 * const before = openResources();
 * const listener = await listen({ port: 0, hostname: "127.0.0.1" });
 * await listener.close();
 * console.log(openResources().listeners === before.listeners); // true
 * ```
 */
export function openResources(): ResourceCounts {
  return snapshot();
}
