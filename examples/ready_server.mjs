// A plain Node server for `netkit run`: no netkit import, only the protocol.
import { writeSync } from "node:fs";
import { createServer } from "node:net";

const server = createServer((socket) => socket.end(`hello from ${process.pid}\n`));
server.listen({ fd: 3 }, () => {
  // Ready: tell netkit run (any language can: write READY=1 and a newline).
  writeSync(Number(process.env.NETKIT_READY_FD), "READY=1\n");
});
process.on("SIGTERM", () => server.close()); // finish open connections, then exit
