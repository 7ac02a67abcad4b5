// Benchmark: memory per idle connection, a pending read loop per conn vs one
// poller, and the poller's wake-up latency with every conn registered.
//   deno run -A bench/poll_memory.ts      bun bench/poll_memory.ts
//   node npm/esm/bench/poll_memory.js     (after node scripts/build_npm.mjs)
//   bash bench/poll_memory.sh             (raises ulimit -n first, runs all three)
// Options: --conns=N (10000), --buf=BYTES (16384: the read loop's buffer per
// conn, and the size of the poller's pooled buffers), --samples=N (2000),
// --rounds=N (3: the table shows medians; modes alternate between rounds).
//
// Each mode runs in a fresh server process on this runtime (netkit's adapter)
// that spawns its own client process: the clients connect, send a 128-byte
// greeting and go idle, so the RSS delta (after GC, 2 s after the last
// greeting) is the server's. Then, with every conn still registered, 50 more
// conns made by the server process itself write one byte at a time and the
// time from write() to the callback (poller) or to the read's return (read
// loop) is the wake-up latency. The poller's callbacks take their buffer from
// a pool (as gobwas/ws does): buffers exist only for the conns that speak.
// Not library code: it may use Deno.*, Bun.* and node:* directly.
// deno-lint-ignore-file no-explicit-any
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { createPoller, Event, handleRead } from "../src/poll/mod.ts";
import { type Conn, connect, listen, runtime } from "../src/runtime/mod.ts";

const g = globalThis as any;
const argv: string[] = g.process.argv.slice(2);
const opts = new Map<string, string>();
const positional: string[] = [];
for (const a of argv) {
  const m = /^--([a-z]+)=(.*)$/.exec(a);
  if (m) opts.set(m[1], m[2]);
  else positional.push(a);
}
const CONNS = Number(opts.get("conns") ?? 10_000);
const BUF = Number(opts.get("buf") ?? 16 * 1024);
const SAMPLES = Number(opts.get("samples") ?? 2000);
const ROUNDS = Number(opts.get("rounds") ?? 3);
const GREETING = 128;
const PROBES = 50;
/** The most buffers the poller's pool keeps (a burst may need more, briefly). */
const POOL = 64;

// "idle" (diagnostic, --modes=idle,...): read the greeting once, then hold
// the conn with nothing pending: the adapter's own cost per conn.
type Mode = "readloop" | "poller" | "idle";
interface Result {
  mode: Mode;
  conns: number;
  rssBefore: number;
  rssAfter: number;
  perConn: number;
  p50: number;
  p99: number;
}

function rss(): number {
  return g.process.memoryUsage().rss;
}

async function gc(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    if (typeof g.Bun?.gc === "function") g.Bun.gc(true);
    else if (typeof g.gc === "function") g.gc();
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The soft fd limit, from /proc (Linux), or Infinity when unknown. */
function fdLimit(): number {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : Infinity;
  } catch {
    return Infinity;
  }
}

function selfCommand(extra: string[], exposeGc: boolean): [string, string[]] {
  const script = fileURLToPath(import.meta.url);
  if (runtime.name === "deno") {
    const flags = exposeGc ? ["--v8-flags=--expose-gc"] : [];
    return [g.Deno.execPath(), ["run", "-A", ...flags, script, ...extra]];
  }
  if (runtime.name === "node" && exposeGc) {
    return [g.process.execPath, ["--expose-gc", script, ...extra]];
  }
  return [g.process.execPath, [script, ...extra]];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// ---- client role: n idle conns, each sends a greeting, then nothing.
async function client(port: number, n: number): Promise<void> {
  const sockets: net.Socket[] = [];
  const greeting = new Uint8Array(GREETING).fill(104);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < n) {
      next++;
      await new Promise<void>((resolve, reject) => {
        const s = net.connect({ host: "127.0.0.1", port }, () => {
          s.write(greeting);
          resolve();
        });
        s.once("error", reject);
        s.on("data", () => {});
        sockets.push(s);
      });
    }
  }
  await Promise.all(Array.from({ length: 100 }, worker));
  console.log(`CONNECTED ${sockets.length}`);
  // Stay idle until the server kills us.
  await new Promise(() => {});
}

