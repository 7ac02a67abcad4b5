// `netkit run`'s supervisor: holds the sockets, starts the program with
// them, restarts it on SIGHUP and stops it on SIGTERM/SIGINT.
import { type Addr, onSignal } from "../runtime/mod.ts";
import { type HeldListener, os, type Subprocess } from "../runtime/_internal.ts";
import { ENV_NAMES, Net } from "../inherit/mod.ts";
import { formatAddr, requestKey, takeInherited } from "../inherit/_internal.ts";
import type { ListenSpec, RunOptions } from "./args.ts";

type Level = "info" | "warn" | "error";

/** Writes netkit's own lines to stderr, as text or JSON, skipping info if quiet. */
function logger(options: RunOptions): (level: Level, message: string) => void {
  return (level, message) => {
    if (level === "info" && options.quiet === true) return;
    if (options.log === "json") {
      console.error(JSON.stringify({ time: new Date().toISOString(), level, msg: message }));
    } else {
      console.error(`netkit: ${level === "warn" ? "warning: " : ""}${message}`);
    }
  };
}

/** Linux signal numbers, for the 128 + n exit code of a program killed by a signal. */
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/** The shell's exit code for an exit status: the code, or 128 + the signal's number. */
function exitCode(status: { code: number | null; signal: string | null }): number {
  if (status.code !== null) return status.code;
  return 128 + (SIGNAL_NUMBERS[status.signal ?? ""] ?? 0);
}

/** Whether `command` can be started: a path that exists, or a name found on PATH. */
function findCommand(command: string): boolean {
  if (command.includes("/")) return os.fileId(command) !== undefined;
  const dirs = (os.getEnv("PATH") ?? "/usr/local/bin:/usr/bin:/bin").split(":");
  return dirs.some((dir) => os.fileId(`${dir === "" ? "." : dir}/${command}`) !== undefined);
}

/** A `LISTEN_FDNAMES` name for an unnamed socket: its address, without colons. */
function nameOf(addr: Addr): string {
  const name = formatAddr(addr).replace(/[^\x21-\x7e]|:/g, "_").slice(-255);
  return name === "" ? "socket" : name;
}

interface Socket {
  fd: number;
  addr: Addr;
  key: string;
  name: string;
  close(): Promise<void>;
}

/** Holds a Unix socket at a path, bound under a temporary name then linked (see _listener.ts). */
async function holdUnix(path: string): Promise<HeldListener & { cleanup(): void }> {
  const slash = path.lastIndexOf("/");
  const tmp = `${path.slice(0, slash + 1)}.netkit-${Math.random().toString(36).slice(2, 10)}.sock`;
  const held = await os.holdListener({ path: tmp });
  try {
    os.linkFile(tmp, path);
  } catch (err) {
    await held.close();
    os.removeFile(tmp);
    throw new Error(`Cannot listen on ${path}: ${(err as Error).message}`, { cause: err });
  }
  os.removeFile(tmp);
  const id = os.fileId(path);
  return {
    fd: held.fd,
    addr: { transport: "unix", path },
    close: () => held.close(),
    cleanup: () => {
      if (id !== undefined && os.fileId(path) === id) os.removeFile(path);
    },
  };
}

type Outcome = { ok: true; via: string } | { ok: false; why: string };

/**
 * Runs `netkit run` until the program stops; resolves with the exit code.
 *
 * SIGHUP, SIGTERM and SIGINT are handled from the moment it is called, so a
 * signal that arrives before the first copy is ready never leaves the program
 * running without netkit.
 *
 * @param options What to run and where to listen (see {@linkcode parseRunArgs}).
 * @returns The exit code: the program's (128 + n if it died by signal n), 127
 * if the command is not found, 1 if it could not be started, 128 + n if
 * signal n stopped netkit before the program started.
 *
 * @example
 * ```ts ignore
 * import { parseRunArgs, run } from "@netkit/netkit/cli";
 *
 * const code = await run(parseRunArgs(["--listen", ":8080", "--", "./server"]));
 * ```
 */
export async function run(options: RunOptions): Promise<number> {
  const log = logger(options);
  if (!findCommand(options.command)) {
    log("error", `command not found: ${options.command}`);
    return 127;
  }
  let stopSignal: string | undefined;
  let hupQueued = false;
  let onStop = () => {};
  let onHup = () => {
    hupQueued = true;
  };
  const offs = [
    onSignal("SIGHUP", () => onHup()),
    ...(["SIGTERM", "SIGINT"] as const).map((sig) =>
      onSignal(sig, () => {
        if (stopSignal !== undefined) return;
        stopSignal = sig;
        onStop();
      })
    ),
  ];
  try {
    return await supervise(options, log, {
      stopped: () => stopSignal,
      hupQueued: () => hupQueued,
      setHandlers(stop, hup) {
        onStop = stop;
        onHup = hup;
        if (stopSignal !== undefined) stop();
      },
    });
  } finally {
    for (const off of offs) off();
  }
}

