// Benchmark: a hello-world handler through serve() against the same handler
// on the runtime's own servers, measured side by side in one run.
//   deno run -A bench/http_bench.ts [rounds]     bun bench/http_bench.ts [rounds]
//   node npm/esm/bench/http_bench.js [rounds]    (after node scripts/build_npm.mjs)
//   [rounds] [kind,kind,...] to run only some servers.
// Servers (each in a child process on this runtime):
// - node-http: node:http's createServer().listen() with a (req, res) handler;
// - node-http-fetch: the same server with the fetch handler, converted by
//              serve()'s own conversion (the lazy Request, writeResponse()):
//              the cost of the conversion alone, without serve()'s conn path;
// - native:    Deno.serve / Bun.serve with a fetch handler (none on Node);
// - fetch:     serve({ listener: await listen(...), fetch }) (netkit);
// - handler:   serve({ listener, handler }) with the (req, res) handler (netkit);
// - fetch-light: serve({ fetch }) after useLightResponse() (the opt-in light
//              global Response: the handler's `new Response` makes no real one);
// - *-nodenet: the same on a listener of the node:net adapter (Deno and Bun;
//              on Node it is the only adapter): node:http reads the socket itself.
// A Bun native client keeps 10 keep-alive conns with one request in flight
// each. Kinds alternate round by round; the table shows medians of req/s and
// of the server's CPU per request (user + system while the client counts):
// on a shared machine the CPU ratio is the steadier figure.
// Not library code: it may use Deno.*, Bun.* and node:* directly.
// deno-lint-ignore-file no-explicit-any
import { createServer } from "node:http";
import { serve, useLightResponse } from "../src/http/mod.ts";
import {
  type NodeRequest,
  type NodeResponse,
  toRequest,
  writeResponse,
} from "../src/http/_fetch.ts";
import { listen, runtime } from "../src/runtime/mod.ts";
import { useRuntime } from "../src/runtime/testing.ts";
import { measuredRound, median, reportCpu, type Sample } from "./_rounds.ts";

const g = globalThis as any;
const args: string[] = g.process.argv.slice(2);
const SECONDS = 2;
const CONNS = 10;

type Kind =
  | "node-http"
  | "node-http-fetch"
  | "native"
  | "fetch"
  | "handler"
  | "fetch-light"
  | "fetch-nodenet"
  | "handler-nodenet";

const nodeHandler = (_req: unknown, res: any) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
  res.end("ok");
};
const fetchHandler = (_request?: Request) =>
  new Response("ok", { headers: { "content-type": "text/plain" } });

async function startServer(kind: Kind): Promise<number> {
  switch (kind) {
    case "node-http": {
      const server = createServer(nodeHandler);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      return (server.address() as any).port;
    }
    case "node-http-fetch": {
      const server = createServer((req, res) => {
        const request = toRequest(req as NodeRequest, "127.0.0.1", 1 << 24, () => {});
        Promise.resolve(fetchHandler(request)).then((response) =>
          writeResponse(res as unknown as NodeResponse, response, req.method === "HEAD", false)
        );
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      return (server.address() as any).port;
    }
    case "native": {
      if (g.Deno !== undefined) {
        const s = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, fetchHandler);
        return s.addr.port;
      }
      return g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: fetchHandler }).port;
    }
    default: {
      if (kind.endsWith("-nodenet")) useRuntime("node");
      if (kind === "fetch-light") useLightResponse();
      const listener = await listen({ hostname: "127.0.0.1", port: 0 });
      if (kind.startsWith("fetch")) serve({ listener, fetch: fetchHandler });
      else serve({ listener, handler: nodeHandler });
      return listener.addr.transport === "tcp" ? listener.addr.port : 0;
    }
  }
}

// ---------------------------------------------------------------------------
// Load client (run on Bun): `client <port> <conns> <seconds>`. Prints "MARK"
// when it starts counting, "END" when it stops, then "RESULT <req/s>".

