// Internal, runtime adapter only: the one reader of /proc/net/{tcp,tcp6,unix}
// (Linux), and through it the fd of a listening socket, for runtimes that do
// not tell it (Deno.listen, Deno's node:net): the socket's inode comes from
// /proc/net, the fd is the /proc/self/fd entry linking to it. Needs read
// access to /proc (on Deno 2.9 reading /proc needs --allow-all:
// --allow-read=/proc is refused); elsewhere, or without access, `undefined`.
import { builtin } from "./_node.ts";
import type { Addr } from "./types.ts";

/** One socket of a /proc/net table. */
export interface ProcSocket {
  /** The socket's inode, as /proc/self/fd links name it (`socket:[inode]`). */
  readonly inode: string;
  /** Whether it is a listening stream socket. */
  readonly listening: boolean;
  /** Its local address (a Unix socket's path is `""` when it has none). */
  readonly addr: Addr;
}

function hexIp(hex: string): string {
  if (hex.length === 8) {
    // IPv4, in host (little-endian) byte order.
    const n = parseInt(hex, 16);
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join(".");
  }
  // IPv6: four 32-bit words, each in host byte order.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) {
    return bytes.slice(12).join(".");
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // Shorten the longest run of zero groups (RFC 5952), e.g. "::" and "::1".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

/**
 * The sockets of /proc/net's `unix` table, or of `tcp` and `tcp6`, whose line
 * passes `prefilter` (a cheap test before the line is split). Throws where
 * /proc cannot be read.
 */
export function procSockets(
  table: "unix" | "tcp",
  prefilter?: (line: string) => boolean,
): ProcSocket[] {
  const found: ProcSocket[] = [];
  const files = table === "unix" ? ["/proc/net/unix"] : ["/proc/net/tcp", "/proc/net/tcp6"];
  for (const file of files) {
    for (const line of builtin("node:fs").readFileSync(file, "utf8").split("\n").slice(1)) {
      if (line === "" || (prefilter !== undefined && !prefilter(line))) continue;
      const f = line.trim().split(/\s+/);
      if (table === "unix") {
        if (f.length <= 6) continue;
        // Flags 00010000 is __SO_ACCEPTCON (listening); type 0001 is SOCK_STREAM.
        const listening = (parseInt(f[3], 16) & 0x10000) !== 0 && f[4] === "0001";
        found.push({ inode: f[6], listening, addr: { transport: "unix", path: f[7] ?? "" } });
      } else {
        if (f.length <= 9) continue;
        // Field 1 is the local address, field 3 the state (0A: LISTEN), field 9 the inode.
        const [ip, port] = f[1].split(":");
        found.push({
          inode: f[9],
          listening: f[3] === "0A",
          addr: { transport: "tcp", hostname: hexIp(ip), port: parseInt(port, 16) },
        });
      }
    }
  }
  return found;
}

/** The fd of this process's listening socket at `addr`, if /proc tells it. */
export function procListenerFd(addr: Addr): number | undefined {
  try {
    let inodes: Set<string>;
    if (addr.transport === "tcp") {
      const port = ":" + addr.port.toString(16).toUpperCase().padStart(4, "0") + " ";
      inodes = new Set(
        procSockets("tcp", (line) => line.includes(port))
          .filter((s) => s.listening && s.addr.transport === "tcp" && s.addr.port === addr.port)
          .map((s) => s.inode),
      );
    } else if (addr.path !== "") {
      inodes = new Set(
        procSockets("unix", (line) => line.includes(addr.path))
          .filter((s) => s.listening && s.addr.transport === "unix" && s.addr.path === addr.path)
          .map((s) => s.inode),
      );
    } else {
      return undefined;
    }
    if (inodes.size === 0) return undefined;
    for (const name of builtin("node:fs").readdirSync("/proc/self/fd")) {
      let target: string;
      try {
        target = builtin("node:fs").readlinkSync(`/proc/self/fd/${name}`);
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