interface Signals {
  /** The stop signal received so far, if any. */
  stopped(): string | undefined;
  /** Whether a SIGHUP came before the handlers were set. */
  hupQueued(): boolean;
  /** Replaces what SIGTERM/SIGINT and SIGHUP do; calls `stop` at once if one came. */
  setHandlers(stop: () => void, hup: () => void): void;
}

async function supervise(
  options: RunOptions,
  log: (level: Level, message: string) => void,
  signals: Signals,
): Promise<number> {
  const net = new Net();
  const sockets: Socket[] = [];
  const cleanups: (() => void)[] = [];
  const specs: ListenSpec[] = options.listen.length > 0 ? options.listen : net.inherited()
    .filter((l) => l.addr !== undefined && !l.claimed)
    .map((l) => ({
      address: l.addr!.transport === "unix"
        ? { path: l.addr!.path }
        : { hostname: l.addr!.hostname, port: l.addr!.port },
      name: l.name === "unknown" ? undefined : l.name,
    }));
  const closeSockets = async () => {
    for (const s of sockets) await s.close();
    for (const c of cleanups) c();
  };
  try {
    for (const spec of specs) {
      const inherited = await takeInherited(net, { ...spec.address, name: spec.name });
      const key = requestKey(spec.address);
      if (inherited !== undefined) {
        sockets.push({
          fd: inherited.fd!,
          addr: inherited.addr,
          key,
          name: spec.name ?? nameOf(inherited.addr),
          close: () => inherited.close(),
        });
      } else {
        let held: HeldListener;
        if ("path" in spec.address) {
          const unix = await holdUnix(spec.address.path);
          cleanups.push(unix.cleanup);
          held = unix;
        } else held = await os.holdListener(spec.address);
        const name = spec.name ?? nameOf(held.addr);
        sockets.push({ fd: held.fd, addr: held.addr, key, name, close: () => held.close() });
      }
    }
  } catch (err) {
    log("error", (err as Error).message);
    await closeSockets();
    return 1;
  }
  if (sockets.length === 0) {
    log(
      "error",
      "nothing to listen on: give --listen, or start netkit run with sockets (LISTEN_FDS)",
    );
    return 1;
  }
  for (const s of sockets) {
    log("info", `listening on ${formatAddr(s.addr)} (fd ${s.fd}, name ${s.name})`);
  }

  const rx = os.listenNotify();
  const upstream = os.getEnv("NOTIFY_SOCKET");
  let onNotifyReady: (() => void) | undefined;
  rx?.onMessage((message) => {
    if (message.split("\n").includes("READY=1")) onNotifyReady?.();
  });
  const readyFd = 3 + sockets.length;
  if (rx === undefined && options.readyDelay === 0) {
    log(
      "warn",
      `--ready-delay 0 and sd_notify READY=1 cannot be received on this runtime: the program must write READY=1 to fd ${readyFd} (NETKIT_READY_FD) or call ready(), else it is killed after --timeout ${options.timeout} ms`,
    );
  } else if (rx === undefined) {
    log("info", "sd_notify READY=1 cannot be received on this runtime");
  }

  const env = os.env();
  for (const name of [...ENV_NAMES, "NOTIFY_SOCKET"]) delete env[name];
  env.LISTEN_FDS = String(sockets.length);
  env.LISTEN_FDNAMES = sockets.map((s) => s.name).join(":");
  env.NETKIT_LISTEN_ADDRS = JSON.stringify(
    sockets.map((s) => ({ want: s.key, addr: s.addr, own: false })),
  );
  env.NETKIT_READY_FD = String(readyFd);
  if (rx !== undefined) env.NOTIFY_SOCKET = rx.path;

  const start = () =>
    os.spawn({
      command: options.command,
      args: options.args,
      env,
      fds: sockets.map((s) => s.fd),
      control: true,
      setListenPid: true,
    });

  const waitReady = (child: Subprocess): Promise<Outcome> =>
    new Promise<Outcome>((resolve) => {
      const timers: ReturnType<typeof setTimeout>[] = [];
      const done = (o: Outcome) => {
        for (const t of timers) clearTimeout(t);
        onNotifyReady = undefined;
        resolve(o);
      };
      child.onMessage((line) => {
        if (line.trim() === "READY=1") done({ ok: true, via: "ready()" });
      });
      onNotifyReady = () => done({ ok: true, via: "sd_notify" });
      child.exited.then((s) =>
        done({ ok: false, why: `exited with ${s.code !== null ? `code ${s.code}` : s.signal}` })
      );
      timers.push(setTimeout(() => done({ ok: false, why: "timed out" }), options.timeout));
      if (options.readyDelay > 0) {
        timers.push(setTimeout(() => done({ ok: true, via: "delay" }), options.readyDelay));
      }
    });

  // Every child not yet gone, so that a stop reaches a copy being started too.
  const children = new Set<Subprocess>();
  let stopKiller: ReturnType<typeof setTimeout> | undefined;
  const stopAll = () => {
    for (const child of children) child.kill("SIGTERM");
    clearTimeout(stopKiller);
    stopKiller = setTimeout(() => {
      for (const child of children) child.kill("SIGKILL");
    }, options.stopTimeout);
  };
  const track = (child: Subprocess) => {
    children.add(child);
    child.exited.then(() => children.delete(child));
    if (signals.stopped() !== undefined) child.kill("SIGTERM");
  };
  let current: Subprocess | undefined;
  const finish = async (code: number) => {
    clearTimeout(stopKiller);
    await closeSockets();
    await rx?.close();
    log("info", `exit ${code}`);
    return code;
  };
  let hupQueued = signals.hupQueued();
  signals.setHandlers(() => {
    log("info", current === undefined ? "stopping" : `stopping pid=${current.pid}`);
    if (upstream !== undefined) os.sendNotify(upstream, "STOPPING=1\n").catch(() => false);
    stopAll();
  }, () => {
    log("info", "restart queued: the program is not ready yet");
    hupQueued = true;
  });

  if (signals.stopped() !== undefined) {
    return await finish(128 + (SIGNAL_NUMBERS[signals.stopped()!] ?? 0));
  }
  try {
    current = await start();
  } catch (err) {
    log("error", (err as Error).message);
    return await finish(1);
  }
  track(current);
  log("info", `started pid=${current.pid}`);
  const first = await waitReady(current);
  current.closeControl();
  if (!first.ok) {
    if (signals.stopped() === undefined) {
      log("error", `pid=${current.pid} ${first.why} before it was ready`);
    } else log("info", `pid=${current.pid} ${first.why}`);
    current.kill("SIGKILL");
    return await finish(exitCode(await current.exited));
  }
  await net.ready();
  if (upstream !== undefined) await os.sendNotify(upstream, "READY=1\n").catch(() => false);

  let finished!: (code: number) => void;
  const result = new Promise<number>((resolve) => finished = resolve);

  const watch = (child: Subprocess) => {
    child.exited.then((s) => {
      if (child !== current) return;
      const how = s.code !== null ? `code ${s.code}` : s.signal;
      const stopping = signals.stopped() !== undefined;
      log("info", `pid=${child.pid} exited with ${how}${stopping ? "" : " on its own"}`);
      finished(exitCode(s));
    });
  };
  watch(current);

  let restarting: Promise<void> | undefined;
  const restartOnce = async () => {
    if (upstream !== undefined) await os.sendNotify(upstream, "RELOADING=1\n").catch(() => false);
    let next: Subprocess | undefined;
    try {
      next = await start();
      track(next);
      log("info", `restarting: started pid=${next.pid}`);
      const outcome = await waitReady(next);
      next.closeControl();
      if (!outcome.ok || signals.stopped() !== undefined) {
        log(
          "error",
          `restart failed: pid=${next.pid} ${outcome.ok ? "stopped" : outcome.why}; pid=${
            current!.pid
          } goes on serving`,
        );
        next.kill("SIGKILL");
        await next.exited;
        return;
      }
      const old = current!;
      current = next;
      watch(current);
      log("info", `ready pid=${current.pid} (${outcome.via}); stopping pid=${old.pid}`);
      old.kill("SIGTERM");
      const killer = setTimeout(() => old.kill("SIGKILL"), options.stopTimeout);
      old.exited.then(() => clearTimeout(killer));
      if (upstream !== undefined) await os.sendNotify(upstream, "READY=1\n").catch(() => false);
    } catch (err) {
      log("error", `restart failed: ${(err as Error).message}`);
    }
  };
  const restart = () => {
    if (signals.stopped() !== undefined) return;
    if (restarting !== undefined) {
      // One more restart after this one: the SIGHUP may announce a newer deploy.
      if (!hupQueued) log("info", "a restart is in progress: one more is queued");
      hupQueued = true;
      return;
    }
    restarting = (async () => {
      do {
        hupQueued = false;
        await restartOnce();
      } while (hupQueued && signals.stopped() === undefined);
      restarting = undefined;
    })();
  };

  // Said once SIGHUP restarts.
  log("info", `ready pid=${current.pid} (${first.via})`);
  signals.setHandlers(() => {
    log("info", `stopping pid=${current!.pid}`);
    if (upstream !== undefined) os.sendNotify(upstream, "STOPPING=1\n").catch(() => false);
    stopAll();
  }, restart);
  if (hupQueued) restart();
  const code = await result;
  // The program is gone: a copy still being started must not outlive netkit.
  if (children.size > 0) {
    stopAll();
    await Promise.all([...children].map((c) => c.exited));
  }
  await restarting;
  return await finish(code);
}
