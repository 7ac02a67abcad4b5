// Internal, runtime adapter only: the sd_notify protocol's transport, a Unix
// datagram (SOCK_DGRAM) sent to $NOTIFY_SOCKET. What each runtime can do:
// - Deno: Deno.listenDatagram({ transport: "unixpacket" }) sends and receives
//   Unix datagrams, but only with --unstable-net (without it the function is
//   undefined), and only to paths (no abstract "@" names).
// - Bun: no Unix datagram API (Bun.udpSocket is UDP only), but bun:ffi reaches
//   libc's socket/bind/sendto/recvfrom with no flag: paths and "@" names.
// - Node 20: node:dgram has no Unix datagrams and there is no FFI.
// Where a runtime cannot send, `systemd-notify --no-block` is spawned instead
// (the message then comes from another pid: systemd needs NotifyAccess=all).
import { builtin } from "./_node.ts";
import { HOST } from "./_host.ts";
import { openLibc } from "./_libc.ts";
import { denoNs, environment, processId, removeFile } from "./_process.ts";
import type { NotifyReceiver } from "./types.ts";

interface DenoDatagramConn {
  send(data: Uint8Array, addr: { transport: "unixpacket"; path: string }): Promise<number>;
  receive(): Promise<[Uint8Array, unknown]>;
  close(): void;
}
type ListenDatagram = (o: { transport: "unixpacket"; path: string }) => DenoDatagramConn;

function denoDatagram(): ListenDatagram | undefined {
  const f = (denoNs() as { listenDatagram?: unknown } | undefined)?.listenDatagram;
  return typeof f === "function" ? (f as ListenDatagram) : undefined;
}

interface BunLibc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: number, len: number): number;
  sendto(fd: number, buf: number, len: number, flags: number, addr: number, alen: number): bigint;
  recvfrom(fd: number, buf: number, len: number, flags: number, a: null, l: null): bigint;
  close(fd: number): number;
}
let bunLibc: { libc: BunLibc; ptr: (v: Uint8Array) => number } | null | undefined;

/** libc through bun:ffi on Bun; `null` elsewhere (Deno's FFI passes pointers as objects). */
function bunFfi(): { libc: BunLibc; ptr: (v: Uint8Array) => number } | null {
  if (bunLibc !== undefined) return bunLibc;
  const lib = HOST !== "bun" ? null : openLibc<BunLibc>({
    socket: { args: ["i32", "i32", "i32"], returns: "i32" },
    bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
    sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i64" },
    recvfrom: { args: ["i32", "ptr", "u64", "i32", "ptr", "ptr"], returns: "i64" },
    close: { args: ["i32"], returns: "i32" },
  });
  bunLibc = lib?.pointers ? { libc: lib.symbols, ptr: lib.pointers.ptr } : null;
  return bunLibc;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;

/** A `struct sockaddr_un` for a path, or for an abstract name given as "@name". */
function sockaddrUn(path: string): [Uint8Array, number] {
  const name = new TextEncoder().encode(path);
  if (name.byteLength > 107) {
    throw new RangeError(`Cannot notify: socket path is too long: ${path}`);
  }
  const buf = new Uint8Array(110);
  new DataView(buf.buffer).setUint16(0, AF_UNIX, true);
  buf.set(name, 2);
  if (path.startsWith("@")) {
    buf[2] = 0;
    return [buf, 2 + name.byteLength];
  }
  return [buf, 2 + name.byteLength + 1];
}

function tempSocketPath(): string {
  return builtin("node:path").join(
    builtin("node:os").tmpdir(),
    `netkit-${processId()}-${Math.random().toString(36).slice(2)}.sock`,
  );
}

/** Runs `systemd-notify --no-block <lines…>`; `false` if it is not installed. */
function systemdNotify(socket: string, message: string): Promise<boolean> {
  const assignments = message.split("\n").filter((l) => l !== "");
  return new Promise<boolean>((resolve, reject) => {
    const child = builtin("node:child_process").spawn("systemd-notify", [
      "--no-block",
      ...assignments,
    ], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...environment(), NOTIFY_SOCKET: socket },
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (s: string) => stderr += s);
    child.once("error", (err: Error & { code?: string }) => {
      if (err.code === "ENOENT") resolve(false);
      else reject(new Error(`Cannot notify: ${err.message}`, { cause: err }));
    });
    child.once("close", (code) => {
      if (code === 0) resolve(true);
      else reject(new Error(`Cannot notify: systemd-notify exited with ${code}: ${stderr.trim()}`));
    });
  });
}

