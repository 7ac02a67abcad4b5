// Benchmark: TLS through the adapter against the runtime's own TLS, same run;
// then networked channel values/s over TLS against plain TCP.
//   deno run -A bench/tls_bench.ts      bun bench/tls_bench.ts
//   node npm/esm/bench/tls_bench.js     (after node scripts/build_npm.mjs)
//   options: --rounds=<n> (default 3), --n=<channel values per round> (default 200000)
// Echo: 64-byte ping-pong on 50 TLS conns for 3 s, served by a child process
// on this runtime, driven by one Bun node:tls client process. Servers:
// - native:  Deno.listenTls / Bun.listen({ tls }) / node:tls (the runtime's own TLS)
// - nodetls: node:tls used directly (the stack the adapter uses; Deno and Bun)
// - adapter: listen({ tls }) and netkit conns
// Rounds alternate; the table shows the median round trips/s of each and the
// ratios adapter / native (target >= 0.9) and adapter / nodetls.
// Not library code: it may use Deno.*, Bun.* and node:* directly.
// deno-lint-ignore-file no-explicit-any
import { spawn } from "node:child_process";
import * as tls from "node:tls";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Channel, Dir, Exporter, Importer } from "../src/chan/mod.ts";
import { listen, runtime } from "../src/runtime/mod.ts";
import { ca, cert, key } from "../tests/fixtures/graceful_tls.ts";
import { repoRoot, serveDenoEcho, serveEcho } from "./_servers.ts";

const g = globalThis as any;
const args: string[] = g.process.argv.slice(2);
function arg(name: string, fallback: number): number {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3));
}
const HOST = "127.0.0.1";
const MSG = 64;
type Kind = "native" | "nodetls" | "adapter";

async function serveNodeTls(): Promise<number> {
  const server = tls.createServer({ cert, key }, (socket) => {
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return (server.address() as any).port;
}

async function serveNativeTls(): Promise<number> {
  if (runtime.name === "deno") {
    const listener = g.Deno.listenTls({ hostname: HOST, port: 0, cert, key });
    serveDenoEcho(listener);
    return listener.addr.port;
  }
  if (runtime.name === "bun") {
    const server = g.Bun.listen({
      hostname: HOST,
      port: 0,
      tls: { cert, key },
      socket: {
        data(s: any, d: Uint8Array) {
          s.write(d);
        },
        error() {},
      },
    });
    return server.port;
  }
  return await serveNodeTls();
}

async function serveAdapter(): Promise<number> {
  const listener = await listen({ hostname: HOST, port: 0, tls: { cert, key } });
  serveEcho(listener);
  return listener.addr.transport === "tcp" ? listener.addr.port : 0;
}

/** The load client: `conns` TLS conns doing 64-byte ping-pong for `seconds`. */
async function client(port: number, conns: number, seconds: number): Promise<void> {
  let count = 0;
  let stop = false;
  const ping = new Uint8Array(MSG).fill(7);
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: HOST, port, ca, servername: "localhost" });
      s.setNoDelay(true);
      let got = 0;
      s.on("error", reject);
      s.on("secureConnect", () => {
        s.on("data", (d: Uint8Array) => {
          got += d.byteLength;
          if (got < MSG) return;
          got -= MSG;
          count++;
          if (stop) {
            s.destroy();
            resolve();
          } else s.write(ping);
        });
        s.write(ping);
      });
    });
  const all = Array.from({ length: conns }, one);
  await new Promise((r) => setTimeout(r, 500)); // handshakes done, warm
  const before = count;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const rate = (count - before) / ((performance.now() - t0) / 1000);
  stop = true;
  await Promise.all(all);
  console.log(`RESULT ${Math.round(rate)}`);
}

function selfCommand(extra: string[]): [string, string[]] {
  const script = fileURLToPath(import.meta.url);
  if (runtime.name === "deno") return [g.Deno.execPath(), ["run", "-A", script, ...extra]];
  return [g.process.execPath, [script, ...extra]];
}

