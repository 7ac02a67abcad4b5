import { connect, listen, runtime } from "netkit/runtime";

await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;

(async () => {
  for await (const conn of listener) {
    (async () => {
      await using c = conn;
      const buf = new Uint8Array(4096);
      let n: number | null;
      while ((n = await c.read(buf)) !== null) await c.write(buf.subarray(0, n));
    })();
  }
})();

await using client = await connect({ hostname: "127.0.0.1", port });
client.setReadDeadline(Date.now() + 5_000); // Go semantics: TimeoutError after 5 s
await client.write(new TextEncoder().encode("hello"));
await client.closeWrite(); // half-close: the server sees EOF and can still answer
for await (const chunk of client.readable) console.log(new TextDecoder().decode(chunk));
console.log("served on", runtime.name);
