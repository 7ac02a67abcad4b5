// Internal, runtime adapter only: a second fd for a socket this process
// already has open (`fcntl(fd, F_DUPFD_CLOEXEC, 0)` through libc), so that
// node:net can serve a socket another owner keeps registered: Deno's node:net
// refuses `listen({ fd })` on the fd of a live `Deno.listen` socket (EINVAL),
// and takes its dup. Deno has no dup outside FFI: this needs `--allow-ffi`
// (with -A: see canDup()) and Linux's libc.so.6; elsewhere `undefined`.
import { hostRuntime } from "./_process.ts";

/** `F_DUPFD_CLOEXEC` on Linux. */
const F_DUPFD_CLOEXEC = 1030;

interface FfiLib {
  readonly symbols: { fcntl(fd: number, cmd: number, arg: number): number };
  close(): void;
}
interface DenoFfi {
  permissions: { querySync?(desc: { name: string }): { state: string } };
  dlopen?(path: string, symbols: unknown): FfiLib;
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
  if (hostRuntime() !== "deno") return false;
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
 * Opens libc for one call (closed again at once: a library kept open would
 * be a resource Deno's test sanitizer reports), or `null`.
 */
function openLibc(): FfiLib | null {
  try {
    if (!canDup()) return null;
    const d = (globalThis as unknown as { Deno: Required<DenoFfi> }).Deno;
    return d.dlopen("libc.so.6", {
      fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
    });
  } catch {
    // No libc.so.6 (musl), or FFI refused.
    return null;
  }
}

/**
 * A new fd (close-on-exec) for the socket at `fd`, which the caller then
 * owns; `undefined` where this runtime cannot dup (see the header).
 */
export function dupFd(fd: number): number | undefined {
  if (hostRuntime() !== "deno") return undefined;
  const lib = openLibc();
  if (lib === null) return undefined;
  try {
    const dup = lib.symbols.fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return dup >= 0 ? dup : undefined;
  } finally {
    lib.close();
  }
}
