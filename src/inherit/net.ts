/**
 * `Net`: gracenet for JavaScript. Listeners come from the parent process or
 * from systemd when they are there (`LISTEN_FDS` from fd 3), and are bound
 * fresh otherwise; `startProcess()` starts a new copy of the program that
 * inherits every listener still open.
 *
 * @module
 */
import {
  type Addr,
  AddrInUseError,
  type Listener,
  os,
  type Subprocess,
  type TcpListenOptions,
  type TlsListenOptions,
  type UnixListenOptions,
} from "../runtime/mod.ts";
import {
  addrKey,
  checkName,
  formatAddr,
  type ListenAddress,
  requestKey,
  sameAddr,
} from "./_addr.ts";
import { NetListener, type OwnedPath } from "./_listener.ts";
import { NotInheritedError } from "./errors.ts";

/** Options of {@linkcode Net.listen}: a TCP or Unix address, and an optional name. */
export type NetListenOptions = (TcpListenOptions | UnixListenOptions) & {
  /**
   * The name passed to child processes in `LISTEN_FDNAMES` (1–255 printable
   * characters, no `:`). An inherited listener keeps its name unless this
   * is given.
   * @default {"unknown"}
   */
  name?: string;
};

/** One listening socket this process inherited, as {@linkcode Net.inherited} reports it. */
export interface InheritedListener {
  /** The file descriptor (3, 4, …). */
  readonly fd: number;
  /** Its name from `LISTEN_FDNAMES`, `"unknown"` when none was given. */
  readonly name: string;
  /**
   * Its address, or `undefined` when it is not a listening stream socket
   * or the runtime cannot tell (a Unix socket's path needs /proc, which
   * Deno reads only with `--allow-all`).
   */
  readonly addr: Addr | undefined;
  /** Whether `listen()` or `listenNamed()` handed it out. */
  readonly claimed: boolean;
}

/** Options of {@linkcode Net.startProcess}: how to start the new copy. */
export interface StartProcessOptions {
  /**
   * The executable.
   * @default {this runtime's executable (`Deno.execPath()`, `process.execPath`)}
   */
  command?: string;
  /**
   * The arguments after the executable. When `command` is given too they
   * default to none.
   * @default {this program's runtime flags, script and arguments}
   */
  args?: string[];
  /**
   * The working directory.
   * @default {the working directory when the Net was made}
   */
  cwd?: string;
  /**
   * Variables to add to (a string) or remove from (`undefined`) this
   * process's environment. `LISTEN_*` and `NETKIT_*` are always set by Net.
   * @default {{}}
   */
  env?: Record<string, string | undefined>;
}

/**
 * The environment variables of the inheritance protocol: systemd's
 * `LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`, and netkit's own
 * `NETKIT_LISTEN_ADDRS` and `NETKIT_READY_FD`. Net unsets them after reading;
 * a program that starts other children itself can strip them the same way.
 *
 * @example Keeping the variables from a grandchild
 * ```ts
 * import { ENV_NAMES } from "@netkit/netkit/inherit";
 *
 * const env: Record<string, string> = { PATH: "/usr/bin", LISTEN_FDS: "1" };
 * for (const name of ENV_NAMES) delete env[name];
 * console.log(env); // { PATH: "/usr/bin" }
 * ```
 */
export const ENV_NAMES: readonly string[] = [
  "LISTEN_PID",
  "LISTEN_FDS",
  "LISTEN_FDNAMES",
  "NETKIT_LISTEN_ADDRS",
  "NETKIT_READY_FD",
];

/** The first inherited fd (`SD_LISTEN_FDS_START`). */
const FDS_START = 3;

interface Slot {
  fd: number;
  name: string;
  kind: "listener" | "other" | "unknown";
  addr: Addr | undefined;
  /** The request the parent's listener answered, when a netkit parent said so. */
  want: string | undefined;
  /** Whether the parent handed over the Unix socket's path with the socket. */
  own: boolean;
  claimed: boolean;
  closed: boolean;
  listener: NetListener | undefined;
}

interface Active {
  listener: Listener;
  name: string;
  key: string;
}

