// Internal, runtime adapter only: sets O_NONBLOCK on an fd. Needed on Deno,
// whose node:child_process spawn leaves the fds it passes to a child blocking
// (Node and Bun do not): the flag lives on the file description, so it changes
// for this process and every other holder of the socket too. Deno reaches
// fcntl through FFI only with --allow-ffi (or --allow-all); without it the
// flag is restored as a side effect wherever node:net adopts a dup of the fd
// (closeFd() of a fdForIpc() dup does), which Net's hand-offs do.
import { denoNs } from "./_process.ts";

interface DenoFfiNs {
  dlopen(
    path: string,
    symbols: { fcntl: { parameters: ["i32", "i32", "i32"]; result: "i32" } },
  ): { symbols: { fcntl(fd: number, cmd: number, arg: number): number }; close(): void };
  permissions: { querySync(desc: { name: string }): { state: string } };
}

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

interface Fcntl {
  fcntl(fd: number, cmd: number, arg: number): number;
  close(): void;
}

/** libc's fcntl through Deno FFI, or `null`; close it after use (Deno counts it as a resource). */
export function openFcntl(): Fcntl | null {
  const d = denoNs() as unknown as DenoFfiNs | undefined;
  if (d === undefined) return null;
  try {
    if (d.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  } catch {
    return null;
  }
  for (const path of ["libc.so.6", "libc.so"]) {
    try {
      const lib = d.dlopen(path, {
        fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
      });
      return { fcntl: lib.symbols.fcntl, close: () => lib.close() };
    } catch {
      // Try the next name.
    }
  }
  return null;
}

/** Sets O_NONBLOCK on `fd` where the runtime can; `false` where it cannot. */
export function setNonBlocking(fd: number): boolean {
  const lib = openFcntl();
  if (lib === null) return false;
  try {
    const flags = lib.fcntl(fd, F_GETFL, 0);
    if (flags < 0) return false;
    return (flags & O_NONBLOCK) !== 0 || lib.fcntl(fd, F_SETFL, flags | O_NONBLOCK) === 0;
  } finally {
    lib.close();
  }
}
