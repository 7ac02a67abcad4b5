// Internal, runtime adapter only: a listening socket that this process holds
// but never accepts on, so that it can pass it to children again and again
// (a supervisor such as `netkit run`). node:net and Bun.listen accept as soon
// as they listen, which would strand connections in the holder, so:
// - Deno: Deno.listen accepts only on demand, so it is simply never asked;
//   its fd is found through /proc, which Deno reads only with --allow-all.
// - Bun: libc's socket/bind/listen through bun:ffi (no flag needed).
// - Node: no FFI, but a short-lived Node helper can bind and send its raw TCP
//   handle back over the IPC channel ('net.Native'): a handle received that
//   way is not listened on, so libuv does not poll it.
import { builtin } from "./_node.ts";
import { denoRuntime } from "./deno.ts";
import { HOST } from "./_host.ts";
import { type BunPointers, openLibc } from "./_libc.ts";
import { AddrInUseError, NetError } from "./errors.ts";
import { DEFAULT_BACKLOG } from "./_base_listener.ts";
import type { Addr, HeldListener, TcpListenOptions, UnixListenOptions } from "./types.ts";

interface BunHoldLibc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: number, len: number): number;
  bind(fd: number, addr: number, len: number): number;
  listen(fd: number, backlog: number): number;
  getsockname(fd: number, addr: number, len: number): number;
  close(fd: number): number;
  __errno_location(): number;
}
function bunLibc(): { libc: BunHoldLibc; ffi: BunPointers } {
  const lib = openLibc<BunHoldLibc>({
    socket: { args: ["i32", "i32", "i32"], returns: "i32" },
    setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
    bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
    listen: { args: ["i32", "i32"], returns: "i32" },
    getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
    close: { args: ["i32"], returns: "i32" },
    __errno_location: { args: [], returns: "ptr" },
  });
  if (lib?.pointers == null) {
    throw new Error("Cannot hold listener: libc is not reachable through bun:ffi");
  }
  return { libc: lib.symbols, ffi: lib.pointers };
}

function ipv4Bytes(host: string): number[] | undefined {
  const parts = host.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map(Number);
  return bytes.every((b, i) => /^\d{1,3}$/.test(parts[i]) && b <= 255) ? bytes : undefined;
}

function ipv6Bytes(host: string): number[] | undefined {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  if (!h.includes(":")) return undefined;
  const [head, tail] = h.includes("::") ? h.split("::") : [h, undefined];
  const words = (s: string) => s === "" ? [] : s.split(":");
  const a = words(head), b = tail === undefined ? [] : words(tail);
  const fill = tail === undefined ? 0 : 8 - a.length - b.length;
  const all = [...a, ...Array(fill).fill("0"), ...b];
  if (all.length !== 8 || !all.every((w) => /^[0-9a-f]{1,4}$/i.test(w))) return undefined;
  return all.flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 255]);
}

const ERRNO_EADDRINUSE = 98;

function holdBunSync(options: TcpListenOptions | UnixListenOptions): HeldListener {
  const { libc, ffi } = bunLibc();
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  let family: number, addr: Uint8Array, what: string;
  if ("path" in options) {
    family = 1;
    what = options.path;
    const name = new TextEncoder().encode(options.path);
    if (name.byteLength > 107) throw new RangeError(`Cannot listen: path too long: ${what}`);
    addr = new Uint8Array(110);
    addr.set(name, 2);
  } else {
    const host = options.hostname ?? "0.0.0.0";
    const port = options.port ?? 0;
    what = `${host}:${port}`;
    const v4 = ipv4Bytes(host === "" ? "0.0.0.0" : host), v6 = v4 ? undefined : ipv6Bytes(host);
    if (v4 !== undefined) {
      family = 2;
      addr = new Uint8Array(16);
      addr.set(v4, 4);
    } else if (v6 !== undefined) {
      family = 10;
      addr = new Uint8Array(28);
      addr.set(v6, 8);
    } else {
      throw new TypeError(`Cannot listen on ${what}: give an IP address, not a host name`);
    }
    addr[2] = port >> 8;
    addr[3] = port & 255;
  }
  new DataView(addr.buffer).setUint16(0, family, true);
  const SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000;
  const fd = libc.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new NetError(`Cannot listen on ${what}: socket() failed`);
  const fail = (step: string): never => {
    const errno = ffi.read.i32(libc.__errno_location());
    libc.close(fd);
    if (errno === ERRNO_EADDRINUSE) {
      throw new AddrInUseError(`Cannot listen on ${what}: address already in use`);
    }
    throw new NetError(`Cannot listen on ${what}: ${step} failed (errno ${errno})`);
  };
  if (family !== 1) {
    const one = new Uint8Array(new Int32Array([1]).buffer);
    libc.setsockopt(fd, 1, 2, ffi.ptr(one), 4); // SOL_SOCKET, SO_REUSEADDR
  }
  const len = "path" in options
    ? 2 + new TextEncoder().encode(options.path).byteLength + 1
    : addr.byteLength;
  if (libc.bind(fd, ffi.ptr(addr), len) !== 0) fail("bind");
  if (libc.listen(fd, backlog) !== 0) fail("listen");
  let bound: Addr;
  if ("path" in options) {
    bound = { transport: "unix", path: options.path };
  } else {
    const out = new Uint8Array(28);
    const outLen = new Uint8Array(new Uint32Array([28]).buffer);
    libc.getsockname(fd, ffi.ptr(out), ffi.ptr(outLen));
    const port = (out[2] << 8) | out[3];
    const hostname = family === 2 ? [...out.subarray(4, 8)].join(".") : (options.hostname ?? "::");
    bound = { transport: "tcp", hostname, port };
  }
  let closed = false;
  return {
    fd,
    addr: bound,
    close(): Promise<void> {
      if (!closed) {
        closed = true;
        libc.close(fd);
      }
      return Promise.resolve();
    },
  };
}

