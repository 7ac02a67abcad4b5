// The floor of a promise-based conn API: the least such an API can cost on
// this runtime, to tell what netkit adds from what the API's shape costs.
// Not library code: it may use Bun.* and node:* directly.
//
// A promise-based echo server (`for await` over the conns, an async function
// per conn, `await read()` and `await write()`: the same server code as
// bench/_servers.ts serveEcho) over the smallest correct wrapper of the
// runtime's callback API: one read waiting at a time, one chunk buffered,
// no deadlines, no backpressure, no readiness, no typed errors, no leak
// accounting, no remote address unless asked (`addrs`). Deno needs none:
// `Deno.listen` is promise-based already, its native server is the floor.
// deno-lint-ignore-file no-explicit-any
import { createServer } from "node:net";

const g = globalThis as any;

/** A conn of the floor: a read waits for the next chunk; a write is the runtime's. */
class FloorConn {
  readonly socket: any;
  readonly remote: { hostname: string; port: number } | undefined;
  #chunk: Uint8Array | null = null;
  #failure: Error | null = null;
  #buf: Uint8Array | null = null;
  #resolve: ((n: number | null) => void) | null = null;
  #reject: ((err: Error) => void) | null = null;
  readonly #copyOnWrite: boolean;

  /** `copyOnWrite`: the runtime keeps the written buffer (node:net), so a write copies. */
  constructor(socket: any, addrs: boolean, copyOnWrite: boolean) {
    this.socket = socket;
    this.remote = addrs ? { hostname: socket.remoteAddress, port: socket.remotePort } : undefined;
    this.#copyOnWrite = copyOnWrite;
  }

  read(buf: Uint8Array): Promise<number | null> {
    const chunk = this.#chunk;
    if (chunk !== null) {
      this.#chunk = null;
      buf.set(chunk);
      return Promise.resolve(chunk.byteLength);
    }
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#buf = buf;
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  write(bytes: Uint8Array): Promise<number> {
    this.socket.write(this.#copyOnWrite ? bytes.slice() : bytes);
    return Promise.resolve(bytes.byteLength);
  }

  close(): void {
    if (this.#copyOnWrite) this.socket.destroy();
    else this.socket.end();
  }

  onData(chunk: Uint8Array): void {
    const resolve = this.#resolve;
    if (resolve === null) {
      this.#chunk = chunk;
      return;
    }
    this.#resolve = this.#reject = null;
    this.#buf!.set(chunk);
    resolve(chunk.byteLength);
  }

  onFailure(err: Error): void {
    this.#failure ??= err;
    const reject = this.#reject;
    if (reject === null) return;
    this.#resolve = this.#reject = null;
    reject(err);
  }
}

/** The accepted conns, handed to `for await` as they come. */
class FloorQueue implements AsyncIterableIterator<FloorConn> {
  readonly #queue: FloorConn[] = [];
  readonly #waiters: ((result: IteratorResult<FloorConn>) => void)[] = [];

  add(conn: FloorConn): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter({ done: false, value: conn });
    else this.#queue.push(conn);
  }

  next(): Promise<IteratorResult<FloorConn>> {
    const conn = this.#queue.shift();
    if (conn !== undefined) return Promise.resolve({ done: false, value: conn });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Echoes every conn of `conns`: bench/_servers.ts's serveEcho, over the floor's conns. */
function echoAll(conns: FloorQueue): void {
  (async () => {
    for await (const conn of conns) {
      (async () => {
        const buf = new Uint8Array(4096);
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            await conn.write(buf.subarray(0, n));
          }
        } catch { /* reset by the client */ }
        conn.close();
      })();
    }
  })();
}

/**
 * Starts the floor's echo server on Bun (Bun.listen) or Node (node:net);
 * `addrs`: read each conn's remote address at accept, as netkit does.
 * Returns its port.
 */
export async function serveFloor(addrs: boolean): Promise<number> {
  const conns = new FloorQueue();
  echoAll(conns);
  if (g.Bun !== undefined) {
    const eof = new Error("EOF");
    const listener = g.Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      allowHalfOpen: true,
      socket: {
        open(s: any) {
          s.data = new FloorConn(s, addrs, false);
          conns.add(s.data);
        },
        data: (s: any, chunk: Uint8Array) => s.data.onData(chunk),
        end: (s: any) => s.data.onFailure(eof),
        close: (s: any, err?: Error) => s.data?.onFailure(err ?? eof),
        error: (s: any, err: Error) => s.data?.onFailure(err),
        drain() {},
      },
    });
    return listener.port;
  }
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    const conn = new FloorConn(socket, addrs, true);
    socket.on("data", (chunk: Uint8Array) => conn.onData(chunk));
    socket.on("end", () => conn.onFailure(new Error("EOF")));
    socket.on("error", (err: Error) => conn.onFailure(err));
    conns.add(conn);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as any).port;
}
