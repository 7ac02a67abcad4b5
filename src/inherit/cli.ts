/**
 * `netkit run`: zero-downtime restarts for any program that speaks systemd
 * socket activation, in any language (what einhorn and catflap do).
 *
 * ```sh
 * deno run -A jsr:@netkit/netkit/cli run --listen 127.0.0.1:8080 -- ./server
 * node node_modules/@netkit/netkit/esm/src/inherit/cli.js run --listen web=:8080 -- ./server
 * ```
 *
 * It holds the listening sockets (without ever accepting on them), starts the
 * command with them from fd 3 and `LISTEN_FDS`, `LISTEN_FDNAMES` and
 * `LISTEN_PID` set, and on SIGHUP starts a new copy, waits until it is ready,
 * then sends the old one SIGTERM. The new copy counts as ready at the first
 * of: a netkit program's `ready()`; `READY=1` on `NOTIFY_SOCKET` where the
 * runtime running netkit can receive Unix datagrams (Deno with
 * `--unstable-net`, Bun; not Node); `--ready-delay` milliseconds after it
 * started, as einhorn's timer ACK (`--ready-delay 0`: wait for an
 * announcement). A copy that exits first or is not ready within `--timeout`
 * is killed, and the old one goes on serving. SIGTERM and SIGINT stop the
 * program (SIGTERM) and exit with its code; so does the program exiting on
 * its own. The sockets can themselves be inherited (socket activation).
 *
 * On Deno it needs `--allow-all` (a held socket's fd is found through /proc).
 *
 * @module
 */
import { type Addr, type HeldListener, os, type Subprocess } from "../runtime/mod.ts";
import { formatAddr, requestKey } from "./_addr.ts";
import { ENV_NAMES, Net, takeInherited } from "./net.ts";

/** One `--listen` address. */
export interface ListenSpec {
  /** The address: `{ hostname, port }` or `{ path }`. */
  address: { hostname: string; port: number } | { path: string };
  /** The name passed in `LISTEN_FDNAMES`. */
  name?: string;
}

/** What `netkit run` was asked to do. */
export interface RunOptions {
  /** The sockets to listen on; none: every inherited listener. */
  listen: ListenSpec[];
  /**
   * A copy that has not announced readiness counts as ready after this
   * many milliseconds; `0` waits for an announcement.
   * @default {1000}
   */
  readyDelay: number;
  /**
   * A new copy not ready after this many milliseconds is killed.
   * @default {60000}
   */
  timeout: number;
  /**
   * The old copy is killed (SIGKILL) if it has not exited this many
   * milliseconds after SIGTERM.
   * @default {30000}
   */
  stopTimeout: number;
  /** The program. */
  command: string;
  /** Its arguments. */
  args: string[];
}

/**
 * The usage text `netkit run --help` prints.
 *
 * @example Printing the usage
 * ```ts
 * import { USAGE } from "@netkit/netkit/cli";
 *
 * console.log(USAGE.split("\n")[0]); // "usage: netkit run [options] -- COMMAND [ARGS...]"
 * ```
 */
export const USAGE: string = `usage: netkit run [options] -- COMMAND [ARGS...]

options:
  --listen [NAME=]ADDR   a socket to hold (repeatable): HOST:PORT, [V6]:PORT, :PORT,
                         PORT, unix:PATH or a path with a /; none: the inherited ones
  --ready-delay MS       count a copy as ready after MS if it did not say so (default 1000;
                         0: wait for ready() or sd_notify READY=1)
  --timeout MS           kill a new copy not ready after MS (default 60000)
  --stop-timeout MS      SIGKILL the old copy MS after SIGTERM (default 30000)

SIGHUP restarts the program with no dropped connection; SIGTERM/SIGINT stop it.`;

function parseAddress(text: string): ListenSpec {
  let name: string | undefined;
  const m = /^([A-Za-z0-9_.@-]+)=(.*)$/.exec(text);
  let addr = text;
  if (m !== null) [name, addr] = [m[1], m[2]];
  if (addr.startsWith("unix:")) return { address: { path: addr.slice(5) }, name };
  if (addr.includes("/")) return { address: { path: addr }, name };
  const tcp = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr) ?? /^()()(\d+)$/.exec(addr);
  const port = tcp === null ? NaN : Number(tcp[3]);
  if (tcp === null || !(port >= 0 && port <= 65535)) {
    throw new RangeError(`Cannot run: bad --listen address ${JSON.stringify(text)}`);
  }
  return { address: { hostname: tcp[1] ?? (tcp[2] || "0.0.0.0"), port }, name };
}

