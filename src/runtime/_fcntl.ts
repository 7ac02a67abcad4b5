// Internal, runtime adapter only: fd flags through libc's fcntl (_libc.ts).
// - FD_CLOEXEC on an inherited fd, so that the programs this process starts
//   do not hold the listening socket (after a crash clients would hang on it
//   instead of being refused). Node: libuv's uv_disable_stdio_inheritance()
//   at start-up already marks every inherited fd close-on-exec (fds 0 to 15
//   and on, up to the first gap past 15); Node has no FFI, so this only reads
//   the flag from /proc. Deno: its spawn passes a leftover fd to the child;
//   fcntl needs --allow-ffi (or --allow-all), without it: not done. Bun: its
//   spawn closes every fd past stdio in the child anyway; fcntl (no flag
//   needed) sets the flag all the same. (Measured, see docs/runtimes.md.)
// - O_NONBLOCK, needed on Deno only, whose node:child_process spawn leaves the
//   fds it passes to a child blocking (Node and Bun do not): the flag lives on
//   the file description, so it changes for this process and every other
//   holder of the socket too. Without --allow-ffi the flag is restored as a
//   side effect wherever node:net adopts a dup of the fd (closeFd() of a
//   fdForIpc() dup does), which Net's hand-offs do.
import { builtin } from "./_node.ts";
import { HOST } from "./_host.ts";
import { openLibc } from "./_libc.ts";

const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

interface Fcntl {
  fcntl(fd: number, cmd: number, arg: number): number;
}

/** Sets `bit` with fcntl's get/set pair; `undefined` where there is no FFI. */
function setFlag(fd: number, get: number, set: number, bit: number): boolean | undefined {
  const lib = openLibc<Fcntl>({ fcntl: { args: ["i32", "i32", "i32"], returns: "i32" } });
  if (lib === null) return undefined;
  try {
    const flags = lib.symbols.fcntl(fd, get, 0);
    if (flags < 0) return false;
    return (flags & bit) !== 0 || lib.symbols.fcntl(fd, set, flags | bit) === 0;
  } finally {
    lib.close();
  }
}

/** Whether `fd` is close-on-exec, from /proc/self/fdinfo; `undefined` where it cannot tell. */
export function isCloseOnExec(fd: number): boolean | undefined {
  try {
    const m = /^flags:\s+([0-7]+)$/m.exec(
      builtin("node:fs").readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"),
    );
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
  return setFlag(fd, F_GETFD, F_SETFD, FD_CLOEXEC) ?? isCloseOnExec(fd) === true;
}

/** Sets O_NONBLOCK on `fd` on Deno (the only runtime that needs it); `false` where it cannot. */
export function setNonBlocking(fd: number): boolean {
  if (HOST !== "deno") return false;
  return setFlag(fd, F_GETFL, F_SETFL, O_NONBLOCK) ?? false;
}
