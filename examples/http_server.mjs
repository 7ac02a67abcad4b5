// An HTTP server with graceful shutdown and restarts that no client notices.
import process from "node:process";
import { listenAndServe } from "netkit/http";

const server = await listenAndServe({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 8080),
  // Any fetch handler: with Hono, `fetch: app.fetch`.
  fetch: (request) => new Response(`hello from ${process.pid}: ${new URL(request.url).pathname}\n`),
});
console.log(`pid ${process.pid} serving http on port ${server.addr.port}`);
await server.finished; // kill -HUP <pid>: a new copy serves, this one drains; SIGTERM: drain, exit
console.log(`pid ${process.pid} done`);
