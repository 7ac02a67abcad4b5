// Runtime adapter for Node (>= 20): node:net for everything.
// Only src/runtime/ may touch `node:*`; modules above use ./mod.ts.
import { connectNodeNet, listenNodeNet } from "./_node_net.ts";
import { connectTls, listenTls } from "./_tls.ts";
import { validateConnect, validateListen } from "./_validate.ts";
import type { Conn, ConnectOptions, Listener, ListenOptions, Runtime } from "./types.ts";

/** The Node adapter. */
export const nodeRuntime: Runtime = {
  name: "node",
  async listen(options: ListenOptions): Promise<Listener> {
    validateListen(options);
    if (options.tls !== undefined) return await listenTls(options);
    return await listenNodeNet(options);
  },
  async connect(options: ConnectOptions): Promise<Conn> {
    validateConnect(options);
    if (options.tls !== undefined) return await connectTls(options);
    return await connectNodeNet(options);
  },
};
