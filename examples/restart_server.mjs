// A server that restarts itself on SIGHUP with no dropped connection.
import process from "node:process";
import { createUpgrader } from "netkit/inherit";

const upgrader = createUpgrader();
const off = upgrader.handleSignals(); // SIGHUP starts a new copy
const port = Number(process.env.PORT ?? 8080);
const listener = await upgrader.listen({ hostname: "127.0.0.1", port });
console.log(`pid ${process.pid} serving on port ${listener.addr.port}`);

const open = new Set();
const serving = (async () => {
  for await (const conn of listener) {
    const done = conn.write(new TextEncoder().encode(`hello from ${process.pid}\n`))
      .finally(() => conn.close());
    open.add(done);
    done.finally(() => open.delete(done));
  }
})();
await upgrader.ready(); // tell the parent (if any) this copy serves
await upgrader.exit; // kill -HUP <pid>: a new copy serves now
off();
await listener.close(); // stop accepting
await serving;
await Promise.allSettled(open); // drain
console.log(`pid ${process.pid} handed over`);
