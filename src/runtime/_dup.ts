// Internal, runtime adapter only: a second fd for a socket this process
// already has open (`fcntl(fd, F_DUPFD_CLOEXEC, 0)` through libc), so that
// node:net can serve a socket another owner keeps registered: Deno's node:net
// refuses `listen({ fd })` on the fd of a live `Deno.listen` socket (EINVAL),
// and takes its dup. Deno has no dup outside FFI: this needs `--allow-ffi`
// (with -A: see canDup()) and Linux's libc.so.6; elsewhere `undefined`.
import { HOST } from "./_host.ts";
import { openLibc } from "./_libc.ts";

/** `F_DUPFD_CLOEXEC` on Linux. */
const F_DUPFD_CLOEXEC = 1030;

interface Fcntl {
  fcntl(fd: number, cmd: number, arg: number): number;
}
interface DenoFfi {
  permissions: { querySync?(desc: { name: string }): { state: string } };
  dlopen?: unknown;
  build: { os: string };
}

/** Permissions that together stand for `--allow-all` (no query tells it). */
const ALL = ["read", "write", "net", "env", "run", "sys", "ffi"];

/**
 * Whether this process may dup (Deno on Linux with every permission: the
 * FFI for the dup, and `--allow-all` for the /proc lookup of a listener's
 * fd, which Deno 2.9 refuses to `--allow-read`). Asking never prompts.
 */
export function canDup(): boolean {
  if (HOST !== "deno") return false;
  try {
    const d = (globalThis as unknown as { Deno?: DenoFfi }).Deno;
    if (d === undefined || d.build.os !== "linux" || typeof d.dlopen !== "function") return false;
    const query = d.permissions.querySync;
    if (query === undefined) return false;
    return ALL.every((name) => query.call(d.permissions, { name }).state === "granted");
  } catch {
    return false;
  }
}

/**
 * A new fd (close-on-exec) for the socket at `fd`, which the caller then
 * owns; `undefined` where this runtime cannot dup (see the header).
 */
export function dupFd(fd: number): number | undefined {
  if (HOST !== "deno") return undefined;
  if (!canDup()) return undefined;
  const lib = openLibc<Fcntl>({ fcntl: { args: ["i32", "i32", "i32"], returns: "i32" } });
  if (lib === null) return undefined;
  try {
    const dup = lib.symbols.fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return dup >= 0 ? dup : undefined;
  } finally {
    lib.close();
  }
}
