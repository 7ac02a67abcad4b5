// Benchmark: what graceful tracking costs, measured in the same run.
//   deno run -A bench/graceful_http.ts [rounds]     bun bench/graceful_http.ts [rounds]
//   node npm/esm/bench/graceful_http.js [rounds]    (after node scripts/build_npm.mjs)
// - http: requests/s of a bare node:http server against the same server with
//   gracefulHttp() (50 keep-alive conns, one request in flight each);
//   target ratio >= 0.97.
// - echo (64-byte ping-pong, 100 conns) and accept (connect, 1 byte, echo,
//   close): the runtime's own API, the adapter's plain listen(), and
//   wrap(listen()) in Automatic mode, marking the conn idle after each reply
//   (what a request/response server does); target wrapped/native >= 0.95.
// - micro (in process, no I/O): what tracking adds per operation, and what a
//   new conn's freshness adds per conn (wrap() against wrap({ grace: 0 })).
// Each server runs in a child process on this runtime; a Bun native load
// client (in this file) drives it. Kinds alternate round by round; the table
// shows medians of the client's ops/s and of the server's CPU per operation
// (user + system, measured only while the client counts): on a shared
// machine the CPU ratio is the steadier figure.
// Not library code: it may use Deno.*, Bun.* and node:* directly.
// deno-lint-ignore-file no-explicit-any
import { EventEmitter } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { type GracefulConn, gracefulHttp, wrap } from "../src/graceful/mod.ts";
import { type Conn, listen, type Listener, runtime } from "../src/runtime/mod.ts";
import { serveEcho, serveNative } from "./_servers.ts";
import { measuredRound, median, reportCpu, type Sample } from "./_rounds.ts";

const g = globalThis as any;
const args: string[] = g.process.argv.slice(2);
const SECONDS = 2;

// ---------------------------------------------------------------------------
// Servers (child processes)

async function serveHttp(graceful: boolean): Promise<number> {
  const body = new TextEncoder().encode("ok");
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": "2" });
    res.end(body);
  });
  if (graceful) gracefulHttp(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as any).port;
}

async function serveNetkit(wrapped: boolean): Promise<number> {
  const inner = await listen({ hostname: "127.0.0.1", port: 0 });
  // Wrapped: a read marks the conn in use (Automatic), the reply marks it idle.
  if (wrapped) serveEcho(wrap(inner), (conn: GracefulConn) => conn.markIdle());
  else serveEcho(inner);
  return inner.addr.transport === "tcp" ? inner.addr.port : 0;
}

// ---------------------------------------------------------------------------
// Load clients (run on Bun): `client <http|echo|accept> <port> <conns> <seconds>`.
// Each prints "MARK" when it starts counting, "END" when it stops, then
// "RESULT <ops/s>"; the driver relays MARK and END to the server, which
// answers with the CPU time it used in between.

async function loadClient(
  test: string,
  port: number,
  conns: number,
  seconds: number,
): Promise<number> {
  const B = g.Bun;
  let count = 0;
  let counting = false;
  let stop = false;
  const window = async () => {
    await B.sleep(500); // warm-up
    counting = true;
    console.log("MARK");
    await B.sleep(seconds * 1000);
    counting = false;
    stop = true;
    console.log("END");
  };
  if (test === "accept") {
    const one = () =>
      new Promise<void>((resolve) => {
        B.connect({
          hostname: "127.0.0.1",
          port,
          socket: {
            open(sock: any) {
              sock.write("x");
            },
            data(sock: any) {
              if (counting) count++;
              sock.terminate(); // RST: no TIME_WAIT pile-up
              resolve();
            },
            error: () => resolve(),
            connectError: () => resolve(),
            close: () => resolve(),
          },
        }).catch(() => resolve());
      });
    await Promise.all([
      window(),
      ...Array.from({ length: conns }, async () => {
        while (!stop) await one();
      }),
    ]);
    return count / seconds;
  }
  const http = test === "http";
  const msg = http
    ? new TextEncoder().encode("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    : new Uint8Array(64).fill(97);
  const dec = new TextDecoder();
  const sockets: any[] = [];
  await Promise.all(Array.from({ length: conns }, async () => {
    let got = "";
    let bytes = 0;
    const s = await B.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(sock: any, d: Uint8Array) {
          if (http) {
            got += dec.decode(d);
            if (!got.endsWith("\r\n\r\nok")) return;
            got = "";
          } else {
            bytes += d.byteLength;
            if (bytes < 64) return;
            bytes -= 64;
          }
          if (counting) count++;
          if (!stop) sock.write(msg);
        },
        error() {},
        close() {},
      },
    });
    s.setNoDelay(true);
    sockets.push(s);
  }));
  for (const s of sockets) s.write(msg);
  await window();
  for (const s of sockets) s.terminate();
  return count / seconds;
}

