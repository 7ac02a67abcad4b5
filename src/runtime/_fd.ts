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
import { builtin } from "./_node.ts";
import type * as nodeNet from "node:net";
import { HOST } from "./_host.ts";
import { procSockets } from "./_proc_fd.ts";
import type { FdKind, Listener } from "./types.ts";

/** Closes a raw fd this process owns. Errors (already closed) are ignored. */
export function closeFd(fd: number): void {
  try {
    if (HOST === "deno") new (builtin("node:net").Socket)({ fd }).destroy();
    else builtin("node:fs").closeSync(fd);
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
      builtin("node:fs").writeSync(fd, text);
    } catch {
      ok = false;
    }
    closeFd(fd);
    return Promise.resolve(ok);
  }
  return new Promise<boolean>((resolve) => {
    let socket: nodeNet.Socket;
    try {
      socket = new (builtin("node:net").Socket)({ fd, readable: false, writable: true });
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

/**
 * What the fd `fd` of this process is, from /proc; `undefined` where /proc
 * cannot be read (not Linux, or Deno without --allow-all).
 */
export function inspectFd(fd: number): FdKind | undefined {
  let target: string;
  try {
    target = builtin("node:fs").readlinkSync(`/proc/self/fd/${fd}`);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return code === "ENOENT" ? { kind: "closed" } : undefined;
  }
  const m = /^socket:\[(\d+)\]$/.exec(target);
  if (m === null) return { kind: "other" };
  const inode = m[1];
  try {
    // Unix first: its table is small, the TCP one holds every TIME_WAIT too.
    for (const table of ["unix", "tcp"] as const) {
      const found = procSockets(table, (line) => line.includes(inode))
        .find((s) => s.inode === inode);
      if (found === undefined) continue;
      return found.listening ? { kind: "listener", addr: found.addr } : { kind: "other" };
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
    return builtin("node:fs").readlinkSync(`/proc/self/fd/${fd}`);
  } catch (err) {
    if ((err as { code?: unknown }).code === "ENOENT") return undefined;
  }
  if (HOST === "deno") return undefined; // its node:fs takes resource ids
  try {
    const st = builtin("node:fs").fstatSync(fd);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** The fds this process has open, from /proc (`undefined` where it cannot tell). */
export function openFds(): number[] | undefined {
  try {
    return builtin("node:fs").readdirSync("/proc/self/fd").map(Number).filter((n) =>
      Number.isInteger(n)
    );
  } catch {
    return undefined;
  }
}