/** Which way {@linkcode sendNotify} sends on this runtime. */
export function notifyTransport(socket: string): "datagram" | "ffi" | "systemd-notify" {
  if (denoDatagram() !== undefined && !socket.startsWith("@")) return "datagram";
  if (bunFfi() !== null) return "ffi";
  return "systemd-notify";
}

/**
 * Sends one sd_notify message to `socket` (a path, or "@name" for an
 * abstract socket). Resolves `false` when this runtime has no way to send.
 */
export async function sendNotify(socket: string, message: string): Promise<boolean> {
  const data = new TextEncoder().encode(message);
  const transport = notifyTransport(socket);
  if (transport === "datagram") {
    const local = tempSocketPath();
    const conn = denoDatagram()!({ transport: "unixpacket", path: local });
    try {
      await conn.send(data, { transport: "unixpacket", path: socket });
    } catch (err) {
      throw new Error(`Cannot notify: ${socket}: ${(err as Error).message}`, { cause: err });
    } finally {
      conn.close();
      removeFile(local);
    }
    return true;
  }
  if (transport === "ffi") {
    const { libc, ptr } = bunFfi()!;
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error("Cannot notify: socket() failed");
    try {
      const [addr, len] = sockaddrUn(socket);
      const n = libc.sendto(fd, ptr(data), data.byteLength, 0, ptr(addr), len);
      if (Number(n) < 0) throw new Error(`Cannot notify: sendto ${socket} failed`);
    } finally {
      libc.close(fd);
    }
    return true;
  }
  return await systemdNotify(socket, message);
}

/**
 * Binds a Unix datagram socket at a fresh path to receive sd_notify messages
 * (for a supervisor). `undefined` where the runtime cannot receive them
 * (Node; Deno without --unstable-net).
 */
export function listenNotify(): NotifyReceiver | undefined {
  const path = tempSocketPath();
  let handler: ((message: string) => void) | undefined;
  const backlog: string[] = [];
  const deliver = (text: string) => {
    if (handler !== undefined) handler(text);
    else backlog.push(text);
  };
  const dec = new TextDecoder();
  let closed = false;
  let stop: () => void;
  const listenDatagram = denoDatagram();
  const ffi = bunFfi();
  if (listenDatagram !== undefined) {
    const conn = listenDatagram({ transport: "unixpacket", path });
    (async () => {
      while (!closed) {
        try {
          const [data] = await conn.receive();
          deliver(dec.decode(data));
        } catch {
          return;
        }
      }
    })();
    stop = () => conn.close();
  } else if (ffi !== null) {
    const { libc, ptr } = ffi;
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return undefined;
    const [addr, len] = sockaddrUn(path);
    if (libc.bind(fd, ptr(addr), len) !== 0) {
      libc.close(fd);
      return undefined;
    }
    const buf = new Uint8Array(4096);
    // FFI calls block, so poll the non-blocking socket.
    const timer = setInterval(() => {
      while (true) {
        const n = Number(libc.recvfrom(fd, ptr(buf), buf.byteLength, MSG_DONTWAIT, null, null));
        if (n < 0) return;
        deliver(dec.decode(buf.subarray(0, n)));
      }
    }, 10);
    stop = () => {
      clearInterval(timer);
      libc.close(fd);
    };
  } else {
    return undefined;
  }
  const close = (): Promise<void> => {
    if (!closed) {
      closed = true;
      stop();
      removeFile(path);
    }
    return Promise.resolve();
  };
  return {
    path,
    onMessage(fn: (message: string) => void): void {
      handler = fn;
      for (const m of backlog.splice(0)) fn(m);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
