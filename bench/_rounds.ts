// Shared by the benches that run each server kind in a child process and
// load it from a separate Bun client: one measured round (server CPU between
// the client's MARK and END, and the client's rate), the server side of that
// CPU report, and medians.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtime } from "../src/runtime/mod.ts";
import { repoRoot } from "./_servers.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** One round's figures. */
export interface Sample {
  /** Operations per second the client saw. */
  rate: number;
  /** Server CPU (user + system) per operation, in microseconds. */
  cpu: number;
}

/** The command that runs `script` again on this runtime with `extra` arguments. */
function selfCommand(script: string, extra: string[]): [string, string[]] {
  if (runtime.name === "deno") return [g.Deno.execPath(), ["run", "-A", script, ...extra]];
  return [g.process.execPath, [script, ...extra]];
}

/**
 * Starts `script server ...serverArgs` on this runtime (it prints `PORT n`,
 * then `CPU µs` when told "end"), loads it with `bun script client
 * ...clientArgs(port)` (it prints MARK, END and `RESULT rate`) for `seconds`,
 * and kills the server.
 */
export async function measuredRound(
  scriptUrl: string,
  serverArgs: string[],
  clientArgs: (port: number) => string[],
  seconds: number,
): Promise<Sample> {
  const script = fileURLToPath(scriptUrl);
  const [cmd, argv] = selfCommand(script, ["server", ...serverArgs]);
  const server = spawn(cmd, argv, { stdio: ["pipe", "pipe", "inherit"] });
  let serverOut = "";
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout!.setEncoding("utf8");
    server.stdout!.on("data", (d: string) => {
      serverOut += d;
      const m = /PORT (\d+)/.exec(serverOut);
      if (m) resolve(Number(m[1]));
    });
    server.on("exit", () => reject(new Error("bench server exited")));
  });
  try {
    const cpu = new Promise<number>((resolve) => {
      server.stdout!.on("data", () => {
        const m = /CPU (\d+)/.exec(serverOut);
        if (m) resolve(Number(m[1]));
      });
    });
    const bun = join(repoRoot(import.meta.url), "scripts/node_modules/.bin/bun");
    const client = spawn(bun, [script, "client", ...clientArgs(port)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    client.stdout!.setEncoding("utf8");
    client.stdout!.on("data", (d: string) => {
      out += d;
      if (d.includes("MARK")) server.stdin!.write("mark\n");
      if (d.includes("END")) server.stdin!.write("end\n");
    });
    await new Promise((resolve) => client.on("exit", resolve));
    const rate = Number(/RESULT (\d+)/.exec(out)?.[1] ?? NaN);
    const used = await cpu;
    return { rate, cpu: used / (rate * seconds) };
  } finally {
    server.kill("SIGKILL");
  }
}

/** Server side: reports the CPU used between the driver's "mark" and "end". */
export function reportCpu(): void {
  const proc = g.process;
  let start: { user: number; system: number } | undefined;
  proc.stdin.setEncoding("utf8");
  proc.stdin.on("data", (d: string) => {
    if (d.includes("mark")) start = proc.cpuUsage();
    if (d.includes("end") && start !== undefined) {
      const used = proc.cpuUsage(start);
      console.log(`CPU ${used.user + used.system}`);
    }
  });
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
