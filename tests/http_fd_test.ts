// Net.listenFd() / Upgrader.listenFd() and listenServer(): a raw listening fd
// for a server of one's own (node:http here), and the check that the runtime
// really serves it (Bun's node:http ignores `fd`: oven-sh/bun#22559).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { listenServer } from "../src/http/mod.ts";
import { Net } from "../src/inherit/mod.ts";
import { test } from "./_harness.ts";
import { current } from "./fixtures/inherit_helpers.ts";

test(
  `Net.listenFd() hands out an fd that node:http serves, and listenServer() checks it (${current})`,
  async () => {
    const net = new Net();
    const claimed = await net.listenFd({ hostname: "127.0.0.1", port: 0, name: "web" });
    assert.ok(claimed.fd >= 0);
    assert.equal(claimed.addr.transport, "tcp");
    const server = createServer((_req, res) => res.end("from node:http"));
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (msg: string) => warnings.push(msg);
    let served: boolean;
    try {
      served = await listenServer(server, claimed);
    } finally {
      console.warn = warn;
    }
    try {
      if (current === "bun") {
        // The known bug: Bun's node:http binds a random port instead.
        assert.equal(served, false);
        assert.match(warnings[0], /oven-sh\/bun#22559/);
      } else {
        assert.equal(served, true);
        assert.deepEqual(warnings, []);
        const port = claimed.addr.transport === "tcp" ? claimed.addr.port : 0;
        const res = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(await res.text(), "from node:http");
      }
    } finally {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
      // The server closed the fd itself: Net must not close it again.
      await net.close();
    }
  },
  {
    skip: current === "deno" &&
      "skipped on deno: a socket Deno bound itself is registered with Deno's own poller, so node:http's listen({ fd }) on it fails with EINVAL; on Deno only inherited fds can be handed out",
  },
);
