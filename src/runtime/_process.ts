// Internal, runtime adapter only: the process part of the OS that socket
// inheritance needs (spawn with extra fds, signals, environment, the command
// line that runs this program again, an atomic file write). node:process,
// node:child_process and node:fs work on Deno, Bun and Node alike; where a
// runtime differs (Deno: no execArgv, signals through Deno.addSignalListener)
// this file branches on the real host runtime, not on the adapter picked by
// useRuntime(). Only src/runtime/ may touch `Deno.*`, `Bun.*` or `node:*`.
import { builtin } from "./_node.ts";
import type * as ChildProcess from "node:child_process";
import type { Socket } from "node:net";
import { setNonBlocking } from "./_fcntl.ts";
import { closeFd } from "./_fd.ts";
import type { ExitStatus, Signal, SpawnOptions, Subprocess } from "./types.ts";

interface DenoProcessNs {
  execPath(): string;
  readonly mainModule: string;
  readonly args: string[];
  permissions: { querySync(desc: { name: string }): { state: string } };
  listenDatagram?: unknown;
}

/** Deno's namespace when this code runs on Deno. */
export function denoNs(): DenoProcessNs | undefined {
  const d = (globalThis as { Deno?: DenoProcessNs }).Deno;
  return typeof d?.execPath === "function" ? d : undefined;
}

/** This process's id. */
export function processId(): number {
  return builtin("node:process").pid;
}

/** The parent process's id. */
export function parentProcessId(): number {
  return builtin("node:process").ppid;
}

/** The current working directory. */
export function currentDirectory(): string {
  return builtin("node:process").cwd();
}

/** An environment variable, or `undefined` (also when Deno may not read it). */
export function getEnv(name: string): string | undefined {
  try {
    return builtin("node:process").env[name];
  } catch {
    return undefined;
  }
}

/** Removes an environment variable for this process and the children it starts later. */
export function unsetEnv(name: string): void {
  try {
    delete builtin("node:process").env[name];
  } catch {
    // Deno without --allow-env: nothing was readable either.
  }
}

/** A copy of the whole environment. */
export function environment(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(builtin("node:process").env)) if (v !== undefined) out[k] = v;
  return out;
}

const PERMISSIONS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"];

/** Deno's flags for the permissions this process has been granted in full. */
function denoPermissionFlags(d: DenoProcessNs): string[] {
  const granted: string[] = [];
  for (const name of PERMISSIONS) {
    try {
      if (d.permissions.querySync({ name }).state === "granted") granted.push(name);
    } catch {
      // A permission name this Deno does not know.
    }
  }
  const flags = granted.length === PERMISSIONS.length
    ? ["-A"]
    : granted.map((name) => `--allow-${name}`);
  if (typeof d.listenDatagram === "function") flags.push("--unstable-net");
  return flags;
}

/**
 * The executable and arguments that start this program again: the same
 * runtime binary, runtime flags, script and script arguments.
 */
export function selfCommand(): { command: string; args: string[] } {
  const d = denoNs();
  if (d !== undefined) {
    const command = d.execPath();
    try {
      // Exact, flags included, but Deno lets only --allow-all read /proc.
      const argv = builtin("node:fs").readFileSync("/proc/self/cmdline", "utf8").split("\0");
      if (argv[argv.length - 1] === "") argv.pop();
      if (argv.length > 1) return { command, args: argv.slice(1) };
    } catch {
      // Rebuilt below from what Deno tells without /proc.
    }
    const main = d.mainModule.startsWith("file:")
      ? builtin("node:url").fileURLToPath(d.mainModule)
      : d.mainModule;
    return { command, args: ["run", ...denoPermissionFlags(d), main, ...d.args] };
  }
  const p = builtin("node:process");
  return { command: p.execPath, args: [...p.execArgv, ...p.argv.slice(1)] };
}

/** The arguments given to the script (after the script's own path). */
export function scriptArgs(): string[] {
  const d = denoNs();
  return d !== undefined ? [...d.args] : builtin("node:process").argv.slice(2);
}

/** Whether the module at `url` (its `import.meta.url`) is the program's entry point. */
export function isMainModule(url: string): boolean {
  const d = denoNs();
  if (d !== undefined) return d.mainModule === url;
  const main = builtin("node:process").argv[1];
  if (main === undefined) return false;
  try {
    return builtin("node:url").pathToFileURL(builtin("node:fs").realpathSync(main)).href === url ||
      builtin("node:url").pathToFileURL(main).href === url;
  } catch {
    return false;
  }
}

/** Ends this process with `code`. */
export function exitProcess(code: number): never {
  return builtin("node:process").exit(code);
}

