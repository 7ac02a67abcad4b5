import { connect, listen, runtime } from "netkit/runtime";

const listener = await listen({ hostname: "127.0.0.1", port: 0 });
const port = listener.addr.port;

(async () => {
  for await (const conn of listener) {
    (async () => {
      try {
        const buf = new Uint8Array(4096);
        let n;
        while ((n = await conn.read(buf)) !== null) await conn.write(buf.subarray(0, n));
      } finally {
        conn.close();
      }
    })();
  }
})();

const client = await connect({ hostname: "127.0.0.1", port });
try {
  client.setReadDeadline(Date.now() + 5_000); // Go semantics: TimeoutError after 5 s
  await client.write(new TextEncoder().encode("hello"));
  await client.closeWrite(); // half-close: the server sees EOF and can still answer
  for await (const chunk of client.readable) console.log(new TextDecoder().decode(chunk));
  console.log("served on", runtime.name);
} finally {
  client.close();
  await listener.close();
}
