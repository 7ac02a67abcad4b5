// The README's first demo: an echo server and a client through netkit's
// runtime adapter, on whichever runtime runs this file.
//   deno run -A scripts/demo.ts   |   bun scripts/demo.ts   |   node npm/esm/scripts/demo.js
import { connect, listen, runtime } from "../mod.ts";

const listener = await listen({ hostname: "127.0.0.1", port: 0 });
const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
console.log(`[${runtime.name}] echo server listening on 127.0.0.1:${port}`);

// Server: echo every connection until it half-closes, then answer who served it.
const serving = (async () => {
  for await (const conn of listener) {
    (async () => {
      await using c = conn;
      const buf = new Uint8Array(4096);
      let n: number | null;
      while ((n = await c.read(buf)) !== null) await c.write(buf.subarray(0, n));
      await c.write(new TextEncoder().encode(` (served by ${runtime.name})`));
    })();
  }
})();

// Client: send a line, half-close, read everything back.
await using client = await connect({ hostname: "127.0.0.1", port });
await client.write(new TextEncoder().encode("hello through netkit"));
await client.closeWrite();
let reply = "";
for await (const chunk of client.readable) reply += new TextDecoder().decode(chunk);
console.log(`[${runtime.name}] client got: ${reply}`);

await listener.close();
await serving;
