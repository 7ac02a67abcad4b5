// Benchmark: the runtime adapter against the runtime's own API, same run.
//   deno run -A bench/runtime_bench.ts      bun bench/runtime_bench.ts
//   node npm/esm/bench/runtime_bench.js     (after node scripts/build_npm.mjs)
// Echo (64-byte ping-pong, 50 conns per server) and accept rate (25 loops of
// connect, 1 byte, echo, close per server), each server a child process on
// this runtime. Server kinds: the runtime's own API ("native"), netkit's
// listen() ("adapter") and graceful's wrap(listen()) ("wrap"). In each round
// the three run side by side, loaded at the same time by one Bun native load
// client, so they meet the same machine load. The table shows the median
// rates, and the median over rounds of each round's ratio to native (target
// >= 0.95): in rate, and in server CPU per message or conn (native ÷ netkit,
// from /proc on Linux), both over the counted window after a 1 s warm-up.
// With `floor` (Bun and Node), a fourth server runs beside them: the same
// echo code over the smallest promise-based wrapper of the runtime's API
// (bench/_floor.ts), the floor of what any such API costs.
//   <runtime> bench/runtime_bench.ts [rounds] [seconds] [floor]
// Not library code: it may use Deno.*, Bun.* and node:* directly.
// deno-lint-ignore-file no-explicit-any
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { wrap } from "../src/graceful/mod.ts";
import { listen, runtime } from "../src/runtime/mod.ts";
import { serveFloor } from "./_floor.ts";
import { repoRoot, serveEcho, serveNative } from "./_servers.ts";

const g = globalThis as any;
const args: string[] = g.process.argv.slice(2);

type Kind = "native" | "adapter" | "wrap" | "floor";

async function serveAdapter(wrapped: boolean): Promise<number> {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  serveEcho(wrapped ? wrap(listener) : listener);
  return listener.addr.transport === "tcp" ? listener.addr.port : 0;
}

function selfCommand(extra: string[]): [string, string[]] {
  const script = fileURLToPath(import.meta.url);
  if (runtime.name === "deno") return [g.Deno.execPath(), ["run", "-A", script, ...extra]];
  return [g.process.execPath, [script, ...extra]];
}

/** A process's user + system CPU time in ms, from /proc (Linux); NaN elsewhere. */
/** A process's user and system CPU time in ms, from /proc (Linux); NaN elsewhere. */
function cpuSplit(pid: number | undefined): [user: number, system: number] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return [Number(f[11]) * 10, Number(f[12]) * 10]; // utime, stime; USER_HZ = 100
  } catch {
    return [NaN, NaN];
  }
}

function run(cmd: string, argv: string[], onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      out += d;
      if (onLine) { for (const l of d.split("\n")) if (l) onLine(l); }
    });
    child.on("error", reject);
    child.on("exit", () => resolve(out));
  });
}

interface Sample {
  /** Messages (echo) or connections (accept) per second. */
  rate: number;
  /** Server CPU µs per message or connection, over the counted window. */
  cpu: number;
  /** The part of `cpu` spent in the kernel. */
  sys: number;
}

/** Starts a server of `kind` in a child process; resolves with it and its port. */
function startServer(kind: Kind): Promise<[ReturnType<typeof spawn>, number]> {
  const [cmd, argv] = selfCommand(["server", kind]);
  const server = spawn(cmd, argv, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    server.stdout!.setEncoding("utf8");
    server.stdout!.on("data", (d: string) => {
      const m = /PORT (\d+)/.exec(d);
      if (m) resolve([server, Number(m[1])]);
    });
    server.on("exit", () => reject(new Error("bench server exited")));
  });
}

/**
 * One round: every kind's server at once, loaded at the same time by one
 * client (the same conns or loops each), so all meet the same machine load.
 */
