// Internal entry of the inherit module, for the `netkit` CLI (src/cli/) only:
// what it shares with the Upgrader but users do not call.
export { formatAddr, requestKey } from "./_addr.ts";
export { takeInherited } from "./net.ts";
