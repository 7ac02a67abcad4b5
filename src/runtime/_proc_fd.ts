// Internal, runtime adapter only: finds the fd of a listening socket through
// /proc (Linux), for runtimes that do not tell it (Deno.listen, Deno's
// node:net). The socket's inode comes from /proc/net/{tcp,tcp6,unix}; the fd
// is the /proc/self/fd entry linking to it. Needs read access to /proc
// (on Deno 2.9 reading /proc needs --allow-all: --allow-read=/proc is refused);
// elsewhere, or without access, `undefined`.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Addr } from "./types.ts";

/** The fd of this process's listening socket at `addr`, if /proc tells it. */
export function procListenerFd(addr: Addr): number | undefined {
  const inodes = new Set<string>();
  try {
    if (addr.transport === "tcp") {
      const port = ":" + addr.port.toString(16).toUpperCase().padStart(4, "0");
      for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
        for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
          const f = line.trim().split(/\s+/);
          // Field 3 is the state: 0A is LISTEN. Field 9 is the inode.
          if (f.length > 9 && f[1].endsWith(port) && f[3] === "0A") inodes.add(f[9]);
        }
      }
    } else if (addr.path !== "") {
      for (const line of readFileSync("/proc/net/unix", "utf8").split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 7 && f[7] === addr.path) inodes.add(f[6]);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const name of readdirSync("/proc/self/fd")) {
      let target: string;
      try {
        target = readlinkSync(`/proc/self/fd/${name}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m !== null && inodes.has(m[1])) return Number(name);
    }
  } catch {
    // No /proc here, or no permission to read it.
  }
  return undefined;
}
