// Internal, runtime adapter only: the one place that decides which runtime
// runs this code (feature detection, once, at load). Touches only the
// `Deno` and `Bun` globals, to see whether they are there.
import type { RuntimeName } from "./types.ts";

function detectHost(): RuntimeName {
  const g = globalThis as { Deno?: { listen?: unknown }; Bun?: { listen?: unknown } };
  if (typeof g.Deno?.listen === "function") return "deno";
  if (typeof g.Bun?.listen === "function") return "bun";
  return "node";
}

/** The runtime really running this code (`useRuntime()` does not change it). */
export const HOST: RuntimeName = detectHost();