/** Sends `signal` to the process `pid`; `false` if there is no such process. */
export function killProcess(pid: number, signal: Signal | "SIGKILL"): boolean {
  try {
    builtin("node:process").kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Writes `data` to a temporary file beside `path`, then renames it over `path`. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.${builtin("node:process").pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    builtin("node:fs").writeFileSync(tmp, data);
    builtin("node:fs").renameSync(tmp, path);
  } catch (err) {
    try {
      builtin("node:fs").unlinkSync(tmp);
    } catch {
      // Never written.
    }
    throw err;
  }
}

/** Removes a file; `false` if it was not there. */
export function removeFile(path: string): boolean {
  try {
    builtin("node:fs").unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Makes `newPath` a hard link to `existing`; throws (code `EEXIST`) if `newPath` exists. */
export function linkFile(existing: string, newPath: string): void {
  builtin("node:fs").linkSync(existing, newPath);
}

/** The identity (device and inode) of the file at `path`, or `undefined` if there is none. */
export function fileId(path: string): string | undefined {
  try {
    const st = builtin("node:fs").statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Reads a text file, or `undefined` if it cannot be read. */
export function readTextFile(path: string): string | undefined {
  try {
    return builtin("node:fs").readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

// `sh -c` with $$ = the shell's pid, which `exec` hands to the command.
const LISTEN_PID_SCRIPT = 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"';

/**
 * Starts a child process with extra fds from 3 on and, optionally, a control
 * channel after them. Resolves once the OS has started it.
 */
export function spawnProcess(options: SpawnOptions): Promise<Subprocess> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot start process: options must be an object");
  }
  if (typeof options.command !== "string" || options.command === "") {
    throw new TypeError("Cannot start process: command must be a non-empty string");
  }
  const fds = options.fds ?? [];
  for (const fd of fds) {
    if (!Number.isInteger(fd) || fd < 0) {
      throw new RangeError(
        `Cannot start process: fds must be non-negative integers, received ${fd}`,
      );
    }
  }
  const args = options.args ?? [];
  const [command, argv] = options.setListenPid
    ? ["/bin/sh", ["-c", LISTEN_PID_SCRIPT, "netkit", options.command, ...args]]
    : [options.command, args];
  const std = options.stdio ?? "inherit";
  const stdio: (string | number)[] = [std, std, std, ...fds];
  const controlFd = options.control ? stdio.length : undefined;
  if (controlFd !== undefined) stdio.push("pipe");
  // Deno's spawn (fork and exec, done when it returns) leaves the fds it
  // passed blocking, on the file description this process and its other
  // children share: an accept loop that accepts until EAGAIN would block in
  // accept(). Undo it before this process handles any more I/O: with
  // --allow-ffi through fcntl; else closing a dup through node:net (which
  // sets O_NONBLOCK as it adopts the fd) does it as a side effect.
  const closeFds = new Set(options.closeFds ?? []);
  let child: ReturnType<typeof ChildProcess.spawn>;
  try {
    child = builtin("node:child_process").spawn(command, argv, {
      cwd: options.cwd,
      env: options.env ?? environment(),
      stdio: stdio as ("inherit" | "ignore" | "pipe" | number)[],
    });
  } finally {
    if (denoNs() !== undefined) {
      for (const fd of fds) if (!closeFds.has(fd)) setNonBlocking(fd);
    }
    for (const fd of closeFds) closeFd(fd);
  }
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
  });
  const control = controlFd === undefined
    ? undefined
    : (child.stdio[controlFd] as Socket | null | undefined) ?? undefined;
  const lines: string[] = [];
  let handler: ((line: string) => void) | undefined;
  if (control !== undefined) {
    let partial = "";
    control.setEncoding("utf8");
    control.on("data", (chunk: string) => {
      partial += chunk;
      const parts = partial.split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        if (handler !== undefined) handler(line);
        else lines.push(line);
      }
    });
    control.on("error", () => {
      // The child went away; its exit is reported through `exited`.
    });
  }
  const sub: Subprocess = {
    get pid() {
      return child.pid!;
    },
    controlFd,
    exited,
    get status() {
      return status;
    },
    onMessage(fn: (line: string) => void): void {
      handler = fn;
      for (const line of lines.splice(0)) fn(line);
    },
    closeControl(): void {
      control?.destroy();
    },
    kill(signal: Signal | "SIGKILL" = "SIGTERM"): boolean {
      if (status !== undefined) return false;
      // Not child.kill(): after it, Deno's child_process reports the signal
      // sent as the exit status even when the child exited with a code.
      try {
        builtin("node:process").kill(child.pid!, signal);
        return true;
      } catch {
        return false;
      }
    },
    unref(): void {
      child.unref();
      control?.unref();
    },
  };
  return new Promise<Subprocess>((resolve, reject) => {
    const onError = (err: Error) => {
      control?.destroy();
      reject(new Error(`Cannot start process: ${command}: ${err.message}`, { cause: err }));
    };
    child.once("error", onError);
    child.once("spawn", () => {
      child.off("error", onError);
      child.on("error", () => {
        // kill() on a process that is gone: reported through `exited`.
      });
      resolve(sub);
    });
  });
}
