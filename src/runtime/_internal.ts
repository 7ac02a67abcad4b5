// Internal entry of the runtime tier, for netkit's own modules and test
// fixtures (not a deno.json export): the process and OS services socket
// inheritance needs (`os`), and the HTTP engine src/http/ stands on. Users
// import ./mod.ts; tests import ./testing.ts for the test-only controls.
export { os } from "./_os.ts";
export { createHttpEngine } from "./http_engine.ts";
export { HOST } from "./_host.ts";
export { iteratesOwn } from "./_base_listener.ts";
export type {
  ExitStatus,
  FdKind,
  HeldListener,
  HttpEngine,
  HttpEngineOptions,
  HttpSocket,
  HttpSocketHooks,
  NotifyReceiver,
  Os,
  Runtime,
  SpawnOptions,
  Subprocess,
} from "./types.ts";
