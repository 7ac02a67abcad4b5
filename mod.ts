/**
 * netkit: the socket-level tools Go servers have had for years, for
 * JavaScript servers on Deno, Bun and Node.
 *
 * This entry re-exports every module's public API. Each module also has its
 * own entry (`@netkit/netkit/runtime`, …).
 *
 * @example Which runtime serves
 * ```ts
 * import { runtime } from "@netkit/netkit";
 *
 * console.log(runtime.name);
 * ```
 *
 * @module
 */
export * from "./src/runtime/mod.ts";
export * from "./src/chan/mod.ts";
export * from "./src/listenbuffer/mod.ts";
export * from "./src/graceful/mod.ts";
export * from "./src/poll/mod.ts";
export * from "./src/inherit/mod.ts";
export * from "./src/http/mod.ts";