interface PassedAddr {
  want: string;
  addr: Addr;
  own: boolean;
}

let inheritanceTaken = false;

function parsePassed(text: string | undefined, n: number): (PassedAddr | undefined)[] {
  if (text === undefined) return [];
  try {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list) || list.length !== n) return [];
    return list.map((e) => {
      const p = e as Partial<PassedAddr> | null;
      const a = p?.addr as Partial<Addr> | undefined;
      const addrOk = a !== undefined && a !== null &&
        ((a.transport === "tcp" && typeof a.hostname === "string" && typeof a.port === "number") ||
          (a.transport === "unix" && typeof a.path === "string"));
      return typeof p?.want === "string" && addrOk
        ? { want: p.want, addr: a as Addr, own: p.own === true }
        : undefined;
    });
  } catch {
    return [];
  }
}

/**
 * Reads the inheritance protocol's variables once per process and unsets
 * them, as `sd_listen_fds(1)` does, so that children the program starts
 * later do not take fd 3 (facebookarchive/grace#44).
 */
function takeInheritance(): { slots: Slot[]; readyFd: number | undefined } {
  if (inheritanceTaken) return { slots: [], readyFd: undefined };
  inheritanceTaken = true;
  const [pidText, fdsText, namesText, addrsText, readyText] = ENV_NAMES.map((n) => os.getEnv(n));
  for (const name of ENV_NAMES) os.unsetEnv(name);
  // systemd's rule: the fds are ours only if LISTEN_PID names this process.
  if (pidText === undefined || Number(pidText) !== os.pid || fdsText === undefined) {
    return { slots: [], readyFd: undefined };
  }
  const n = Number(fdsText);
  if (!Number.isInteger(n) || n < 0 || n > 4096) return { slots: [], readyFd: undefined };
  const names = namesText === undefined ? [] : namesText.split(":");
  const passed = parsePassed(addrsText, n);
  const slots: Slot[] = [];
  for (let i = 0; i < n; i++) {
    const fd = FDS_START + i;
    const p = passed[i];
    const slot: Slot = {
      fd,
      name: names[i] || "unknown",
      kind: "unknown",
      addr: undefined,
      want: p?.want,
      own: p?.own ?? false,
      claimed: false,
      closed: false,
      listener: undefined,
    };
    if (p !== undefined) {
      slot.kind = "listener";
      slot.addr = p.addr;
    } else {
      const seen = os.inspectFd(fd);
      if (seen?.kind === "listener") {
        slot.kind = "listener";
        slot.addr = seen.addr;
      } else if (seen !== undefined) {
        slot.kind = "other";
      }
    }
    slots.push(slot);
  }
  const ready = Number(readyText);
  const readyFd = readyText !== undefined && Number.isInteger(ready) && ready >= FDS_START + n
    ? ready
    : undefined;
  return { slots, readyFd };
}

function randomName(): string {
  return Math.random().toString(36).slice(2, 10).padEnd(8, "0");
}

function isAbstract(path: string): boolean {
  return path.startsWith("\0") || path.startsWith("@");
}

/** Starts a successor; used by the Upgrader and the CLI. Set in Net's static block. */
export let spawnWithListeners: (
  net: Net,
  options: StartProcessOptions & { control?: boolean; own?: boolean },
) => Promise<{ sub: Subprocess; passed: NetListener[] }>;

/** The inherited listener for an address, never a fresh one; used by the CLI. */
export let takeInherited: (
  net: Net,
  options: NetListenOptions,
) => Promise<NetListener | undefined>;

/**
 * Inherited and fresh listeners, and starting a new copy of the program that
 * inherits them: gracenet (facebookgo/grace), compatible with systemd socket
 * activation.
 *
 * The first `Net` made in a process takes the inherited sockets: it reads
 * `LISTEN_FDS` (fds from 3), honours `LISTEN_PID` (the fds are ignored when it
 * names another process, as `sd_listen_fds()` does), reads `LISTEN_FDNAMES`,
 * and unsets them all so that children started later do not take fd 3.
 *
 * @example Serving an inherited socket or a fresh one
 * ```ts ignore
 * import { Net } from "@netkit/netkit/inherit";
 *
 * const net = new Net();
 * const listener = await net.listen({ hostname: "127.0.0.1", port: 8080 });
 * await net.ready(); // closes inherited sockets nobody asked for
 * for await (const conn of listener) conn.close();
 * ```
 */
