// The README's listenbuffer + graceful demo: a tiny HTTP/1.1 keep-alive server
// on netkit conns that
//   1. listens at once (clients can connect and send right away),
//   2. serves only after a simulated warm-up (listenBuffer),
//   3. on Ctrl+C (SIGINT) or SIGTERM drains gracefully: stops accepting,
//      closes idle keep-alive conns, lets the request in flight finish with
//      `Connection: close`, and prints the stats (a second signal forces).
//   deno run -A scripts/demo_http.ts   |   bun scripts/demo_http.ts   |   node npm/esm/scripts/demo_http.js
// By default it plays its own clients and sends itself SIGINT; with `--serve
// [port]` it serves until you press Ctrl+C (try `curl -v localhost:<port>/`).
import process from "node:process";
import { type Conn, connect, listenBuffer, Mode, onSignal, runtime, wrap } from "../mod.ts";
import type { GracefulConn } from "../mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const serveMode = process.argv.includes("--serve");
const portArg = Number(process.argv[process.argv.indexOf("--serve") + 1]);
const WARM_UP_MS = 1000;
const IDLE_TIMEOUT_MS = 5000;
const t0 = Date.now();
const log = (msg: string) => console.log(`[${runtime.name} +${Date.now() - t0} ms] ${msg}`);

// 1. Listen at once; accept only once warmed up (or give up after 30 s).
const warmUp = new Promise<void>((resolve) => setTimeout(resolve, WARM_UP_MS));
const listener = wrap(
  await listenBuffer(
    {
      hostname: "127.0.0.1",
      port: serveMode && portArg > 0 ? portArg : 0,
      timeout: 30_000,
    },
    warmUp.then(() => log("warmed up: serving")),
  ),
  Mode.Deadline, // an HTTP server: setting the idle read deadline marks the conn idle
);
const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
log(
  `listening on 127.0.0.1:${port} at once; serving after a ${WARM_UP_MS} ms warm-up`,
);

// 2. The server: one request at a time per keep-alive conn.
async function handle(path: string): Promise<string> {
  if (path === "/slow") {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return "slow done\n";
  }
  return `hello from ${runtime.name}, you asked for ${path}\n`;
}

async function serveConn(conn: GracefulConn): Promise<void> {
  const buf = new Uint8Array(8192);
  let pending = "";
  try {
    while (true) {
      conn.setReadDeadline(Date.now() + IDLE_TIMEOUT_MS); // between requests: idle
      while (!pending.includes("\r\n\r\n")) {
        const n = await conn.read(buf); // the first bytes mark the conn in use
        if (n === null) return;
        pending += dec.decode(buf.subarray(0, n));
      }
      const end = pending.indexOf("\r\n\r\n");
      const head = pending.slice(0, end);
      pending = pending.slice(end + 4);
      const path = head.split(" ")[1] ?? "/";
      const body = await handle(path);
      const close = listener.draining || /\r\nconnection: *close/i.test(head);
      await conn.write(enc.encode(
        `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${
          enc.encode(body).byteLength
        }\r\nConnection: ${close ? "close" : "keep-alive"}\r\n\r\n${body}`,
      ));
      if (close) return;
    }
  } catch {
    // Closed by the drain, an idle timeout, or the client.
  } finally {
    conn.close();
  }
}

const serving = (async () => {
  for await (const conn of listener) serveConn(conn);
})();

// 3. Drain on SIGINT/SIGTERM; a second signal forces.
const force = new AbortController();
const drained = new Promise<void>((resolve) => {
  let draining = false;
  const offs = (["SIGINT", "SIGTERM"] as const).map((signal) =>
    onSignal(signal, async () => {
      if (draining) {
        log(`${signal} again: forcing`);
        force.abort();
        return;
      }
      draining = true;
      log(`${signal}: draining ${JSON.stringify(listener.stats)}`);
      try {
        await listener.drain({ timeout: 10_000, signal: force.signal });
        log(`drained ${JSON.stringify(listener.stats)}`);
      } catch (err) {
        log(
          `forced: ${(err as Error).message} ${JSON.stringify(listener.stats)}`,
        );
      }
      for (const off of offs) off();
      resolve();
    })
  );
});

// Raw HTTP/1.1 keep-alive client: send a GET now, read its response later.
function send(conn: Conn, path: string): Promise<number> {
  return conn.write(enc.encode(`GET ${path} HTTP/1.1\r\nHost: demo\r\n\r\n`));
}

async function receive(conn: Conn): Promise<string> {
  let got = "";
  const buf = new Uint8Array(8192);
  while (true) {
    const end = got.indexOf("\r\n\r\n");
    if (end >= 0) {
      const length = Number(
        /content-length: *(\d+)/i.exec(got.slice(0, end))?.[1] ?? 0,
      );
      if (got.length >= end + 4 + length) break;
    }
    const n = await conn.read(buf);
    if (n === null) break;
    got += dec.decode(buf.subarray(0, n));
  }
  const status = got.slice(0, got.indexOf("\r\n"));
  const connection = /connection: *(\S+)/i.exec(got)?.[1];
  return `${status} (Connection: ${connection}) ${
    JSON.stringify(got.slice(got.indexOf("\r\n\r\n") + 4))
  }`;
}

if (serveMode) {
  log("press Ctrl+C to drain");
} else {
  // Clients that come during the warm-up: they connect and send at once, and
  // are answered once the server is ready, in order, none lost.
  const clients = await Promise.all(
    [0, 1, 2].map(() => connect({ hostname: "127.0.0.1", port })),
  );
  await Promise.all(clients.map((c, i) => send(c, `/${i}`)));
  // Bun and Node accept eagerly (and hold the conns unread): let them catch up.
  for (let i = 0; i < 100 && (listener.pending ?? 3) < 3; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  log(
    `3 clients connected and sent a request during the warm-up; they wait ${
      listener.pending === undefined
        ? "in the kernel backlog"
        : `unread in the listener's queue (pending: ${listener.pending})`
    }`,
  );
  await Promise.all(
    clients.map(async (c, i) => log(`client ${i}: ${await receive(c)}`)),
  );
  // A slow request in flight, then Ctrl+C (as a signal to ourselves).
  const slowClient = await connect({ hostname: "127.0.0.1", port });
  await send(slowClient, "/slow");
  const slow = receive(slowClient);
  while (listener.stats.inUse === 0) await new Promise((r) => setTimeout(r, 5));
  log("a /slow request is in flight; sending SIGINT, as Ctrl+C would");
  process.kill(process.pid, "SIGINT");
  log(`slow client: ${await slow}`);
  for (const c of [...clients, slowClient]) c.close();
}

await drained;
await serving;
