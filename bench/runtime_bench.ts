// Benchmark: the runtime adapter against the runtime's own API, same run.
//   deno run -A bench/runtime_bench.ts      bun bench/runtime_bench.ts
//   node npm/esm/bench/runtime_bench.js     (after node scripts/build_npm.mjs)
// Echo (64-byte ping-pong, 100 conns) and accept rate (connect, 1 byte, echo,
// close), each served by a child process on this runtime, driven by one Bun
// native load client. Native and adapter rounds alternate; the table shows
// the median of each and the ratio adapter / native (target >= 0.95).
// Not library code: it may use Deno.*, Bun.* and node:* directly.
// deno-lint-ignore-file no-explicit-any
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { listen, runtime } from "../src/runtime/mod.ts";
import { repoRoot, serveEcho, serveNative } from "./_servers.ts";

const g = globalThis as any;
const args: string[] = g.process.argv.slice(2);

async function serveAdapter(): Promise<number> {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  serveEcho(listener);
  return listener.addr.transport === "tcp" ? listener.addr.port : 0;
}

function selfCommand(extra: string[]): [string, string[]] {
  const script = fileURLToPath(import.meta.url);
  if (runtime.name === "deno") return [g.Deno.execPath(), ["run", "-A", script, ...extra]];
  return [g.process.execPath, [script, ...extra]];
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

async function round(kind: "native" | "adapter", test: "echo" | "accept"): Promise<number> {
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
    const bun = join(repoRoot(import.meta.url), "scripts/node_modules/.bin/bun");
    const client = join(repoRoot(import.meta.url), "bench/_load_client.ts");
    const n = test === "echo" ? 100 : 50;
    const out = await run(bun, [client, test, String(port), String(n), "3"]);
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

if (args[0] === "server") {
  const port = args[1] === "native" ? await serveNative() : await serveAdapter();
  console.log(`PORT ${port}`);
  // Optional lifetime (for profiling runs): `server <kind> <seconds>`.
  if (args[2]) setTimeout(() => g.process.exit(0), Number(args[2]) * 1000);
} else {
  const rounds = Number(args[0] ?? 3);
  const rows: string[] = [];
  for (const test of ["echo", "accept"] as const) {
    const res: Record<string, number[]> = { native: [], adapter: [] };
    for (let i = 0; i < rounds; i++) {
      const order: ("native" | "adapter")[] = i % 2 === 0
        ? ["native", "adapter"]
        : ["adapter", "native"];
      for (const kind of order) {
        res[kind].push(await round(kind, test));
      }
    }
    const nat = median(res.native);
    const ada = median(res.adapter);
    rows.push(
      `| ${runtime.name} | ${
        test === "echo" ? "echo msgs/s" : "accept conns/s"
      } | ${nat} | ${ada} | ${(ada / nat).toFixed(3)} |`,
    );
    console.error(
      `${runtime.name} ${test}: native ${res.native.join(",")} adapter ${res.adapter.join(",")}`,
    );
  }
  console.log("| runtime | test | native | adapter | ratio |\n|---|---|---|---|---|");
  for (const r of rows) console.log(r);
}
