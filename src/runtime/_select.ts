// Internal, runtime adapter only: which adapter serves listen() and connect():
// the host's own, unless a test chose another with useRuntime().
import { bunRuntime } from "./bun.ts";
import { denoRuntime } from "./deno.ts";
import { nodeRuntime } from "./node.ts";
import { HOST } from "./_host.ts";
import type { Runtime, RuntimeName } from "./types.ts";

const ADAPTERS: Record<RuntimeName, Runtime> = {
  deno: denoRuntime,
  bun: bunRuntime,
  node: nodeRuntime,
};

let current: Runtime | undefined;

/** The adapter in use. */
export function adapter(): Runtime {
  current ??= ADAPTERS[HOST];
  return current;
}

/** Switches to the adapter `name`; returns the previous one's name. */
export function selectAdapter(name: RuntimeName): RuntimeName {
  const next = ADAPTERS[name];
  if (next === undefined || !Object.hasOwn(ADAPTERS, name)) {
    throw new RangeError(
      `Cannot use runtime: expected "deno", "bun" or "node", received ${String(name)}`,
    );
  }
  if (name !== "node" && name !== HOST) {
    throw new RangeError(`Cannot use runtime: ${name} is not the runtime running this code`);
  }
  const before = adapter().name;
  current = next;
  return before;
}