function parseMs(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isFinite(n) || n < 0) {
    throw new RangeError(`Cannot run: ${flag} takes milliseconds, received ${String(value)}`);
  }
  return n;
}

/**
 * Parses `netkit run` arguments (those after `run`).
 *
 * @param argv The arguments, e.g. `["--listen", ":8080", "--", "./server"]`.
 * @returns The options.
 * @throws {RangeError} If an address or a duration is malformed.
 * @throws {TypeError} If an option is unknown or the command is missing.
 *
 * @example
 * ```ts
 * import { parseRunArgs } from "@netkit/netkit/cli";
 *
 * const o = parseRunArgs(["--listen", "web=127.0.0.1:8080", "--", "node", "server.js"]);
 * console.log(o.listen[0].name, o.command, o.args); // "web" "node" ["server.js"]
 * ```
 */
export function parseRunArgs(argv: string[]): RunOptions {
  const options: RunOptions = {
    listen: [],
    readyDelay: 1000,
    timeout: 60_000,
    stopTimeout: 30_000,
    command: "",
    args: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      i++;
      break;
    }
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--listen":
      case "-l":
        options.listen.push(parseAddress(value() ?? ""));
        break;
      case "--ready-delay":
        options.readyDelay = parseMs(flag, value());
        break;
      case "--timeout":
        options.timeout = parseMs(flag, value());
        break;
      case "--stop-timeout":
        options.stopTimeout = parseMs(flag, value());
        break;
      default:
        if (arg.startsWith("-")) throw new TypeError(`Cannot run: unknown option ${arg}`);
        return finish(options, argv.slice(i));
    }
  }
  return finish(options, argv.slice(i));
}

function finish(options: RunOptions, rest: string[]): RunOptions {
  if (rest.length === 0) {
    throw new TypeError("Cannot run: no command given (netkit run -- COMMAND)");
  }
  options.command = rest[0];
  options.args = rest.slice(1);
  return options;
}

