// Echo servers shared by the benchmarks: the runtime's own API, and netkit's
// Listener. Not library code: it may use Deno.*, Bun.* and node:* directly.
// deno-lint-ignore-file no-explicit-any
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Conn, type Listener, runtime } from "../src/runtime/mod.ts";

const g = globalThis as any;

/**
 * The read buffer each echo conn allocates (netkit's servers and Deno's own;
 * node:net and Bun hand their chunks over): 4 KiB, as Go's `bufio.Reader`
 * and `net/http` read with. It was 64 KiB, and on Node a fresh 64 KiB
 * `Uint8Array` per conn cost about 90 µs of server CPU and 2-3 more page
 * faults per accepted conn (a node:net server made to allocate one too fell
 * to the adapter's accept rate; 16 KiB still cost 30-60 µs, 4 KiB nothing
 * measurable), which the accept bench charged to the adapter. Echo
 * messages are 64 bytes.
 */
export const ECHO_BUFFER: number = 4 * 1024;

/**
 * Read buffers of ended conns, for the next ones (at most POOL_KEPT kept):
 * what Go's net/http does with its `bufio.Reader`s (a `sync.Pool`), and what
 * node:net and Bun do inside for their chunks. A fresh 4 KiB buffer per conn
 * still cost Bun's accept about 20 µs of server CPU (issue 14's third pass).
 */
const pool: Uint8Array[] = [];
const POOL_KEPT = 64;

/** A read buffer from the pool, or a new one. */
function takeBuffer(): Uint8Array {
  return pool.pop() ?? new Uint8Array(ECHO_BUFFER);
}

/** Gives a conn's read buffer back when the conn is done with it. */
function giveBuffer(buf: Uint8Array): void {
  if (pool.length < POOL_KEPT) pool.push(buf);
}

/** The repo root (the directory holding deno.json), from a bench file's `import.meta.url`. */
export function repoRoot(metaUrl: string): string {
  const here = dirname(fileURLToPath(metaUrl));
  return here.endsWith(join("npm", "esm", "bench"))
    ? join(here, "..", "..", "..")
    : join(here, "..");
}

/** Echoes every conn of a `Deno.listen` or `Deno.listenTls` listener with Deno's own API. */
export function serveDenoEcho(listener: AsyncIterable<any>): void {
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = takeBuffer();
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            let off = 0;
            while (off < n) off += await conn.write(buf.subarray(off, n));
          }
        } catch { /* reset by the client */ }
        giveBuffer(buf);
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })();
}

/** An echo server on this runtime's own API (Deno.listen, Bun.listen, node:net); returns its port. */
export async function serveNative(): Promise<number> {
  if (runtime.name === "deno") {
    const l = g.Deno.listen({ hostname: "127.0.0.1", port: 0 });
    serveDenoEcho(l);
    return l.addr.port;
  }
  if (runtime.name === "bun") {
    const l = g.Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(s: any, d: Uint8Array) {
          s.write(d);
        },
        error() {},
      },
    });
    return l.port;
  }
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on("data", (d) => s.write(d));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as any).port;
}

/** Echoes every conn of `listener` through netkit; `afterReply` runs after each reply. */
export function serveEcho<C extends Conn>(
  listener: Listener & AsyncIterable<C>,
  afterReply?: (conn: C) => void,
): void {
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = takeBuffer();
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            await conn.write(buf.subarray(0, n));
            afterReply?.(conn);
          }
        } catch { /* reset by the client */ }
        giveBuffer(buf);
        conn.close();
      })();
    }
  })();
}