// ---- server role: accept n conns, hold them idle one way, measure.
async function server(mode: Mode, n: number): Promise<void> {
  const listener = await listen({ hostname: "127.0.0.1", port: 0, backlog: 4096 });
  const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
  const poller = createPoller();
  const pool: Uint8Array[] = [];
  let greeted = 0;
  let allGreeted: () => void = () => {};
  const greetings = new Promise<void>((r) => allGreeted = r);
  // The latency sample in flight: whoever sees its byte first records the time.
  let sample: { resolve: (t: number) => void } | null = null;
  const woke = (t: number) => {
    const s = sample;
    sample = null;
    s?.resolve(t);
  };
  const received = (k: number) => {
    greeted += k;
    if (greeted >= n * GREETING) allGreeted();
  };

  function serve(conn: Conn): void {
    if (mode === "idle") {
      (async () => {
        const buf = new Uint8Array(GREETING);
        let got = 0;
        while (got < GREETING) {
          const r = await conn.read(buf.subarray(got));
          if (r === null) break;
          got += r;
        }
        received(got);
      })();
      return;
    }
    if (mode === "readloop") {
      (async () => {
        const buf = new Uint8Array(BUF); // one per conn, for its whole life
        try {
          while (true) {
            const r = await conn.read(buf);
            if (r === null) break;
            if (sample !== null) woke(performance.now());
            received(r);
          }
        } catch { /* reset */ }
        conn.close();
      })();
      return;
    }
    const desc = handleRead(conn);
    poller.start(desc, async (ev) => {
      if (sample !== null) woke(performance.now());
      if ((ev & Event.Read) !== 0) {
        // A buffer only while the conn speaks, from a pool (as gobwas/ws does).
        const buf = pool.pop() ?? new Uint8Array(BUF);
        try {
          const r = await conn.read(buf);
          if (r !== null) received(r);
        } finally {
          if (pool.length < POOL) pool.push(buf);
        }
      }
      if ((ev & (Event.ReadHup | Event.Hup | Event.PollerClosed)) !== 0) {
        if ((ev & Event.PollerClosed) === 0) poller.stop(desc);
        conn.close();
      }
    });
  }

  const conns: Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      serve(conn);
    }
  })();

  await gc();
  await sleep(500);
  await gc();
  const rssBefore = rss();

  const progress = setInterval(() => {
    console.error(`  ${mode}: ${conns.length} accepted, ${greeted / GREETING} greeted`);
  }, 5000);
  const [cmd, args] = selfCommand(["client", String(port), String(n)], false);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      if (d.includes("CONNECTED")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`client exited (${code})`)));
  });
  await greetings;
  clearInterval(progress);
  await sleep(2000);
  await gc();
  const rssAfter = rss();
  const heap = g.process.memoryUsage().heapUsed;
  console.error(`  ${mode}: JS heap used ${Math.round(heap / n)} B/conn (all of it, not a delta)`);

  // Wake-up latency with every conn registered: conns from this process.
  const probes: Conn[] = [];
  for (let i = 0; i < (mode === "idle" ? 0 : PROBES); i++) {
    probes.push(await connect({ hostname: "127.0.0.1", port }));
  }
  await sleep(200);
  const one = new Uint8Array([1]);
  const lat: number[] = [];
  for (let i = 0; i < (mode === "idle" ? 0 : SAMPLES); i++) {
    const c = probes[i % PROBES];
    const woken = new Promise<number>((resolve) => sample = { resolve });
    const t0 = performance.now();
    await c.write(one);
    lat.push(await woken - t0);
  }
  lat.sort((a, b) => a - b);

  const result: Result = {
    mode,
    conns: n,
    rssBefore,
    rssAfter,
    perConn: Math.round((rssAfter - rssBefore) / n),
    p50: lat.length === 0 ? NaN : quantile(lat, 0.5),
    p99: lat.length === 0 ? NaN : quantile(lat, 0.99),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  child.kill("SIGKILL");
  g.process.exit(0);
}

// ---- main role: one server process per mode, then the table.
function runServer(mode: Mode, n: number): Promise<Result> {
  const [cmd, args] = selfCommand(
    ["server", mode, String(n), `--buf=${BUF}`, `--samples=${SAMPLES}`],
    true,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => out += d);
    child.on("error", reject);
    child.on("exit", (code) => {
      const m = /RESULT (.*)/.exec(out);
      if (m) resolve(JSON.parse(m[1]));
      else reject(new Error(`server (${mode}) exited (${code}) without a result:\n${out}`));
    });
  });
}

async function main(): Promise<void> {
  let n = CONNS;
  const limit = fdLimit();
  if (limit < n + 200) {
    n = Math.max(100, limit - 200);
    console.error(
      `poll_memory: ulimit -n is ${limit}: measuring ${n} conns (run bench/poll_memory.sh to raise it)`,
    );
  }
  for (const extra of (opts.get("modes") ?? "").split(",").filter((m) => m !== "")) {
    console.error(`${runtime.name} ${extra}: ${JSON.stringify(await runServer(extra as Mode, n))}`);
  }
  const results: Record<"readloop" | "poller", Result[]> = { readloop: [], poller: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const order: ("readloop" | "poller")[] = i % 2 === 0
      ? ["readloop", "poller"]
      : ["poller", "readloop"];
    for (const mode of order) {
      const r = await runServer(mode, n);
      console.error(
        `${runtime.name} ${mode}: ${r.perConn} B/conn, wake-up p50 ${r.p50.toFixed(3)} ms, p99 ${
          r.p99.toFixed(3)
        } ms`,
      );
      results[mode].push(r);
    }
  }
  const summary = (rs: Result[]) => ({
    perConn: median(rs.map((r) => r.perConn)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
  });
  const loop = summary(results.readloop);
  const poll = summary(results.poller);
  const f = (ms: number) => ms.toFixed(3);
  console.log(
    `| runtime | conns | read-loop B/conn (${BUF} B buffer) | poller B/conn | ratio | poller wake-up p50 / p99 ms | read-loop wake-up p50 / p99 ms |`,
  );
  console.log("|---|---|---|---|---|---|---|");
  console.log(
    `| ${runtime.name} | ${n} | ${loop.perConn} | ${poll.perConn} | ${
      (poll.perConn / loop.perConn).toFixed(2)
    } | ${f(poll.p50)} / ${f(poll.p99)} | ${f(loop.p50)} / ${f(loop.p99)} |`,
  );
}

if (positional[0] === "client") {
  await client(Number(positional[1]), Number(positional[2]));
} else if (positional[0] === "server") {
  await server(positional[1] as Mode, Number(positional[2]));
} else {
  await main();
}