function log(message: string): void {
  console.error(`netkit: ${message}`);
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
 * @param options What to run and where to listen (see {@linkcode parseRunArgs}).
 * @returns The exit code: the program's, or 1 if it could not be started.
 *
 * @example
 * ```ts ignore
 * import { parseRunArgs, run } from "@netkit/netkit/cli";
 *
 * const code = await run(parseRunArgs(["--listen", ":8080", "--", "./server"]));
 * ```
 */
export async function run(options: RunOptions): Promise<number> {
  const net = new Net();
  const sockets: Socket[] = [];
  const cleanups: (() => void)[] = [];
  const specs: ListenSpec[] = options.listen.length > 0 ? options.listen : net.inherited()
    .filter((l) => l.addr !== undefined && !l.claimed)
    .map((l) => ({
      address: l.addr!.transport === "unix"
        ? { path: l.addr!.path }
        : { hostname: l.addr!.hostname, port: l.addr!.port },
      name: l.name,
    }));
  try {
    for (const spec of specs) {
      const inherited = await takeInherited(net, { ...spec.address, name: spec.name });
      const key = requestKey(spec.address);
      const name = spec.name ?? "unknown";
      if (inherited !== undefined) {
        sockets.push({
          fd: inherited.fd!,
          addr: inherited.addr,
          key,
          name,
          close: () => inherited.close(),
        });
      } else if ("path" in spec.address) {
        const held = await holdUnix(spec.address.path);
        cleanups.push(held.cleanup);
        sockets.push({ fd: held.fd, addr: held.addr, key, name, close: () => held.close() });
      } else {
        const held = await os.holdListener(spec.address);
        sockets.push({ fd: held.fd, addr: held.addr, key, name, close: () => held.close() });
      }
    }
  } catch (err) {
    log((err as Error).message);
    for (const s of sockets) await s.close();
    return 1;
  }
  if (sockets.length === 0) {
    log("nothing to listen on: give --listen, or start netkit run with sockets (LISTEN_FDS)");
    return 1;
  }
  for (const s of sockets) log(`listening on ${formatAddr(s.addr)} (fd ${s.fd}, ${s.name})`);

  const rx = os.listenNotify();
  const upstream = os.getEnv("NOTIFY_SOCKET");
  let onNotifyReady: (() => void) | undefined;
  rx?.onMessage((message) => {
    if (message.split("\n").includes("READY=1")) onNotifyReady?.();
  });
  if (rx === undefined) log("sd_notify READY=1 cannot be received on this runtime");

  const env = os.env();
  for (const name of [...ENV_NAMES, "NOTIFY_SOCKET"]) delete env[name];
  env.LISTEN_FDS = String(sockets.length);
  env.LISTEN_FDNAMES = sockets.map((s) => s.name).join(":");
  env.NETKIT_LISTEN_ADDRS = JSON.stringify(
    sockets.map((s) => ({ want: s.key, addr: s.addr, own: false })),
  );
  env.NETKIT_READY_FD = String(3 + sockets.length);
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

  let current: Subprocess;
  try {
    current = await start();
  } catch (err) {
    log((err as Error).message);
    for (const s of sockets) await s.close();
    await rx?.close();
    return 1;
  }
  log(`started pid=${current.pid}`);
  const first = await waitReady(current);
  current.closeControl();
  if (!first.ok) {
    log(`pid=${current.pid} ${first.why} before it was ready`);
    current.kill("SIGKILL");
    const s = await current.exited;
    for (const sock of sockets) await sock.close();
    await rx?.close();
    return s.code ?? 1;
  }
  await net.ready();
  if (upstream !== undefined) await os.sendNotify(upstream, "READY=1\n").catch(() => false);

  let stopping = false;
  let restarting = false;
  let finished!: (code: number) => void;
  const result = new Promise<number>((resolve) => finished = resolve);

  const watch = (child: Subprocess) => {
    child.exited.then((s) => {
      if (child !== current) return;
      const how = s.code !== null ? `code ${s.code}` : s.signal;
      log(`pid=${child.pid} exited with ${how}${stopping ? "" : " on its own"}`);
      finished(s.code ?? 1);
    });
  };
  watch(current);

  const restart = async () => {
    if (stopping) return;
    if (restarting) {
      log("a restart is already in progress");
      return;
    }
    restarting = true;
    if (upstream !== undefined) await os.sendNotify(upstream, "RELOADING=1\n").catch(() => false);
    let next: Subprocess | undefined;
    try {
      next = await start();
      log(`restarting: started pid=${next.pid}`);
      const outcome = await waitReady(next);
      next.closeControl();
      if (!outcome.ok || stopping) {
        log(
          `restart failed: pid=${next.pid} ${
            outcome.ok ? "stopped" : outcome.why
          }; pid=${current.pid} goes on serving`,
        );
        next.kill("SIGKILL");
        await next.exited;
        return;
      }
      const old = current;
      current = next;
      watch(current);
      log(`ready pid=${current.pid} (${outcome.via}); stopping pid=${old.pid}`);
      old.kill("SIGTERM");
      const killer = setTimeout(() => old.kill("SIGKILL"), options.stopTimeout);
      old.exited.then(() => clearTimeout(killer));
      if (upstream !== undefined) await os.sendNotify(upstream, "READY=1\n").catch(() => false);
    } catch (err) {
      log(`restart failed: ${(err as Error).message}`);
    } finally {
      restarting = false;
    }
  };

  let stopKiller: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log(`stopping pid=${current.pid}`);
    if (upstream !== undefined) os.sendNotify(upstream, "STOPPING=1\n").catch(() => false);
    current.kill("SIGTERM");
    stopKiller = setTimeout(() => current.kill("SIGKILL"), options.stopTimeout);
  };

  const offs = [
    os.onSignal("SIGHUP", () => void restart()),
    os.onSignal("SIGTERM", stop),
    os.onSignal("SIGINT", stop),
  ];
  // Said once the handlers are in place: from now on SIGHUP restarts.
  log(`ready pid=${current.pid} (${first.via})`);
  const code = await result;
  clearTimeout(stopKiller);
  for (const off of offs) off();
  for (const s of sockets) await s.close();
  for (const c of cleanups) c();
  await rx?.close();
  log(`exit ${code}`);
  return code;
}

/**
 * The `netkit` command: `netkit run [options] -- COMMAND [ARGS...]`.
 *
 * @param argv The arguments after the program's path.
 * @returns The exit code (2 for a usage error).
 *
 * @example
 * ```ts
 * import { main } from "@netkit/netkit/cli";
 *
 * console.log(await main(["help"])); // prints the usage, 0
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || ["help", "--help", "-h"].includes(argv[0])) {
    console.log(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] !== "run") {
    console.error(`netkit: unknown command ${argv[0]}\n${USAGE}`);
    return 2;
  }
  let options: RunOptions;
  try {
    options = parseRunArgs(argv.slice(1));
  } catch (err) {
    console.error(`netkit: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  return await run(options);
}

// Deno and Bun tell `import.meta.main` (false when a test runner loads this
// module); Node 20 does not, so there the entry script's path decides.
const isMain = (import.meta as { main?: boolean }).main ?? os.isMain(import.meta.url);
if (isMain) {
  main(os.args()).then((code) => os.exit(code), (err) => {
    console.error(`netkit: ${err instanceof Error ? err.message : String(err)}`);
    os.exit(1);
  });
}
