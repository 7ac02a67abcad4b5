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
  type TcpListenOptions,
  type TlsListenOptions,
  type UnixListenOptions,
} from "../runtime/mod.ts";
import { os, type Subprocess } from "../runtime/_internal.ts";
import {
  addrKey,
  checkName,
  formatAddr,
  type ListenAddress,
  normalHost,
  requestKey,
  sameAddr,
} from "./_addr.ts";
import { NetListener, type OwnedPath } from "./_listener.ts";
import { InheritanceError, NotInheritedError } from "./errors.ts";

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
/** The most fds `LISTEN_FDS` may claim: more is an error, not a silent ignore. */
const MAX_FDS = 4096;

/** einhorn's variables (contribsys/einhorn): read and unset like the systemd ones. */
const EINHORN_NAMES = ["EINHORN_FD_COUNT", "EINHORN_FDS"];

interface Slot {
  fd: number;
  name: string;
  kind: "listener" | "other" | "unknown";
  addr: Addr | undefined;
  /**
   * What the fd was at start-up (its socket inode, from /proc or fstat):
   * Net closes it only if it still is that; `undefined` where the runtime
   * cannot tell.
   */
  id: string | undefined;
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

/** A count or fd number as systemd writes it: decimal digits only ("0x1", " 1", "+1" are not). */
function parseDecimal(name: string, text: string, max: number): number {
  const n = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(n <= max)) {
    throw new InheritanceError(
      `Cannot inherit: ${name} must be a decimal number from 0 to ${max}, received ${
        JSON.stringify(text)
      }`,
    );
  }
  return n;
}

/** Whether what the parent said of an fd agrees with what /proc tells. */
function sameBound(said: Addr, seen: Addr): boolean {
  if (said.transport !== seen.transport) return false;
  // /proc/net/unix shows the path a socket was bound at, which a netkit
  // parent links elsewhere (see _listener.ts): only the transport can agree.
  if (said.transport === "unix") return seen.transport === "unix";
  return seen.transport === "tcp" && said.port === seen.port &&
    normalHost(said.hostname) === normalHost(seen.hostname);
}

/**
 * The fds, names and passed addresses the environment offers: systemd's
 * `LISTEN_FDS` from fd 3 (also without `LISTEN_PID`, as gracenet sets it;
 * ignored when `LISTEN_PID` names another process), else einhorn's
 * `EINHORN_FD_COUNT`/`EINHORN_FD_<i>` or `EINHORN_FDS` (ignored when
 * `EINHORN_MASTER_PID` is not the parent).
 */
function offeredFds(
  env: Record<string, string | undefined>,
): { fds: number[]; names: string[]; passed: (PassedAddr | undefined)[] } {
  const none = { fds: [], names: [], passed: [] };
  const fdsText = env.LISTEN_FDS;
  if (fdsText !== undefined) {
    const pidText = env.LISTEN_PID;
    // systemd's rule where LISTEN_PID is set; gracenet and other parents do not set it.
    if (pidText !== undefined && pidText !== String(os.pid)) return none;
    const n = parseDecimal("LISTEN_FDS", fdsText, MAX_FDS);
    const names = env.LISTEN_FDNAMES === undefined ? [] : env.LISTEN_FDNAMES.split(":");
    return {
      fds: Array.from({ length: n }, (_, i) => FDS_START + i),
      names: Array.from({ length: n }, (_, i) => names[i] || "unknown"),
      passed: parsePassed(env.NETKIT_LISTEN_ADDRS, n),
    };
  }
  const countText = env.EINHORN_FD_COUNT;
  const listText = env.EINHORN_FDS;
  if (countText === undefined && listText === undefined) return none;
  const master = env.EINHORN_MASTER_PID;
  if (master !== undefined && master !== String(os.ppid)) return none;
  let fds: number[];
  if (countText !== undefined) {
    const n = parseDecimal("EINHORN_FD_COUNT", countText, MAX_FDS);
    fds = Array.from({ length: n }, (_, i) => {
      const name = `EINHORN_FD_${i}`;
      return parseDecimal(name, env[name] ?? "", 0x7fffffff);
    });
  } else {
    fds = listText!.split(" ").filter((w) => w !== "").map((w) =>
      parseDecimal("EINHORN_FDS", w, 0x7fffffff)
    );
  }
  if (fds.some((fd) => fd < FDS_START)) {
    throw new InheritanceError(
      `Cannot inherit: einhorn fds must be 3 or more, received ${fds.join(" ")}`,
    );
  }
  return { fds, names: fds.map((_, i) => `einhorn@${i}`), passed: [] };
}

/**
 * Reads the inheritance protocol's variables once per process and unsets
 * them, as `sd_listen_fds(1)` does, so that children the program starts
 * later do not take fd 3 (facebookarchive/grace#44). Only fds that are
 * listening sockets now become listeners; the others (a count larger than
 * what was passed finds the runtime's own epoll, eventfd or pipes there)
 * are never used or closed.
 */