async function round(kinds: Kind[], test: "echo" | "accept", seconds: number): Promise<Sample[]> {
  const servers: ReturnType<typeof spawn>[] = [];
  try {
    const ports: number[] = [];
    for (const kind of kinds) {
      const [server, port] = await startServer(kind);
      servers.push(server);
      ports.push(port);
    }
    const bun = join(repoRoot(import.meta.url), "scripts/node_modules/.bin/bun");
    const client = join(repoRoot(import.meta.url), "bench/_load_client.ts");
    const n = test === "echo" ? 50 : 25;
    // CPU time over the counted window only (after the client's warm-up).
    let cpu0: [number, number][] = [];
    let cpu: [number, number][] = servers.map(() => [NaN, NaN]);
    const out = await run(bun, [client, test, ports.join(","), String(n), String(seconds)], (l) => {
      if (l === "START") cpu0 = servers.map((s) => cpuSplit(s.pid));
      else if (l === "END") {
        cpu = servers.map((s, i) => {
          const [user, sys] = cpuSplit(s.pid);
          return [user - cpu0[i][0], sys - cpu0[i][1]];
        });
      }
    });
    const lines = [...out.matchAll(/RESULT (\d+) (\d+)/g)];
    return kinds.map((_, i) => {
      const m = lines[i];
      if (m === undefined) return { rate: NaN, cpu: NaN, sys: NaN };
      const [user, sys] = cpu[i];
      return {
        rate: Number(m[1]),
        cpu: ((user + sys) * 1000) / Number(m[2]),
        sys: (sys * 1000) / Number(m[2]),
      };
    });
  } finally {
    for (const s of servers) s.kill("SIGKILL");
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

if (args[0] === "server") {
  const kind = args[1] as Kind;
  const port = kind === "floor"
    ? await serveFloor(true)
    : kind === "native"
    ? await serveNative()
    : await serveAdapter(kind === "wrap");
  console.log(`PORT ${port}`);
  // Optional lifetime (for profiling runs): `server <kind> <seconds>`.
  if (args[2]) setTimeout(() => g.process.exit(0), Number(args[2]) * 1000);
} else {
  const rounds = Number(args[0] ?? 5);
  const seconds = Number(args[1] ?? 3);
  // The floor is a fourth server (more load): only when asked, and not on
  // Deno, whose own API is promise-based already (its native server is the floor).
  const floor = args[2] === "floor" && runtime.name !== "deno";
  const KINDS: Kind[] = floor
    ? ["native", "adapter", "wrap", "floor"]
    : ["native", "adapter", "wrap"];
  const rows: string[] = [];
  for (const test of ["echo", "accept"] as const) {
    const res: Record<Kind, Sample[]> = { native: [], adapter: [], wrap: [], floor: [] };
    for (let i = 0; i < rounds; i++) {
      // Rotate the start order (and the order of the client's ports).
      const order = KINDS.map((_, j) => KINDS[(i + j) % KINDS.length]);
      const got = await round(order, test, seconds);
      order.forEach((kind, j) => res[kind].push(got[j]));
    }
    // The median over rounds of each round's own ratio (its servers ran together).
    const ratio = (k: Kind, f: (s: Sample, n: Sample) => number) =>
      median(res[k].map((s, i) => f(s, res.native[i])));
    const rate = (k: Kind) => median(res[k].map((x) => x.rate));
    const cpu = (k: Kind) => median(res[k].map((x) => x.cpu));
    const label = test === "echo" ? "echo msgs/s" : "accept conns/s";
    for (const kind of KINDS.slice(1)) {
      const who = kind === "wrap"
        ? "wrap(listen())"
        : kind === "floor"
        ? "floor: any promise API"
        : "listen()";
      rows.push(
        `| ${runtime.name} | ${label} | ${who} | ${rate("native")} | ${rate(kind)} | ${
          ratio(kind, (s, n) => s.rate / n.rate).toFixed(3)
        } | ${cpu("native").toFixed(1)} | ${cpu(kind).toFixed(1)} | ${
          ratio(kind, (s, n) => n.cpu / s.cpu).toFixed(3)
        } |`,
      );
    }
    console.error(
      `${runtime.name} ${test}: ` +
        KINDS.map((k) =>
          `${k} ${
            res[k].map((x) => `${x.rate}/${x.cpu.toFixed(1)}µs(sys ${x.sys.toFixed(1)})`).join(",")
          }`
        )
          .join(" "),
    );
  }
  console.log(
    "| runtime | test | server | native /s | netkit /s | ratio | native CPU µs | netkit CPU µs | CPU ratio |\n" +
      "|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of rows) console.log(r);
}
