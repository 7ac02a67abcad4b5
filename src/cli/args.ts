// The `netkit run` command line: its options, usage text and parser.
// Runtime-free.

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
  /**
   * Log only warnings and errors.
   * @default {false}
   */
  quiet?: boolean;
  /**
   * The log format on stderr: `"text"` (`netkit: <message>`) or `"json"`
   * (one object per line: `time`, `level`, `msg`).
   * @default {"text"}
   */
  log?: "text" | "json";
}

/**
 * The version `netkit --version` prints (the package's version).
 *
 * @example Printing the version
 * ```ts
 * import { VERSION } from "@netkit/netkit/cli";
 *
 * console.log(`netkit ${VERSION}`);
 * ```
 */
export const VERSION: string = "0.1.0";

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
       netkit --version

Runs COMMAND with listening sockets it inherits (systemd socket activation:
fds from 3, LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID) and restarts it on SIGHUP
with no dropped connection: a new copy starts, gets ready, the old one gets
SIGTERM. SIGTERM/SIGINT stop it; netkit exits with its code (128+n if it died
by signal n).

options:
  --listen [NAME=]ADDR   a socket to hold (repeatable): HOST:PORT, [V6]:PORT, :PORT,
                         PORT, unix:PATH or a path with a /; none: the inherited ones.
                         Unnamed sockets are named by address in LISTEN_FDNAMES
  --ready-delay MS       count a copy as ready after MS if it did not say so (default 1000;
                         0: wait for it to say so)
  --timeout MS           kill a new copy not ready after MS (default 60000)
  --stop-timeout MS      SIGKILL the old copy MS after SIGTERM (default 30000)
  --quiet                log only warnings and errors
  --log text|json        log format on stderr (default text)
  -h, --help             this text

A program says it is ready, in any language, by writing "READY=1\\n" to the fd
whose number is in NETKIT_READY_FD; a netkit program calls ready(); sd_notify
READY=1 on NOTIFY_SOCKET works where netkit can receive it (Deno with
--unstable-net, Bun; not Node).`;

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
      case "-l": {
        const next = inline ?? argv[i + 1];
        if (next === undefined || next === "" || (inline === undefined && next.startsWith("-"))) {
          throw new TypeError(
            `Cannot run: ${flag} needs an address, e.g. ${flag} 127.0.0.1:8080`,
          );
        }
        options.listen.push(parseAddress(value()));
        break;
      }
      case "--quiet":
      case "-q":
        if (inline !== undefined) throw new TypeError(`Cannot run: ${flag} takes no value`);
        options.quiet = true;
        break;
      case "--log": {
        const format = value();
        if (format !== "text" && format !== "json") {
          throw new RangeError(
            `Cannot run: --log takes text or json, received ${String(format)}`,
          );
        }
        options.log = format;
        break;
      }
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
