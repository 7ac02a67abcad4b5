// Internal: counts what the adapters have open, for leak checks. Runtime-free.
import type { ResourceCounts } from "./types.ts";

const counts: ResourceCounts = { listeners: 0, conns: 0 };

/** Records that a listener or conn was opened. */
export function opened(kind: keyof ResourceCounts): void {
  counts[kind]++;
}

/** Records that a listener or conn was closed (call once per `opened`). */
export function released(kind: keyof ResourceCounts): void {
  counts[kind]--;
}

/** A snapshot of the counts. */
export function snapshot(): ResourceCounts {
  return { listeners: counts.listeners, conns: counts.conns };
}