function holdBun(options: TcpListenOptions | UnixListenOptions): Promise<HeldListener> {
  try {
    return Promise.resolve(holdBunSync(options));
  } catch (err) {
    return Promise.reject(err);
  }
}

// The helper: binds, sends the raw handle, leaves. It exits without closing
// its copy: closing a Unix socket server makes libuv unlink the socket's
// path, which the holder still serves (the kernel closes the copy at exit).
const NODE_BINDER = `
const net = require("node:net");
const opts = JSON.parse(process.argv[1]);
const s = net.createServer();
s.on("connection", (c) => c.destroy());
s.once("error", (err) => { process.send({ error: err.message, code: err.code }); process.disconnect(); });
s.listen(opts, () => {
  process.send({ addr: s.address() }, s._handle, () => process.exit(0));
});`;

function holdNode(options: TcpListenOptions | UnixListenOptions): Promise<HeldListener> {
  const listenArgs = "path" in options
    ? { path: options.path, backlog: options.backlog ?? DEFAULT_BACKLOG }
    : {
      host: options.hostname ?? "0.0.0.0",
      port: options.port ?? 0,
      backlog: options.backlog ?? DEFAULT_BACKLOG,
    };
  const what = "path" in options ? options.path : `${listenArgs.host}:${listenArgs.port}`;
  return new Promise<HeldListener>((resolve, reject) => {
    const child = builtin("node:child_process").spawn(process.execPath, [
      "-e",
      NODE_BINDER,
      JSON.stringify(listenArgs),
    ], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    child.once("error", (err) => reject(new NetError(`Cannot listen on ${what}: ${err.message}`)));
    child.once("message", (m: { error?: string; code?: string; addr?: unknown }, handle) => {
      if (m.error !== undefined || handle === undefined) {
        const msg = `Cannot listen on ${what}: ${m.error ?? "no handle received"}`;
        reject(
          m.code === "EADDRINUSE" ? new AddrInUseError(msg) : new NetError(msg, { code: m.code }),
        );
        return;
      }
      const h = handle as unknown as { fd: number; close(): void };
      const a = m.addr as { address?: string; port?: number } | string | null;
      const addr: Addr = "path" in options ? { transport: "unix", path: options.path } : {
        transport: "tcp",
        hostname: typeof a === "object" && a !== null ? a.address ?? "" : "",
        port: typeof a === "object" && a !== null ? a.port ?? 0 : 0,
      };
      let closed = false;
      resolve({
        fd: h.fd,
        addr,
        close(): Promise<void> {
          if (!closed) {
            closed = true;
            h.close();
          }
          return Promise.resolve();
        },
      });
    });
  });
}

async function holdDeno(options: TcpListenOptions | UnixListenOptions): Promise<HeldListener> {
  const listener = await denoRuntime.listen(options);
  const fd = listener.fd;
  if (fd === undefined) {
    await listener.close();
    throw new NetError(
      "Cannot hold listener: Deno tells a listener's fd only through /proc, which it reads only with --allow-all",
    );
  }
  return { fd, addr: listener.addr, close: () => listener.close() };
}

/** Listens without ever accepting: for a process that only passes the socket on. */
export function holdListener(options: TcpListenOptions | UnixListenOptions): Promise<HeldListener> {
  switch (HOST) {
    case "deno":
      return holdDeno(options);
    case "bun":
      return holdBun(options);
    default:
      return holdNode(options);
  }
}