async function loadClient(port: number, conns: number, seconds: number): Promise<number> {
  const B = g.Bun;
  let count = 0;
  let counting = false;
  let stop = false;
  const msg = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: bench\r\n\r\n");
  const dec = new TextDecoder();
  const sockets: any[] = [];
  await Promise.all(Array.from({ length: conns }, async () => {
    let got = "";
    const s = await B.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(sock: any, d: Uint8Array) {
          got += dec.decode(d);
          if (!got.endsWith("\r\n\r\nok")) return;
          got = "";
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
  await B.sleep(500); // warm-up
  counting = true;
  console.log("MARK");
  await B.sleep(seconds * 1000);
  counting = false;
  stop = true;
  console.log("END");
  for (const s of sockets) s.terminate();
  return count / seconds;
}

// ---------------------------------------------------------------------------
// The driver

function round(kind: Kind): Promise<Sample> {
  return measuredRound(
    import.meta.url,
    [kind],
    (port) => [String(port), String(CONNS), String(SECONDS)],
    SECONDS,
  );
}

if (args[0] === "server") {
  const port = await startServer(args[1] as Kind);
  reportCpu();
  console.log(`PORT ${port}`);
} else if (args[0] === "client") {
  const r = await loadClient(Number(args[1]), Number(args[2]), Number(args[3]));
  console.log(`RESULT ${Math.round(r)}`);
} else {
  const rounds = Number(args[0] ?? 3);
  const all: Kind[] = runtime.name === "node"
    ? ["node-http", "node-http-fetch", "fetch", "handler", "fetch-light"]
    : [
      "node-http",
      "node-http-fetch",
      "native",
      "fetch",
      "handler",
      "fetch-light",
      "fetch-nodenet",
      "handler-nodenet",
    ];
  const kinds = args[1] === undefined
    ? all
    : all.filter((k) => k === "node-http" || args[1].split(",").includes(k));
  const res: Record<string, Sample[]> = {};
  for (const k of kinds) res[k] = [];
  for (let i = 0; i < rounds; i++) {
    const order = kinds.map((_, j) => kinds[(i + j) % kinds.length]);
    for (const kind of order) res[kind].push(await round(kind));
  }
  const med: Record<string, Sample> = {};
  for (const k of kinds) {
    med[k] = { rate: median(res[k].map((x) => x.rate)), cpu: median(res[k].map((x) => x.cpu)) };
    console.error(
      `${runtime.name} ${k}: req/s ${res[k].map((x) => Math.round(x.rate)).join(",")}` +
        `; cpu µs/req ${res[k].map((x) => x.cpu.toFixed(1)).join(",")}`,
    );
  }
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  const nativeName = runtime.name === "deno" ? "Deno.serve" : "Bun.serve";
  console.log(
    "| runtime | server | req/s | CPU µs/req | req/s ÷ node:http | CPU ratio vs node:http | req/s ÷ native | CPU ratio vs native |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  const names: Record<Kind, string> = {
    "node-http": "node:http",
    "node-http-fetch": "node:http + fetch (serve()'s conversion)",
    native: nativeName,
    fetch: "serve({ fetch })",
    handler: "serve({ handler })",
    "fetch-light": "serve({ fetch }), useLightResponse()",
    "fetch-nodenet": "serve({ fetch }), node:net listener",
    "handler-nodenet": "serve({ handler }), node:net listener",
  };
  for (const k of kinds) {
    const s = med[k];
    const base = med["node-http"];
    const nat = med["native"];
    console.log(
      `| ${runtime.name} | ${names[k]} | ${Math.round(s.rate)} | ${s.cpu.toFixed(1)} | ${
        f(s.rate / base.rate)
      } | ${f(base.cpu / s.cpu)} | ${nat ? f(s.rate / nat.rate) : "-"} | ${
        nat ? f(nat.cpu / s.cpu) : "-"
      } |`,
    );
  }
  // The two comparisons issue 9 asks for, each with the same handler on both sides.
  const compare = (ours: Kind, theirs: Kind, what: string, target?: number) => {
    const a = med[ours];
    const b = med[theirs];
    if (a === undefined || b === undefined) return;
    const rate = a.rate / b.rate;
    const cpu = b.cpu / a.cpu;
    const verdict = target === undefined
      ? ""
      : `; target ≥ ${target}: ${Math.min(rate, cpu) >= target ? "met" : "not met"}`;
    console.log(
      `${runtime.name}: ${names[ours]} ÷ ${names[theirs]} (${what}): req/s ${f(rate)}, CPU ${
        f(cpu)
      }${verdict}`,
    );
  };
  console.log("");
  compare("handler", "node-http", "same node-style handler", 0.9);
  compare("handler-nodenet", "node-http", "same node-style handler", 0.9);
  compare("fetch", "native", "same fetch handler");
  compare("fetch", "node-http-fetch", "same fetch handler");
  compare("fetch", "node-http", "fetch handler vs node-style handler", 0.9);
  compare("fetch-light", "node-http", "fetch handler vs node-style handler", 0.9);
}