export class Net implements AsyncDisposable {
  readonly #slots: Slot[];
  readonly #active: Active[] = [];
  readonly #cwd: string;
  #readyFd: number | undefined;
  #discovered: Promise<void> | undefined;
  #readied = false;

  static {
    spawnWithListeners = (net, options) => net.#spawn(options);
    takeInherited = (net, options) => net.#takeInherited(options);
  }

  /**
   * Makes a Net. The first one in a process takes the inherited sockets
   * and unsets `LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES` and netkit's
   * own `NETKIT_LISTEN_ADDRS` and `NETKIT_READY_FD`; later ones find none.
   */
  constructor() {
    const { slots, readyFd } = takeInheritance();
    this.#slots = slots;
    this.#readyFd = readyFd;
    this.#cwd = os.cwd();
  }

  /**
   * Whether a netkit parent (an upgrading process or `netkit run`) started
   * this process and waits for its {@linkcode Net.ready}.
   *
   * @example
   * ```ts
   * import { Net } from "@netkit/netkit/inherit";
   *
   * console.log(new Net().hasParent); // false when started by hand
   * ```
   */
  get hasParent(): boolean {
    return this.#readyFd !== undefined;
  }

  /** Learns the address of inherited fds that neither /proc nor the parent described. */
  #discover(): Promise<void> {
    this.#discovered ??= (async () => {
      for (const slot of this.#slots) {
        if (slot.kind !== "unknown") continue;
        try {
          const listener = await os.listenPassable({ fd: slot.fd });
          slot.kind = "listener";
          slot.addr = listener.addr;
          slot.listener = new NetListener(listener.addr, { listener });
        } catch {
          slot.kind = "other";
        }
      }
    })();
    return this.#discovered;
  }

  #claim(
    slot: Slot,
    name: string | undefined,
    key: string,
    backlog?: number,
    tls?: TlsListenOptions,
  ): NetListener {
    slot.claimed = true;
    let owned: OwnedPath | undefined;
    if (slot.own && slot.addr?.transport === "unix" && slot.addr.path !== "") {
      const id = os.fileId(slot.addr.path);
      if (id !== undefined) owned = { path: slot.addr.path, id };
    }
    slot.listener ??= new NetListener(slot.addr!, { fd: slot.fd, backlog, tls }, owned);
    this.#active.push({ listener: slot.listener, name: name ?? slot.name, key: slot.want ?? key });
    return slot.listener;
  }

  /**
   * Returns the inherited listener whose address matches, else a fresh one.
   *
   * A TCP request matches an inherited socket on the same port whose host is
   * the same, wildcards (`""`, `"0.0.0.0"`, `"::"`) matching each other, as
   * gracenet's `isSameAddr`; a Unix request matches the same path. A socket
   * passed by a netkit parent also matches the request it was made for, so
   * `port: 0` gets back the port the first process was given.
   *
   * An inherited socket starts to be served at its first `accept()`: until
   * then its connections wait in the kernel queue, where the parent serves
   * them. A Unix socket path that this process binds is removed when its
   * listener closes, unless a successor took the socket over.
   *
   * @param options `{ hostname?, port?, backlog?, name? }` or `{ path, backlog?, name? }`.
   * @returns The listener.
   * @throws {TypeError} If the options are not an address (an fd is not; see {@linkcode Net.listenNamed}) or the name is invalid.
   * @throws {AddrInUseError} If a fresh listener's address is taken.
   *
   * @example A TCP listener, inherited on restart
   * ```ts ignore
   * import { Net } from "@netkit/netkit/inherit";
   *
   * const net = new Net();
   * await using listener = await net.listen({ hostname: "127.0.0.1", port: 0, name: "web" });
   * console.log(listener.addr);
   * ```
   */
  async listen(options: NetListenOptions): Promise<Listener> {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Cannot listen: options must be an object, received ${String(options)}`);
    }
    if ("fd" in options) {
      throw new TypeError(
        "Cannot listen: Net.listen() takes an address; use listenNamed() or inherited() for fds",
      );
    }
    const inherited = await this.#takeInherited(options);
    if (inherited !== undefined) return inherited;
    const { name, ...address } = options;
    const key = requestKey(address as ListenAddress);
    const listener = "path" in address
      ? await this.#listenUnix(address)
      : await this.#listenFresh(address);
    this.#active.push({ listener, name: name ?? "unknown", key });
    return listener;
  }

  async #listenFresh(options: TcpListenOptions | UnixListenOptions): Promise<Listener> {
    const inner = await os.listenPassable(options);
    return new NetListener(inner.addr, { listener: inner });
  }

  async #takeInherited(options: NetListenOptions): Promise<NetListener | undefined> {
    const { name, ...address } = options;
    if (name !== undefined) checkName(name, "listen");
    await this.#discover();
    const key = requestKey(address as ListenAddress);
    const open = this.#slots.filter((s) => !s.claimed && !s.closed && s.kind === "listener");
    const slot = open.find((s) => s.want === key) ??
      open.find((s) => s.addr !== undefined && sameAddr(s.addr, address as ListenAddress));
    return slot === undefined
      ? undefined
      : this.#claim(slot, name, key, address.backlog, address.tls);
  }

  /**
   * A raw listening fd for a server of your own (`server.listen({ fd })` of
   * node:http, Express, Fastify): the inherited socket for the address, else
   * a fresh one that nobody accepts on yet. Either way it stays passed to
   * successors like the listeners of {@linkcode Net.listen}; this Net never
   * accepts on it. Bun's node:http ignores `fd` and binds a random port
   * (oven-sh/bun#22559): compare the address served with `addr` (serve it
   * with `serve()` of `@netkit/netkit/http` instead on Bun). On Deno only an
   * inherited socket can be served this way: a fresh one is registered with
   * Deno's own poller and node:http's `listen({ fd })` fails with `EINVAL`.
   *
   * @param options `{ hostname?, port?, backlog?, name? }` (TCP only).
   * @returns The fd and the address it is bound to.
   * @throws {TypeError} If the options are not a TCP address, or the inherited socket is already served.
   * @throws {AddrInUseError} If a fresh socket's address is taken.
   *
   * @example Handing the socket to node:http
   * ```ts ignore
   * import { createServer } from "node:http";
   * import { Net } from "@netkit/netkit/inherit";
   *
   * const net = new Net();
   * const { fd, addr } = await net.listenFd({ hostname: "127.0.0.1", port: 8080, name: "web" });
   * createServer((req, res) => res.end("hi")).listen({ fd });
   * await net.ready();
   * ```
   */
  async listenFd(options: NetListenOptions): Promise<{ fd: number; addr: Addr }> {
    if (options === null || typeof options !== "object" || "fd" in options || "path" in options) {
      throw new TypeError("Cannot hand out an fd: options must be a TCP address");
    }
    const inherited = await this.#takeInherited(options);
    if (inherited !== undefined) {
      if (inherited.active || inherited.fd === undefined) {
        throw new TypeError("Cannot hand out an fd: the inherited socket is already served");
      }
      return { fd: inherited.fd, addr: inherited.addr };
    }
    const { name, ...address } = options;
    const held = await os.holdListener(address as TcpListenOptions);
    // Never accepted on: it is only passed on (and closed with the Net).
    const listener = new NetListener(held.addr, { fd: held.fd });
    this.#active.push({
      listener,
      name: name ?? "unknown",
      key: requestKey(address as ListenAddress),
    });
    return { fd: held.fd, addr: held.addr };
  }

  /** Binds a Unix socket at a temporary name, then links the real path to it (see _listener.ts). */
  async #listenUnix(options: UnixListenOptions): Promise<Listener> {
    const path = options.path;
    const slash = path.lastIndexOf("/");
    const tmp = `${path.slice(0, slash + 1)}.netkit-${randomName()}.sock`;
    if (isAbstract(path) || new TextEncoder().encode(tmp).byteLength > 107) {
      return await this.#listenFresh(options);
    }
    const inner = await os.listenPassable({ ...options, path: tmp });
    try {
      os.linkFile(tmp, path);
    } catch (err) {
      await inner.close();
      os.removeFile(tmp);
      if ((err as { code?: unknown }).code === "EEXIST") {
        throw new AddrInUseError(`Cannot listen on ${path}: address already in use`, {
          cause: err,
        });
      }
      throw new Error(`Cannot listen on ${path}: ${(err as Error).message}`, { cause: err });
    }
    os.removeFile(tmp);
    const id = os.fileId(path) ?? "";
    return new NetListener({ transport: "unix", path }, { listener: inner }, { path, id });
  }

  /**
   * Returns the inherited listener that systemd (`--fdname`, `FileDescriptorName=`)
   * or the parent named `name`.
   *
   * @param name The name in `LISTEN_FDNAMES`.
   * @returns The listener.
   * @throws {NotInheritedError} If no unclaimed inherited listener has that name, or it is not a listening stream socket.
   * @throws {TypeError} If `name` is not a valid fd name.
   *
   * @example Taking the socket systemd named "web"
   * ```ts ignore
   * import { Net } from "@netkit/netkit/inherit";
   *
   * const net = new Net();
   * const web = await net.listenNamed("web");
   * ```
   */
  async listenNamed(name: string): Promise<Listener> {
    checkName(name, "listen");
    await this.#discover();
    const slot = this.#slots.find((s) => s.name === name && !s.claimed && !s.closed);
    if (slot === undefined) {
      const taken = this.#slots.some((s) => s.name === name);
      throw new NotInheritedError(
        taken
          ? `Cannot listen: the inherited listener named "${name}" is already in use`
          : `Cannot listen: no inherited listener is named "${name}"`,
      );
    }
    if (slot.kind !== "listener" || slot.addr === undefined) {
      throw new NotInheritedError(
        `Cannot listen: inherited fd ${slot.fd} named "${name}" is not a listening stream socket`,
      );
    }
    return this.#claim(slot, undefined, addrKey(slot.addr));
  }

  /**
   * Lists the sockets this process inherited, with each one's fd, address
   * and name, claimed or not.
   *
   * @returns One entry per inherited fd, in fd order.
   *
   * @example
   * ```ts
   * import { Net } from "@netkit/netkit/inherit";
   *
   * for (const l of new Net().inherited()) console.log(l.fd, l.name, l.addr);
   * ```
   */
  inherited(): InheritedListener[] {
    return this.#slots.map((s) => ({
      fd: s.fd,
      name: s.name,
      addr: s.addr,
      claimed: s.claimed,
    }));
  }

  /**
   * Says this process serves: closes the inherited sockets nobody claimed
   * (gracenet leaks them) and, when a netkit parent waits for it, tells it
   * (`READY=1` on the fd in `NETKIT_READY_FD`). Call it once every listener
   * is taken and being served. Idempotent.
   *
   * @returns Resolves when done.
   *
   * @example
   * ```ts ignore
   * import { Net } from "@netkit/netkit/inherit";
   *
   * const net = new Net();
   * const listener = await net.listen({ port: 8080 });
   * // … start serving listener …
   * await net.ready();
   * ```
   */
  async ready(): Promise<void> {
    if (this.#readied) return;
    this.#readied = true;
    await this.#closeUnclaimed();
    const fd = this.#readyFd;
    this.#readyFd = undefined;
    if (fd !== undefined) await os.writeFdAndClose(fd, `READY=1\nMAINPID=${os.pid}\n`);
  }

  async #closeUnclaimed(): Promise<void> {
    for (const slot of this.#slots) {
      if (slot.claimed || slot.closed) continue;
      slot.closed = true;
      if (slot.listener !== undefined) await slot.listener.close();
      else os.closeFd(slot.fd);
    }
  }

  /**
   * Starts a new copy of the program (same runtime executable, arguments,
   * working directory and environment, each overridable) with every listener
   * this Net handed out that is still open passed from fd 3, and
   * `LISTEN_FDS`, `LISTEN_FDNAMES` and `LISTEN_PID` set for it. Closed
   * listeners are skipped (gracenet's documented BUG). The child is started
   * through `/bin/sh` so that `LISTEN_PID` is its own pid; it does not keep
   * this process alive.
   *
   * On Deno this needs `--allow-run` and `--allow-env` (and no /proc access:
   * fresh listeners are made with node:net, which duplicates its fd on request).
   *
   * @param options How to start the copy.
   * @returns The child's pid.
   * @throws {Error} If the child cannot be started (`Cannot start process: …`).
   *
   * @example gracenet's restart
   * ```ts ignore
   * import { Net } from "@netkit/netkit/inherit";
   *
   * const net = new Net();
   * const listener = await net.listen({ port: 8080 });
   * const pid = await net.startProcess();
   * console.log(`started ${pid}; stop accepting and drain now`);
   * await listener.close();
   * ```
   */
  async startProcess(options: StartProcessOptions = {}): Promise<number> {
    const { sub, passed } = await this.#spawn(options);
    sub.unref();
    for (const l of passed) l.handedOff = true;
    return sub.pid;
  }

  async #spawn(
    options: StartProcessOptions & { control?: boolean; own?: boolean },
  ): Promise<{ sub: Subprocess; passed: NetListener[] }> {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Cannot start process: options must be an object");
    }
    const active = this.#active.filter((a) => !a.listener.closed);
    const handles: { fd: number; dup: boolean; release(): void }[] = [];
    try {
      for (const a of active) {
        const h = os.listenerFd(a.listener);
        if (h === undefined) {
          throw new Error(
            `Cannot start process: the fd of the listener on ${
              formatAddr(a.listener.addr)
            } is unknown`,
          );
        }
        handles.push(h);
      }
      const env = os.env();
      for (const name of ENV_NAMES) delete env[name];
      for (const [k, v] of Object.entries(options.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      const own = options.own ?? true;
      env.LISTEN_FDS = String(active.length);
      if (active.length > 0) {
        env.LISTEN_FDNAMES = active.map((a) => a.name).join(":");
        env.NETKIT_LISTEN_ADDRS = JSON.stringify(active.map((a): PassedAddr => ({
          want: a.key,
          addr: a.listener.addr,
          own: own && a.listener instanceof NetListener && a.listener.ownsPath,
        })));
      }
      if (options.control) env.NETKIT_READY_FD = String(FDS_START + active.length);
      const self = options.command === undefined ? os.selfCommand() : undefined;
      const sub = await os.spawn({
        command: options.command ?? self!.command,
        args: options.args ?? self?.args ?? [],
        cwd: options.cwd ?? this.#cwd,
        env,
        fds: handles.map((h) => h.fd),
        // Dups are closed as soon as the child has them (on Deno this also
        // undoes spawn's clearing of O_NONBLOCK: see runtime/_process.ts).
        closeFds: handles.filter((h) => h.dup).map((h) => h.fd),
        control: options.control ?? false,
        setListenPid: true,
      });
      const passed = active.map((a) => a.listener).filter((l) => l instanceof NetListener);
      return { sub, passed };
    } finally {
      // What spawn did not close already (it failed, or the fd was not a dup).
      for (const h of handles) if (!h.dup) h.release();
    }
  }

  /**
   * Closes the inherited sockets nobody claimed and, if a netkit parent waits
   * for {@linkcode Net.ready}, tells it this process will not be ready.
   * Listeners already handed out stay open. Idempotent.
   *
   * @returns Resolves when done.
   *
   * @example
   * ```ts
   * import { Net } from "@netkit/netkit/inherit";
   *
   * const net = new Net();
   * await net.close();
   * ```
   */
  async close(): Promise<void> {
    await this.#closeUnclaimed();
    const fd = this.#readyFd;
    this.#readyFd = undefined;
    if (fd !== undefined) os.closeFd(fd);
  }

  /**
   * Same as {@linkcode Net.close}, for `await using`.
   *
   * @returns Resolves when done.
   *
   * @example
   * ```ts
   * import { Net } from "@netkit/netkit/inherit";
   *
   * await using net = new Net();
   * console.log(net.inherited().length);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