function takeInheritance(): { slots: Slot[]; readyFd: number | undefined } {
  if (inheritanceTaken) return { slots: [], readyFd: undefined };
  inheritanceTaken = true;
  const env: Record<string, string | undefined> = {};
  const einhornFds = Number(os.getEnv("EINHORN_FD_COUNT"));
  const einhorn = Number.isInteger(einhornFds) && einhornFds >= 0 && einhornFds <= MAX_FDS
    ? Array.from({ length: einhornFds }, (_, i) => `EINHORN_FD_${i}`)
    : [];
  const names = [...ENV_NAMES, ...EINHORN_NAMES, ...einhorn];
  for (const name of [...names, "EINHORN_MASTER_PID"]) env[name] = os.getEnv(name);
  for (const name of names) os.unsetEnv(name);
  const { fds, names: fdNames, passed } = offeredFds(env);
  const slots: Slot[] = [];
  for (const [i, fd] of fds.entries()) {
    const p = passed[i];
    const slot: Slot = {
      fd,
      name: fdNames[i],
      kind: "unknown",
      addr: undefined,
      id: os.fdId(fd),
      want: undefined,
      own: false,
      claimed: false,
      closed: false,
      listener: undefined,
    };
    // A TCP socket a netkit parent described is taken as described: checking
    // its port means reading /proc/net/tcp, 100-200 ms per restart with 10k
    // connections in TIME_WAIT. Anything else is checked against /proc.
    const described = p !== undefined && p.addr.transport === "tcp" &&
      slot.id?.startsWith("socket:[") === true;
    const seen = described ? undefined : os.inspectFd(fd);
    if (described) {
      slot.kind = "listener";
      slot.addr = p.addr;
      slot.want = p.want;
      slot.own = p.own;
    } else if (seen?.kind === "listener") {
      slot.kind = "listener";
      slot.addr = seen.addr;
      // What a netkit parent said counts only if it is this socket.
      if (p !== undefined && sameBound(p.addr, seen.addr)) {
        slot.addr = p.addr;
        slot.want = p.want;
        slot.own = p.own;
      }
    } else if (seen !== undefined) {
      slot.kind = "other";
    } else if (p !== undefined) {
      // No /proc (Deno without --allow-all): trust the netkit parent.
      slot.kind = "listener";
      slot.addr = p.addr;
      slot.want = p.want;
      slot.own = p.own;
    }
    // Children this program starts must not hold the socket (issue 10):
    // sd_listen_fds() sets FD_CLOEXEC too.
    if (slot.kind !== "other") os.setCloseOnExec(fd);
    slots.push(slot);
  }
  const readyText = env.NETKIT_READY_FD;
  const ready = Number(readyText);
  const readyFd = readyText !== undefined && /^[0-9]+$/.test(readyText) &&
      ready >= FDS_START + fds.length
    ? ready
    : undefined;
  if (readyFd !== undefined) os.setCloseOnExec(readyFd);
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
 * names another process, as `sd_listen_fds()` does; they are taken when it is
 * absent, as a gracenet parent leaves it), reads `LISTEN_FDNAMES`, and unsets
 * them all so that children started later do not take fd 3. Without
 * `LISTEN_FDS` it takes einhorn's sockets (`EINHORN_FD_COUNT` and
 * `EINHORN_FD_<i>`, or `EINHORN_FDS`; named `einhorn@<i>`) unless
 * `EINHORN_MASTER_PID` names a process other than the parent.
 *
 * Only fds that are listening sockets become listeners, and only those are
 * ever closed: a `LISTEN_FDS` larger than what was passed points at the
 * runtime's own fds, which are left alone. Where /proc tells (Linux; Deno
 * only with `--allow-all`) each fd is checked, and an fd is closed only
 * while it is still the socket it was at start-up.
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
   * own `NETKIT_LISTEN_ADDRS` and `NETKIT_READY_FD` (and einhorn's
   * `EINHORN_FD_COUNT`, `EINHORN_FD_<i>`, `EINHORN_FDS`); later ones find none.
   *
   * @throws {InheritanceError} If `LISTEN_FDS` (or an einhorn variable) is
   * not a plain decimal number (`"0x1"`, `" 1"`) or claims more than 4096
   * fds. The variables are unset first, so a second `new Net()` works.
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
   * (gracenet leaks them; only listening sockets that are still the ones
   * inherited, and on Deno without /proc access only those a netkit parent
   * described or `listen()` looked at) and, when a netkit parent waits for it, tells it
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

  /**
   * Closes the inherited listening sockets nobody claimed: only those that
   * were listening sockets at start-up and still are the same socket (or
   * that the runtime opened as listeners). The number of an fd that was
   * not one may belong to the runtime or the application by now.
   */
  async #closeUnclaimed(): Promise<void> {
    for (const slot of this.#slots) {
      if (slot.claimed || slot.closed) continue;
      slot.closed = true;
      if (slot.listener !== undefined) await slot.listener.close();
      else if (
        slot.kind === "listener" && (slot.id === undefined || os.fdId(slot.fd) === slot.id)
      ) {
        os.closeFd(slot.fd);
      }
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