// ---------------------------------------------------------------------------
// The driver

type Kind = "http-bare" | "http-graceful" | "native" | "adapter" | "wrapped";
type Test = "http" | "echo" | "accept";

/** Runs the server under test in a child and one load client against it. */
function round(kind: Kind, test: Test): Promise<Sample> {
  return measuredRound(
    import.meta.url,
    [kind],
    (port) => [test, String(port), test === "echo" ? "100" : "50", String(SECONDS)],
    SECONDS,
  );
}

async function measure(
  test: Test,
  kinds: Kind[],
  rounds: number,
): Promise<Record<string, Sample>> {
  const res: Record<string, Sample[]> = {};
  for (const k of kinds) res[k] = [];
  for (let i = 0; i < rounds; i++) {
    // Rotate the order so that no kind always runs first.
    const order = kinds.map((_, j) => kinds[(i + j) % kinds.length]);
    for (const kind of order) res[kind].push(await round(kind, test));
  }
  const out: Record<string, Sample> = {};
  for (const k of kinds) {
    out[k] = { rate: median(res[k].map((x) => x.rate)), cpu: median(res[k].map((x) => x.cpu)) };
    console.error(
      `${runtime.name} ${test} ${k}: ops/s ${res[k].map((x) => Math.round(x.rate)).join(",")}` +
        `; cpu µs/op ${res[k].map((x) => x.cpu.toFixed(2)).join(",")}`,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------
// In-process overhead per operation, without I/O: the same loop over a fake
// conn / listener / http server, bare and tracked. The difference is what
// tracking adds per operation, a figure the load on the machine barely moves
// (best of several alternating runs).

function fakeConn(): Conn {
  const n = Promise.resolve(64);
  return {
    read: () => n,
    write: () => n,
    close() {},
    setReadDeadline() {},
    localAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 2 },
  } as unknown as Conn;
}

function fakeListener(): Listener {
  return {
    accept: () => Promise.resolve(fakeConn()),
    close: () => Promise.resolve(),
    addr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  } as unknown as Listener;
}

async function bestNs(fn: (n: number) => Promise<void>, n: number): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await fn(n);
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
  }
  return best;
}

async function microOverhead(): Promise<Record<string, number>> {
  const buf = new Uint8Array(64);
  // Echo: read (data marks the conn in use), write, mark idle.
  const echoLoop = (wrapped: boolean) => async (n: number) => {
    const conn = wrapped ? await wrap(fakeListener()).accept() : fakeConn();
    const tracked = wrapped ? (conn as GracefulConn) : null;
    for (let i = 0; i < n; i++) {
      await conn.read(buf);
      await conn.write(buf);
      tracked?.markIdle();
    }
  };
  // Accept: accept, one read, one write, close.
  const acceptLoop = (wrapped: boolean) => async (n: number) => {
    const l = wrapped ? wrap(fakeListener()) : fakeListener();
    for (let i = 0; i < n; i++) {
      const conn = await l.accept();
      await conn.read(buf);
      await conn.write(buf);
      conn.close();
    }
  };
  // Freshness: the accept loop through wrap() with a grace period (the
  // default: fresh until the first read) against wrap({ grace: 0 }).
  const freshLoop = (fresh: boolean) => async (n: number) => {
    const l = wrap(fakeListener(), fresh ? undefined : { grace: 0 });
    for (let i = 0; i < n; i++) {
      const conn = await l.accept();
      await conn.read(buf);
      await conn.write(buf);
      conn.close();
    }
  };
  // HTTP: a request on a keep-alive socket and its response's finish, with
  // one listener of node:http's own on "finish", as node:http has.
  const httpLoop = (graceful: boolean) => (n: number) => {
    const server = new EventEmitter() as any;
    server.close = () => {};
    server.on("request", (_req: unknown, res: any) => res.statusCode);
    if (graceful) gracefulHttp(server);
    const socket = new EventEmitter() as any;
    socket.destroy = () => {};
    server.emit("connection", socket);
    const req = { socket };
    const nodeOwn = () => {};
    for (let i = 0; i < n; i++) {
      const res = new EventEmitter() as any;
      res.headersSent = false;
      res.setHeader = () => {};
      res.on("finish", nodeOwn);
      server.emit("request", req, res);
      res.emit("finish");
    }
    return Promise.resolve();
  };
  const out: Record<string, number> = {};
  for (
    const [name, loop, n] of [
      ["echo", echoLoop, 300_000],
      ["accept", acceptLoop, 200_000],
      ["http", httpLoop, 200_000],
      ["fresh", freshLoop, 200_000],
    ] as const
  ) {
    let bare = Infinity;
    let tracked = Infinity;
    for (let i = 0; i < 2; i++) {
      bare = Math.min(bare, await bestNs(loop(false), n));
      tracked = Math.min(tracked, await bestNs(loop(true), n));
    }
    out[name] = Math.max(0, tracked - bare);
    console.error(
      `${runtime.name} micro ${name}: bare ${bare.toFixed(0)} ns/op, tracked ${
        tracked.toFixed(0)
      } ns/op`,
    );
  }
  return out;
}

