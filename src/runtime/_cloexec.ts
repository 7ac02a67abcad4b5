// Internal, runtime adapter only: sets FD_CLOEXEC on an inherited fd, so that
// the programs this process starts do not hold the listening socket (after a
// crash clients would hang on it instead of being refused). What each runtime
// does (measured, see docs/runtimes.md):
// - Node: libuv's uv_disable_stdio_inheritance() at start-up already marks
//   every inherited fd close-on-exec (fds 0 to 15 and on, up to the first
//   gap past 15); Node has no FFI, so this only reads the flag from /proc.
// - Deno: its spawn passes a leftover fd to the child; fcntl through
//   Deno.dlopen needs --allow-ffi (or --allow-all). Without it: not done.
// - Bun: its spawn closes every fd past stdio in the child anyway; fcntl
//   through bun:ffi (no flag needed) sets the flag all the same.
import { readFileSync } from "node:fs";
import { openFcntl } from "./_nonblock.ts";
import { HOST } from "./_host.ts";

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const O_CLOEXEC = 0o2000000;

interface BunFfi {
  dlopen(
    path: string,
    symbols: { fcntl: { args: ["i32", "i32", "i32"]; returns: "i32" } },
  ): { symbols: { fcntl(fd: number, cmd: number, arg: number): number }; close(): void };
}

function bunFcntl(): { fcntl(fd: number, cmd: number, arg: number): number; close(): void } | null {
  const req = (import.meta as { require?: (id: string) => unknown }).require;
  if (typeof req !== "function") return null;
  for (const path of ["libc.so.6", "libc.so"]) {
    try {
      const lib = (req("bun:ffi") as BunFfi).dlopen(path, {
        fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
      });
      return { fcntl: lib.symbols.fcntl, close: () => lib.close() };
    } catch {
      // Try the next name.
    }
  }
  return null;
}

/** Whether `fd` is close-on-exec, from /proc/self/fdinfo; `undefined` where it cannot tell. */
export function isCloseOnExec(fd: number): boolean | undefined {
  try {
    const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    return m === null ? undefined : (parseInt(m[1], 8) & O_CLOEXEC) !== 0;
  } catch {
    return undefined;
  }
}

/**
 * Marks `fd` close-on-exec where the runtime can; returns whether it is now
 * (Node: whether it already was, which libuv does at start-up).
 */
export function setCloseOnExec(fd: number): boolean {
  const runtime = HOST;
  const lib = runtime === "deno" ? openFcntl() : runtime === "bun" ? bunFcntl() : null;
  if (lib === null) return isCloseOnExec(fd) === true;
  try {
    const flags = lib.fcntl(fd, F_GETFD, 0);
    if (flags < 0) return false;
    return (flags & FD_CLOEXEC) !== 0 || lib.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) === 0;
  } finally {
    lib.close();
  }
}
