// Internal: how a listen request and an inherited socket are matched, after
// gracenet's isSameAddr (same network; a wildcard host "", "0.0.0.0" or "::"
// matches any wildcard) plus the requested address passed by a netkit parent,
// so that `port: 0` finds the port the parent was given. Runtime-free.
import type { Addr } from "../runtime/mod.ts";

/** What `Net.listen()` takes, without the name. */
export type ListenAddress = { hostname?: string; port?: number } | { path: string };

const WILDCARDS: ReadonlySet<string> = new Set(["", "0.0.0.0", "::", "[::]", "::0"]);

/** A hostname as gracenet compares it: brackets off, wildcards as "". */
export function normalHost(hostname: string | undefined): string {
  const h = (hostname ?? "").toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return WILDCARDS.has(h) ? "" : h;
}

/** The key of a request, e.g. `"tcp 127.0.0.1:0"` or `"unix /run/x.sock"`. */
export function requestKey(options: ListenAddress): string {
  if ("path" in options) return `unix ${options.path}`;
  return `tcp ${normalHost(options.hostname)}:${options.port ?? 0}`;
}

/** The key of a bound address. */
export function addrKey(addr: Addr): string {
  return addr.transport === "unix"
    ? `unix ${addr.path}`
    : `tcp ${normalHost(addr.hostname)}:${addr.port}`;
}

/** Whether an inherited socket bound at `addr` serves the request (gracenet's rule). */
export function sameAddr(addr: Addr, options: ListenAddress): boolean {
  if ("path" in options) return addr.transport === "unix" && addr.path === options.path;
  if (addr.transport !== "tcp" || (options.port ?? 0) === 0) return false;
  return addr.port === options.port && normalHost(addr.hostname) === normalHost(options.hostname);
}

/** `host:port`, `[v6]:port` or the path, for messages. */
export function formatAddr(addr: Addr): string {
  if (addr.transport === "unix") return addr.path || "(unnamed unix socket)";
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/** A systemd fd name: 1–255 printable ASCII characters, no colon. */
export function checkName(name: unknown, action: string): string {
  if (
    typeof name !== "string" || name.length === 0 || name.length > 255 ||
    !/^[\x21-\x7e]+$/.test(name) || name.includes(":")
  ) {
    throw new TypeError(
      `Cannot ${action}: name must be 1 to 255 printable ASCII characters without ":" or spaces, received ${
        JSON.stringify(name)
      }`,
    );
  }
  return name;
}