async function round(kind: Kind): Promise<number> {
  const [cmd, argv] = selfCommand(["server", kind]);
  const server = spawn(cmd, argv, { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout!.setEncoding("utf8");
    server.stdout!.on("data", (d: string) => {
      const m = /PORT (\d+)/.exec(d);
      if (m) resolve(Number(m[1]));
    });
    server.on("exit", () => reject(new Error("bench server exited")));
  });
  try {
    const root = repoRoot(import.meta.url);
    const bun = join(root, "scripts/node_modules/.bin/bun");
    // The client runs from the TypeScript source on Bun, whatever runs the bench.
    const script = join(root, "bench/tls_bench.ts");
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(bun, [script, "client", String(port), "50", "3"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let text = "";
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (d: string) => text += d);
      child.on("error", reject);
      child.on("exit", () => resolve(text));
    });
    const m = /RESULT (\d+)/.exec(out);
    return m ? Number(m[1]) : NaN;
  } finally {
    server.kill("SIGKILL");
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Values/s through an exported channel and an importer, over TLS or not. */
async function chanRate(n: number, overTls: boolean): Promise<number> {
  const exporter = new Exporter();
  const source = new Channel<{ id: number }>(1024);
  exporter.export("items", source, Dir.Send);
  const listener = await exporter.listenAndServe({
    hostname: HOST,
    port: 0,
    ...(overTls ? { tls: { cert, key } } : {}),
  });
  const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
  const importer = await Importer.connect({
    hostname: HOST,
    port,
    ...(overTls ? { tls: { ca, serverName: "localhost" } } : {}),
  });
  const sink = new Channel<{ id: number }>(1024);
  await importer.import("items", sink, Dir.Recv, 1024);
  const start = performance.now();
  const producer = (async () => {
    for (let i = 0; i < n; i++) await source.send({ id: i });
    source.close();
  })();
  let got = 0;
  for await (const _ of sink) got++;
  const elapsed = performance.now() - start;
  await producer;
  await importer.close();
  await exporter.close();
  if (got !== n) throw new Error(`got ${got} of ${n}`);
  return n / elapsed * 1000;
}

if (args[0] === "server") {
  const kind = args[1] as Kind;
  const port = kind === "native"
    ? await serveNativeTls()
    : kind === "nodetls"
    ? await serveNodeTls()
    : await serveAdapter();
  console.log(`PORT ${port}`);
} else if (args[0] === "client") {
  await client(Number(args[1]), Number(args[2]), Number(args[3]));
} else {
  const rounds = arg("rounds", 3);
  const kinds: Kind[] = runtime.name === "node"
    ? ["native", "adapter"]
    : ["native", "nodetls", "adapter"];
  const results: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const kind of kinds) (results[kind] ??= []).push(await round(kind));
  }
  const m = (k: Kind) => median(results[k] ?? [NaN]);
  console.log(`TLS echo on ${runtime.name} (round trips/s, median of ${rounds})`);
  for (const k of kinds) console.log(`  ${k.padEnd(8)} ${m(k).toFixed(0).padStart(8)}`);
  console.log(`  adapter / native  ${(m("adapter") / m("native")).toFixed(2)} (target >= 0.9)`);
  if (kinds.includes("nodetls")) {
    console.log(`  adapter / nodetls ${(m("adapter") / m("nodetls")).toFixed(2)}`);
  }
  const n = arg("n", 200_000);
  const plain: number[] = [];
  const overTls: number[] = [];
  for (let r = 0; r < rounds; r++) {
    plain.push(await chanRate(n, false));
    overTls.push(await chanRate(n, true));
  }
  console.log(`Channel values/s on ${runtime.name} (${n} values, median of ${rounds})`);
  console.log(`  plain TCP ${median(plain).toFixed(0).padStart(9)}`);
  console.log(`  TLS       ${median(overTls).toFixed(0).padStart(9)}`);
  console.log(`  TLS / plain ${(median(overTls) / median(plain)).toFixed(2)}`);
}