if (args[0] === "server") {
  const kind = args[1] as Kind;
  const port = kind === "http-bare" || kind === "http-graceful"
    ? await serveHttp(kind === "http-graceful")
    : kind === "native"
    ? await serveNative()
    : await serveNetkit(kind === "wrapped");
  reportCpu();
  console.log(`PORT ${port}`);
} else if (args[0] === "micro") {
  console.log(JSON.stringify(await microOverhead()));
} else if (args[0] === "client") {
  const r = await loadClient(args[1], Number(args[2]), Number(args[3]), Number(args[4]));
  console.log(`RESULT ${Math.round(r)}`);
} else {
  const rounds = Number(args[0] ?? 3);
  const micro = await microOverhead();
  const http = await measure("http", ["http-bare", "http-graceful"], rounds);
  const echo = await measure("echo", ["native", "adapter", "wrapped"], rounds);
  const accept = await measure("accept", ["native", "adapter", "wrapped"], rounds);
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "-");
  // Throughput ratio: graceful / baseline. CPU ratio: baseline µs/op /
  // graceful µs/op (the throughput ratio one core would give; far less
  // sensitive to other load on the machine than wall-clock throughput).
  console.log(
    `| runtime | test | baseline ops/s | graceful ops/s | ratio | baseline µs/op | graceful µs/op | CPU ratio |`,
  );
  console.log("|---|---|---|---|---|---|---|---|");
  const row = (name: string, base: Sample, graceful: Sample) =>
    console.log(
      `| ${runtime.name} | ${name} | ${Math.round(base.rate)} | ${Math.round(graceful.rate)} | ${
        f(graceful.rate / base.rate)
      } | ${base.cpu.toFixed(2)} | ${graceful.cpu.toFixed(2)} | ${f(base.cpu / graceful.cpu)} |`,
    );
  row("http req/s: node:http vs gracefulHttp", http["http-bare"], http["http-graceful"]);
  row("echo msgs/s: native vs wrap(listen)", echo.native, echo.wrapped);
  row("echo msgs/s: listen vs wrap(listen)", echo.adapter, echo.wrapped);
  row("accept conns/s: native vs wrap(listen)", accept.native, accept.wrapped);
  row("accept conns/s: listen vs wrap(listen)", accept.adapter, accept.wrapped);
  // What tracking adds per operation (in process, no I/O), set against the
  // CPU per operation of the bare server measured above.
  console.log(
    "\n| runtime | test | tracking adds (ns/op) | bare server CPU (µs/op) | estimated ratio |",
  );
  console.log("|---|---|---|---|---|");
  for (
    const [name, add, base] of [
      ["http (gracefulHttp vs node:http)", micro.http, http["http-bare"].cpu],
      ["echo (wrap(listen) vs listen)", micro.echo, echo.adapter.cpu],
      ["accept (wrap(listen) vs listen)", micro.accept, accept.adapter.cpu],
    ] as const
  ) {
    console.log(
      `| ${runtime.name} | ${name} | ${add.toFixed(0)} | ${base.toFixed(2)} | ${
        f(base / (base + add / 1000))
      } |`,
    );
  }
}
