// Internal, runtime adapter only: raw file descriptors for socket inheritance.
// - Node and Bun reach any fd through node:fs (closeSync, writeSync).
// - Deno's node:fs takes resource ids, not fds (fs.closeSync(3) says EBADF),
//   but its node:net adopts any socket fd: `new net.Socket({ fd })` then
//   destroy() closes it, end(text) writes to it.
// - Deno's node:net TCP listener hides its fd (`_handle.fd` is undefined);
//   `_handle.fdForIpc()` returns a new dup of it on each call, which needs no
//   permission, where /proc needs --allow-all on Deno 2.
// /proc/self/fd and /proc/net/{tcp,tcp6,unix} tell what an fd is (Linux; on
// Deno only with --allow-all); without them the callers fall back.
import { closeSync, fstatSync, readdirSync, readFileSync, readlinkSync, writeSync } from "node:fs";
import * as net from "node:net";
import { HOST } from "./_host.ts";
import type { FdKind, Listener } from "./types.ts";

/** Closes a raw fd this process owns. Errors (already closed) are ignored. */
export function closeFd(fd: number): void {
  try {
    if (HOST === "deno") new net.Socket({ fd }).destroy();
    else closeSync(fd);
  } catch {
    // Not open, or not a socket Deno could adopt.
  }
}

/**
 * Writes `text` to a socket fd, then closes the fd. Resolves `false` if the
 * write failed (the peer is gone).
 */
export function writeFdAndClose(fd: number, text: string): Promise<boolean> {
  if (HOST !== "deno") {
    let ok = true;
    try {
      writeSync(fd, text);
    } catch {
      ok = false;
    }
    closeFd(fd);
    return Promise.resolve(ok);
  }
  return new Promise<boolean>((resolve) => {
    let socket: net.Socket;
    try {
      socket = new net.Socket({ fd, readable: false, writable: true });
    } catch {
      resolve(false);
      return;
    }
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
    socket.end(text, () => {
      socket.destroy();
      resolve(true);
    });
  });
}

/**
 * An fd of `listener` to hand to a child, and how to let go of it after the
 * spawn (a dup made for the purpose is closed; the listener's own fd is not).
 * `dup` tells which: pass dups as `closeFds` to spawn, which closes them at once.
 */
export function listenerFdForChild(
  listener: Listener,
): { fd: number; dup: boolean; release(): void } | undefined {
  const handle = (listener.native as { _handle?: Record<string, unknown> } | null | undefined)
    ?._handle;
  if (
    handle !== undefined && handle !== null && typeof handle.fd !== "number" &&
    typeof handle.fdForIpc === "function"
  ) {
    let fd: unknown;
    try {
      fd = (handle.fdForIpc as () => unknown).call(handle);
    } catch {
      fd = undefined;
    }
    if (typeof fd === "number" && fd >= 0) {
      let open = true;
      return {
        fd,
        dup: true,
        release: () => {
          if (open) closeFd(fd as number);
          open = false;
        },
      };
    }
  }
  const fd = listener.fd;
  return fd === undefined ? undefined : { fd, dup: false, release: () => {} };
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
 * What the fd `fd` of this process is, from /proc; `undefined` where /proc
 * cannot be read (not Linux, or Deno without --allow-all).
 */
export function inspectFd(fd: number): FdKind | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return code === "ENOENT" ? { kind: "closed" } : undefined;
  }
  const m = /^socket:\[(\d+)\]$/.exec(target);
  if (m === null) return { kind: "other" };
  const inode = m[1];
  try {
    // Unix first: its table is small, the TCP one holds every TIME_WAIT too.
    for (const line of readFileSync("/proc/net/unix", "utf8").split("\n").slice(1)) {
      if (!line.includes(inode)) continue;
      const f = line.trim().split(/\s+/);
      if (f.length <= 6 || f[6] !== inode) continue;
      // Flags 00010000 is __SO_ACCEPTCON (listening); type 0001 is SOCK_STREAM.
      const listening = (parseInt(f[3], 16) & 0x10000) !== 0 && f[4] === "0001";
      if (!listening) return { kind: "other" };
      return { kind: "listener", addr: { transport: "unix", path: f[7] ?? "" } };
    }
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
        if (!line.includes(inode)) continue;
        const f = line.trim().split(/\s+/);
        if (f.length <= 9 || f[9] !== inode) continue;
        if (f[3] !== "0A") return { kind: "other" };
        const [ip, port] = f[1].split(":");
        return {
          kind: "listener",
          addr: { transport: "tcp", hostname: hexIp(ip), port: parseInt(port, 16) },
        };
      }
    }
  } catch {
    return undefined;
  }
  return { kind: "other" };
}

/**
 * What the fd `fd` is now, as a string that changes when the number is
 * reused for something else: the /proc link (`socket:[inode]`), else (Node,
 * Bun) the device and inode from fstat. `undefined` if it is not open or
 * the runtime cannot tell (Deno without --allow-all).
 */
export function fdIdentity(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch (err) {
    if ((err as { code?: unknown }).code === "ENOENT") return undefined;
  }
  if (HOST === "deno") return undefined; // its node:fs takes resource ids
  try {
    const st = fstatSync(fd);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** The fds this process has open, from /proc (`undefined` where it cannot tell). */
export function openFds(): number[] | undefined {
  try {
    return readdirSync("/proc/self/fd").map(Number).filter((n) => Number.isInteger(n));
  } catch {
    return undefined;
  }
}
