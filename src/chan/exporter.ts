/**
 * The exporting side of networked channels (Go's `netchan.Exporter`).
 *
 * @module
 */
import { MAX_INT32 } from "../_util/validate.ts";
import {
  acceptAll,
  ClosedError,
  type Conn,
  listen,
  type Listener,
  type ListenOptions,
} from "../runtime/mod.ts";
import type { Authenticate } from "./auth.ts";
import type { Channel } from "./channel.ts";
import type { Codec } from "./codec.ts";
import { Dir } from "./dir.ts";
import type { ErrorStream } from "./error_stream.ts";
import type { ChannelOptions, ConnectionOptions, WaitOptions } from "./options.ts";
import type { StandardSchemaV1 } from "./standard_schema.ts";
import { authenticateImporter, checkAuthenticate } from "./_auth.ts";
import { ChannelSession, type SessionHost } from "./_channel_session.ts";
import {
  addCounts,
  Endpoint,
  type EndpointEntry,
  noCounts,
  noop,
  type ValueCounts,
} from "./_endpoint.ts";
import { asError } from "./_error_queue.ts";
import { InLink } from "./_in_link.ts";
import { OPEN } from "./_link.ts";
import { intOption, sessionConfig } from "./_options.ts";
import { OutLink } from "./_out_link.ts";
import {
  MAX_NAME_BYTES,
  MAX_WINDOW,
  ROLE_EXPORTER,
  strictUtf8,
  WIRE_RECV,
  WIRE_SEND,
} from "./_protocol.ts";
import { Pump } from "./_pump.ts";
import type { SessionConfig } from "./_session.ts";
import { channelHooks } from "./_wait_queue.ts";

/** Options of an {@linkcode Exporter}. */
export interface ExporterOptions extends ConnectionOptions {
  /**
   * The most credits (values in flight) one importer's channel gets, whatever
   * size it asks for: it bounds what the exporter buffers per channel.
   *
   * @default {65536}
   */
  maxWindow?: number;
  /**
   * How many channels one connection may have open.
   *
   * @default {1024}
   */
  maxChannels?: number;
  /**
   * Bytes one connection may hold before the exporter stops serving it
   * values (its write backlog: the peer reads slowly or not at all) or
   * stops returning it credits (values it sent that wait for a full
   * channel). One value may go over it. The connection is not closed for
   * it: it waits, or runs into `writeTimeout`.
   *
   * @default {8388608}
   */
  maxConnectionBytes?: number;
  /**
   * Bytes all connections together may hold: write backlogs, read buffers
   * (a frame being read) and received values not yet delivered. Past it,
   * the connection holding the most is closed (`"over-budget"`).
   *
   * @default {268435456}
   */
  maxTotalBytes?: number;
  /**
   * Milliseconds a connection may stay with no channel open after its
   * handshake before it is closed (`"idle-timeout"`); `0` for no limit.
   *
   * @default {120000}
   */
  idleTimeout?: number;
  /**
   * Milliseconds a frame's body may take to arrive once it started (or
   * since the previous frame ended, if several come in one read) before the
   * connection is closed (`"frame-timeout"`); `0` for no limit.
   *
   * @default {30000}
   */
  frameTimeout?: number;
  /**
   * Decides, before any channel is served, whether to serve an importer:
   * it sees the importer's token and, on a mutual TLS listener, its
   * certificate (see {@linkcode Authenticate}). A refused importer is told
   * why and disconnected; the refusal goes to `errors` as a `ChanAuthError`.
   *
   * @default {none: every importer is served}
   */
  authenticate?: Authenticate;
}

/** A snapshot of an {@linkcode Exporter}'s counters. */
export interface ExporterStats {
  /** Importer connections served now. */
  connections: number;
  /** Channels open on those connections. */
  channels: number;
  /** Bytes written to connections and not yet taken by the runtime. */
  bufferedBytes: number;
  /**
   * Bytes the connections hold, counted against `maxTotalBytes`: write
   * backlogs, read buffers and received values not yet delivered.
   */
  heldBytes: number;
  /** Values sent to importers, ever. */
  sent: number;
  /** Values sent and acknowledged by importers, ever. */
  acked: number;
  /** Values received from importers, ever. */
  received: number;
  /**
   * Values sent to importers that came back into their channel, ever: the
   * importer closed, hung up or its connection ended before it took them.
   */
  requeued: number;
}

/** One exported name. */
interface Entry extends EndpointEntry {
  readonly codec: Codec<unknown>;
  readonly schema: StandardSchemaV1<unknown, unknown> | undefined;
  /** Send: the pump feeding the importers' links. */
  readonly pump: Pump | null;
  /** Recv: the links delivering into the channel. */
  readonly inLinks: Set<InLink>;
  /** The channel closed (Send: and drained to the importers). */
  closed: boolean;
}

/** What a session needs of its exporter. */
interface Host extends SessionHost {
  readonly maxWindow: number;
  readonly maxChannels: number;
  lookup(name: string): Entry | undefined;
  recvDone(entry: Entry, link: InLink, graceful: boolean): void;
}

/** The exporter's side of one importer connection. */
class ExporterSession extends ChannelSession<Host> {
  /** Since when no channel is open (`Date.now()`), 0 if some is: for the idle timeout. */
  idleSince = 0;

  protected override onOpen(off: number, len: number): void {
    if (len < 17) {
      this.violation("malformed-frame", `an OPEN frame of ${len + 1} bytes, under 18`);
      return;
    }
    const v = this.rview;
    const id = v.getUint32(off);
    if (id === 0) {
      this.violation("malformed-frame", "OPEN for channel 0, which is not a channel id");
      return;
    }
    if (this.links.has(id)) {
      this.violation("duplicate-channel", `OPEN for channel ${id}, which is open`);
      return;
    }
    const dir = this.rbuf[off + 4];
    const window = v.getUint32(off + 5);
    const count = v.getFloat64(off + 9);
    const nameBytes = this.rbuf.subarray(off + 17, off + len);
    const name = nameBytes.byteLength > MAX_NAME_BYTES ? null : strictUtf8(nameBytes);
    if (name === null || name === "") {
      this.writeRefuse(id, "bad-request", "the name is empty, too long or not UTF-8");
      return;
    }
    if (dir !== WIRE_RECV && dir !== WIRE_SEND) {
      this.writeRefuse(id, "bad-request", `unknown direction ${dir}`);
      return;
    }
    if (!Number.isInteger(count) || count < -1) {
      this.writeRefuse(id, "bad-request", `invalid count ${count}`);
      return;
    }
    if (dir === WIRE_RECV && window === 0) {
      this.writeRefuse(id, "bad-request", "a window of 0");
      return;
    }
    const host = this.host;
    const entry = host.lookup(name);
    if (entry === undefined) {
      this.writeRefuse(id, "no-such-channel", `no channel "${name}" is exported`);
      return;
    }
    if ((dir === WIRE_RECV) !== (entry.dir === Dir.Send)) {
      this.writeRefuse(
        id,
        "wrong-direction",
        `"${name}" is exported as ${entry.dir}, and so cannot be imported as ${
          dir === WIRE_RECV ? "recv" : "send"
        }`,
      );
      return;
    }
    if (this.links.size >= host.maxChannels) {
      this.writeRefuse(
        id,
        "too-many-channels",
        `over ${host.maxChannels} channels on one connection`,
      );
      return;
    }
    if (dir === WIRE_RECV) {
      const link = new OutLink(this, id, name, entry.codec, OPEN, count);
      link.credit = Math.min(window, host.maxWindow);
      link.home = entry.channel;
      this.links.set(id, link);
      this.writeOpened(id, 0);
      if (entry.closed || entry.pump === null || entry.pump.stopped || count === 0) link.close();
      else entry.pump.add(link);
      return;
    }
    const w = Math.max(1, Math.min(window, host.maxWindow));
    const link = new InLink(
      this,
      id,
      name,
      entry.channel,
      entry.codec,
      entry.schema,
      w,
      OPEN,
      count,
    );
    link.onDone = (graceful) => host.recvDone(entry, link, graceful);
    link.onChannelClosed = () => entry.inLinks.delete(link);
    this.links.set(id, link);
    entry.inLinks.add(link);
    this.writeOpened(id, w);
    if (entry.closed) link.channelClosed();
  }
}

/**
 * Publishes local {@linkcode Channel}s by name to importers over the
 * network (Go's `netchan.Exporter`, with its known bugs fixed).
 *
 * - {@linkcode Exporter.export} a channel as `Dir.Send` (importers receive
 *   what is put into it, load-balanced: each value goes to one importer) or
 *   `Dir.Recv` (importers send into it).
 * - Serve connections: {@linkcode Exporter.listenAndServe},
 *   {@linkcode Exporter.serve} a listener, or {@linkcode Exporter.serveConn}
 *   one connection.
 * - Flow control is per channel and credit based: an importer grants as
 *   many credits as its buffer holds, and the exporter never has more values
 *   in flight, so a slow importer never makes it buffer without bound.
 * - {@linkcode Exporter.drain} and {@linkcode Exporter.sync} wait for
 *   importers to acknowledge what was sent.
 * - Memory is bounded for slow and hostile peers: each connection has a
 *   byte budget (`maxConnectionBytes`: past it, no more values or credits
 *   for it) and all together another (`maxTotalBytes`: past it, the
 *   connection holding the most is closed); a frame's buffer grows only as
 *   its bytes arrive, and `frameTimeout` and `idleTimeout` close
 *   connections that stall mid-frame or hold no channel.
 * - A peer that breaks the protocol loses its connection, with a
 *   `ChanProtocolError` on {@linkcode Exporter.errors}; nothing a peer
 *   sends can throw out of `serve()` or crash the process.
 *
 * The wire protocol is documented in `docs/protocol.md`.
 *
 * @example Exporting prices
 * ```ts ignore
 * import { Channel, Dir, Exporter } from "@netkit/netkit/chan";
 *
 * const exporter = new Exporter();
 * const prices = new Channel<{ sym: string; px: number }>(64);
 * exporter.export("prices", prices, Dir.Send);
 * const listener = await exporter.listenAndServe({ hostname: "127.0.0.1", port: 9000 });
 *
 * await prices.send({ sym: "ACME", px: 12.5 });
 * await exporter.drain({ timeout: 5000 }); // an importer got it
 * await exporter.close();
 * ```
 */
export class Exporter implements AsyncDisposable {
  readonly #ep: Endpoint<Entry>;
  readonly #sessions = new Set<ExporterSession>();
  readonly #serving = new Set<Promise<void>>();
  readonly #ownListeners = new Set<Listener>();
  readonly #config: SessionConfig;
  readonly #authenticate: Authenticate | undefined;
  readonly #authenticating = new Set<Conn>();
  readonly #abort = new AbortController();
  readonly #host: Host;
  #closed = false;
  readonly #maxTotal: number;
  readonly #idleTimeout: number;
  readonly #frameTimeout: number;
  /** The bytes all sessions hold (see `maxTotalBytes`). */
  #held = 0;
  #enforcing = false;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  readonly #budget = {
    add: (n: number): void => {
      this.#held += n;
      if (n > 0 && this.#held > this.#maxTotal && !this.#enforcing) {
        this.#enforcing = true;
        queueMicrotask(() => this.#enforce());
      }
    },
    enforce: (): void => this.#enforce(),
  };
  /** The counters of the sessions that ended. */
  readonly #ended: ValueCounts = noCounts();

  /**
   * Makes an exporter with no channels and no connections.
   *
   * @param options Limits and timeouts (see {@linkcode ExporterOptions}).
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If an option is out of range.
   *
   * @example With a small frame limit
   * ```ts
   * import { Exporter } from "@netkit/netkit/chan";
   *
   * const exporter = new Exporter({ maxFrameSize: 64 * 1024, handshakeTimeout: 2000 });
   * await exporter.close();
   * ```
   */
  constructor(options?: ExporterOptions) {
    const { config, errorBuffer } = sessionConfig(options, "create exporter");
    const action = "create exporter";
    config.maxConnectionBytes = intOption(
      options?.maxConnectionBytes,
      8 * 1024 * 1024,
      1024,
      Number.MAX_SAFE_INTEGER,
      "maxConnectionBytes",
      action,
    );
    this.#maxTotal = intOption(
      options?.maxTotalBytes,
      256 * 1024 * 1024,
      1024,
      Number.MAX_SAFE_INTEGER,
      "maxTotalBytes",
      action,
    );
    this.#idleTimeout = intOption(
      options?.idleTimeout,
      120_000,
      0,
      MAX_INT32,
      "idleTimeout",
      action,
    );
    this.#frameTimeout = intOption(
      options?.frameTimeout,
      30_000,
      0,
      MAX_INT32,
      "frameTimeout",
      action,
    );
    this.#config = config;
    checkAuthenticate(options?.authenticate, "create exporter");
    this.#authenticate = options?.authenticate;
    const ep = new Endpoint<Entry>(errorBuffer, "exported");
    this.#ep = ep;
    const maxWindow = intOption(
      options?.maxWindow,
      65_536,
      1,
      MAX_WINDOW,
      "maxWindow",
      "create exporter",
    );
    const maxChannels = intOption(
      options?.maxChannels,
      1024,
      1,
      MAX_INT32,
      "maxChannels",
      "create exporter",
    );
    this.#host = {
      ...ep.sessionHost(noop, (session) => {
        this.#sessions.delete(session as ExporterSession);
        if (this.#sessions.size === 0) this.#stopSweeper();
        addCounts(this.#ended, session);
        ep.recheck();
      }),
      maxWindow,
      maxChannels,
      lookup: (name) => ep.entries.get(name),
      recvDone: (entry, link, graceful) => {
        entry.inLinks.delete(link);
        if (
          graceful && !entry.closed && entry.inLinks.size === 0 &&
          ep.entries.get(entry.name) === entry
        ) {
          entry.closed = true;
          entry.unwatch();
          entry.channel.close();
        }
      },
    };
  }

  /**
   * The errors of the exporter's connections: peers that broke the protocol
   * (`ChanProtocolError`), values that failed to encode, decode or validate
   * (`ChanValueError`), connections that broke, accept failures. Reading it
   * is optional; it keeps the latest `errorBuffer` errors.
   *
   * @returns The error stream.
   *
   * @example Counting errors
   * ```ts
   * import { Exporter } from "@netkit/netkit/chan";
   *
   * const exporter = new Exporter();
   * console.log(exporter.errors.buffered, exporter.errors.dropped); // 0 0
   * await exporter.close();
   * ```
   */
  get errors(): ErrorStream {
    return this.#ep.errors;
  }

  /**
   * A snapshot of the exporter's counters.
   *
   * @returns Connections, channels, buffered bytes and value counts.
   *
   * @example Watching the write buffers
   * ```ts
   * import { Exporter } from "@netkit/netkit/chan";
   *
   * const exporter = new Exporter();
   * console.log(exporter.stats.bufferedBytes); // 0
   * await exporter.close();
   * ```
   */
  get stats(): ExporterStats {
    let channels = 0;
    let bufferedBytes = 0;
    const counts = { ...this.#ended };
    for (const s of this.#sessions) {
      channels += s.links.size;
      bufferedBytes += s.bufferedBytes;
      addCounts(counts, s);
    }
    return {
      connections: this.#sessions.size,
      channels,
      bufferedBytes,
      heldBytes: this.#held,
      ...counts,
    };
  }

  /**
   * Whether {@linkcode Exporter.close} was called.
   *
   * @returns `true` once closing started.
   *
   * @example Checking
   * ```ts
   * import { Exporter } from "@netkit/netkit/chan";
   *
   * const exporter = new Exporter();
   * await exporter.close();
   * console.log(exporter.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Publishes `channel` under `name`.
   *
   * - `Dir.Send`: the exporter sends what is put into `channel` to the
   *   importers that import `name` as `Dir.Recv`; each value goes to one
   *   importer (load-balanced), only while that importer has credit. Closing
   *   `channel` closes the importers' channels once the values buffered in
   *   it were sent.
   * - `Dir.Recv`: values that importers send (importing `name` as
   *   `Dir.Send`) are put into `channel`, in order per importer. When the
   *   last importer that sends into it hangs up (or closes its channel),
   *   `channel` closes; a connection that breaks does not close it.
   *
   * @typeParam T The channel's value type.
   * @param name The name importers ask for: 1 to 1024 UTF-8 bytes.
   * @param channel The local channel.
   * @param dir `Dir.Send` or `Dir.Recv`, from the exporter's side.
   * @param options The `codec` (default JSON) and, for `Dir.Recv`, a
   *   `schema` that values must pass.
   * @throws {RangeError} If `name` is already exported, or its length is
   *   out of range.
   * @throws {TypeError} If an argument has the wrong type.
   * @throws {ClosedError} If the exporter is closed.
   *
   * @example Both directions
   * ```ts
   * import { Channel, Dir, Exporter } from "@netkit/netkit/chan";
   *
   * const exporter = new Exporter();
   * exporter.export("jobs", new Channel<string>(16), Dir.Send);
   * exporter.export("results", new Channel<number>(16), Dir.Recv);
   * await exporter.close();
   * ```
   */
  export<T>(name: string, channel: Channel<T>, dir: Dir, options?: ChannelOptions<T>): void {
    const ep = this.#ep;
    const ch = channel as Channel<unknown>;
    const { codec, schema } = ep.checkBinding(name, ch, dir, options, "export");
    if (this.#closed) throw new ClosedError("Cannot export: the exporter is closed");
    ep.checkFree(name, "export");
    const pump = dir === Dir.Send
      ? new Pump(ch, () => {
        entry.closed = true;
        for (const link of [...pump!.links]) link.close();
        ep.recheck();
      })
      : null;
    const inLinks = new Set<InLink>();
    const entry: Entry = {
      name,
      channel: ch,
      dir,
      codec,
      schema,
      pump,
      inLinks,
      closed: false,
      unwatch: noop,
    };
    if (pump === null) {
      entry.unwatch = channelHooks.onClose(ch, () => {
        entry.closed = true;
        for (const link of [...inLinks]) link.channelClosed();
        inLinks.clear();
      });
    }
    ep.entries.set(name, entry);
  }

  /**
   * Withdraws `name` and closes its channel here and at every importer.
   * For `Dir.Send`, values still buffered in the channel stay there (close
   * the channel instead of hanging up to deliver them first); values in
   * flight still reach the importers. For `Dir.Recv`, values that arrived
   * and are not yet in the channel are dropped.
   *
   * @param name An exported name.
   * @throws {RangeError} If `name` is not exported.
   *
   * @example Withdrawing a channel
   * ```ts
   * import { Channel, Dir, Exporter } from "@netkit/netkit/chan";
   *
   * const exporter = new Exporter();
   * const ch = new Channel<number>();
   * exporter.export("ticks", ch, Dir.Send);
   * exporter.hangup("ticks");
   * console.log(ch.closed); // true
   * await exporter.close();
   * ```
   */
  hangup(name: string): void {
    const ep = this.#ep;
    const entry = ep.hangupEntry(name);
    ep.entries.delete(name);
    entry.closed = true;
    entry.unwatch();
    if (entry.pump !== null) {
      const links = [...entry.pump.links];
      entry.pump.stop();
      for (const link of links) link.close();
    }
    for (const link of [...entry.inLinks]) link.channelClosed();
    entry.inLinks.clear();
    entry.channel.close();
    ep.recheck();
  }

  /**
   * Serves importers that connect to `listener`, until the listener or the
   * exporter closes. Failed accepts are reported on
   * {@linkcode Exporter.errors} and retried with a backoff; nothing a peer
   * does makes it reject. The listener is not closed by the exporter.
   *
   * @param listener A listener from `listen()` of `@netkit/netkit/runtime`.
   * @returns A promise that resolves when serving stops.
   * @throws {TypeError} If `listener` is not a listener.
   *
   * @example Serving a listener
   * ```ts ignore
   * import { Exporter } from "@netkit/netkit/chan";
   * import { listen } from "@netkit/netkit/runtime";
   *
   * const exporter = new Exporter();
   * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
   * const serving = exporter.serve(listener);
   * // ...
   * await exporter.close();
   * await listener.close();
   * await serving;
   * ```
   */
  serve(listener: Listener): Promise<void> {
    if (
      listener === null || typeof listener !== "object" ||
      typeof (listener as Listener).accept !== "function"
    ) {
      throw new TypeError(`Cannot serve: expected a Listener, received ${String(listener)}`);
    }
    if (this.#closed) return Promise.resolve();
    const p = this.#acceptLoop(listener);
    this.#serving.add(p);
    p.then(() => this.#serving.delete(p));
    return p;
  }

  /**
   * Serves one importer connection until it ends. Whatever the peer does,
   * the promise resolves (errors go to {@linkcode Exporter.errors}); the
   * exporter closes the connection at the end.
   *
   * @param conn A connection from `connect()` or `accept()`.
   * @returns A promise that resolves when the connection has ended.
   * @throws {TypeError} If `conn` is not a connection.
   *
   * @example Serving an accepted connection
   * ```ts ignore
   * import { Exporter } from "@netkit/netkit/chan";
   * import { listen } from "@netkit/netkit/runtime";
   *
   * const exporter = new Exporter();
   * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
   * const conn = await listener.accept();
   * await exporter.serveConn(conn);
   * ```
   */
  serveConn(conn: Conn): Promise<void> {
    if (
      conn === null || typeof conn !== "object" || typeof (conn as Conn).read !== "function" ||
      typeof (conn as Conn).write !== "function"
    ) {
      throw new TypeError(`Cannot serve connection: expected a Conn, received ${String(conn)}`);
    }
    if (this.#closed) {
      conn.close();
      return Promise.resolve();
    }
    const hook = this.#authenticate;
    if (hook === undefined) return this.#serveSession(conn);
    this.#authenticating.add(conn);
    return authenticateImporter(conn, hook, this.#config.handshakeTimeout).then(
      (served) => {
        this.#authenticating.delete(conn);
        if (!this.#closed) return this.#serveSession(served);
        served.close();
      },
      (err) => {
        this.#authenticating.delete(conn);
        conn.close();
        if (!this.#closed) this.#ep.report(asError(err));
      },
    );
  }

  #serveSession(conn: Conn): Promise<void> {
    const session = new ExporterSession(conn, this.#config, ROLE_EXPORTER, this.#host);
    session.budget = this.#budget;
    this.#sessions.add(session);
    this.#startSweeper();
    session.start();
    return session.done;
  }

  /**
   * Listens (through `listen()` of `@netkit/netkit/runtime`) and serves
   * importers in the background. The exporter closes the listener when it
   * closes.
   *
   * @param options Where to listen: `{ hostname?, port? }` (port 0 picks a
   *   free port), `{ path }` or `{ fd }`.
   * @returns The listener, listening (its `addr` tells the port).
   * @throws {ClosedError} (rejects) If the exporter is closed.
   * @throws {AddrInUseError} (rejects) If the address is taken.
   *
   * @example Listening on a free port
   * ```ts ignore
   * import { Exporter } from "@netkit/netkit/chan";
   *
   * const exporter = new Exporter();
   * const listener = await exporter.listenAndServe({ hostname: "127.0.0.1", port: 0 });
   * console.log(listener.addr);
   * await exporter.close();
   * ```
   */
  async listenAndServe(options: ListenOptions): Promise<Listener> {
    if (this.#closed) throw new ClosedError("Cannot listen: the exporter is closed");
    const listener = await listen(options);
    if (this.#closed) {
      await listener.close();
      throw new ClosedError("Cannot listen: the exporter is closed");
    }
    this.#ownListeners.add(listener);
    this.serve(listener);
    return listener;
  }

  /**
   * Waits until every value put into the exported `Dir.Send` channels has
   * been sent and acknowledged by an importer, including values sent while
   * it waits (Go's `Exporter.Drain`). With no importer connected, values
   * cannot drain and the wait goes on until the timeout.
   *
   * @param options `timeout` in milliseconds (default: none) and `signal`.
   * @returns A promise that resolves once nothing is left unacknowledged.
   * @throws {TimeoutError} (rejects) If the timeout passes first.
   * @throws {ClosedError} (rejects) If the exporter closes first.
   * @throws {RangeError} If the timeout is negative or NaN.
   *
   * @example Draining before shutdown
   * ```ts ignore
   * await exporter.drain({ timeout: 5000 });
   * await exporter.close();
   * ```
   */
  drain(options?: WaitOptions): Promise<void> {
    return this.#ep.waits.wait(
      () => {
        if (this.#closed) return new ClosedError("Cannot drain: the exporter is closed");
        if (this.#ep.sendBuffered()) return false;
        for (const s of this.#sessions) if (s.acked < s.sent) return false;
        return true;
      },
      options,
      "drain",
    );
  }

  /**
   * Waits until the importers have acknowledged every value sent before the
   * call (Go's `Exporter.Sync`, which returned at once because of a bug;
   * this one waits). Values still in the exported channels are not waited
   * for; use {@linkcode Exporter.drain} for those. A connection that ends
   * stops counting.
   *
   * @param options `timeout` in milliseconds (default: none) and `signal`.
   * @returns A promise that resolves once those values are acknowledged.
   * @throws {TimeoutError} (rejects) If the timeout passes first.
   * @throws {ClosedError} (rejects) If the exporter closes first.
   * @throws {RangeError} If the timeout is negative or NaN.
   *
   * @example Waiting for what was sent so far
   * ```ts ignore
   * await exporter.sync({ timeout: 1000 });
   * ```
   */
  sync(options?: WaitOptions): Promise<void> {
    const marks = new Map<ExporterSession, number>();
    for (const s of this.#sessions) if (s.acked < s.sent) marks.set(s, s.sent);
    return this.#ep.waits.wait(
      () => {
        if (this.#closed) return new ClosedError("Cannot sync: the exporter is closed");
        for (const [s, mark] of marks) {
          if (!s.ended && s.acked < mark) return false;
        }
        return true;
      },
      options,
      "sync",
    );
  }

  /**
   * Stops serving: stops accepting, closes the listeners it opened (not
   * those given to {@linkcode Exporter.serve}), closes every channel of
   * every connection and waits up to 1 s for the importers to answer (they
   * credit all they received, so nothing is given back twice), then closes
   * every connection after writing what is queued for it (importers'
   * imported channels then close). Exported channels are left open; values already received are
   * still delivered into them. Pending drains and syncs reject, and the
   * {@linkcode Exporter.errors} iteration ends. Idempotent.
   *
   * @returns A promise that resolves once every connection is closed.
   *
   * @example Closing with `await using`
   * ```ts
   * import { Exporter } from "@netkit/netkit/chan";
   *
   * {
   *   await using exporter = new Exporter();
   *   console.log(exporter.closed); // false
   * } // closed here
   * ```
   */
  close(): Promise<void> {
    return this.#ep.closeOnce(() => this.#close());
  }

  /**
   * Closes the exporter (see {@linkcode Exporter.close}).
   *
   * @returns A promise that resolves once it is closed.
   *
   * @example Disposing
   * ```ts
   * import { Exporter } from "@netkit/netkit/chan";
   *
   * const exporter = new Exporter();
   * await exporter[Symbol.asyncDispose]();
   * console.log(exporter.closed); // true
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Past `maxTotalBytes`: closes the connections that hold the most until under it. */
  #enforce(): void {
    this.#enforcing = false;
    if (this.#held <= this.#maxTotal) return;
    while (this.#held > this.#maxTotal) {
      let worst: ExporterSession | undefined;
      for (const s of this.#sessions) {
        if (!s.ended && (worst === undefined || s.heldBytes > worst.heldBytes)) worst = s;
      }
      if (worst === undefined) return;
      worst.drop(
        "over-budget",
        `the connection holds ${worst.heldBytes} bytes, the most when all held ${this.#held}, over the exporter's maxTotalBytes of ${this.#maxTotal}`,
      );
    }
  }

  /** Checks the idle and frame timeouts, while there are connections. */
  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    const idle = this.#idleTimeout;
    const frame = this.#frameTimeout;
    if (idle === 0 && frame === 0) return;
    const every = Math.max(
      5,
      Math.min(1000, Math.floor(Math.min(idle || frame, frame || idle) / 4)),
    );
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const s of [...this.#sessions]) {
        if (s.ended) continue;
        if (frame > 0 && s.frameSince > 0 && now - s.frameSince >= frame) {
          s.drop("frame-timeout", `a frame's body took longer than ${frame} ms`);
        } else if (idle > 0 && s.handshook) {
          if (s.links.size > 0) s.idleSince = 0;
          else if (s.idleSince === 0) s.idleSince = now;
          else if (now - s.idleSince >= idle) {
            s.drop("idle-timeout", `no channel was open for ${idle} ms`);
          }
        }
      }
    }, every);
  }

  #stopSweeper(): void {
    if (this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort(new ClosedError("Cannot accept: the exporter is closed"));
    for (const entry of this.#ep.entries.values()) {
      entry.pump?.stop();
      entry.unwatch();
    }
    for (const conn of this.#authenticating) conn.close();
    const sessions = [...this.#sessions];
    const ms = Math.min(this.#config.writeTimeout || 1000, 1000);
    // Close every link first and wait (a while) for the importers' answers:
    // they credit all they received, so nothing in flight is taken twice.
    for (const s of sessions) {
      for (const link of s.links.values()) {
        if (link instanceof InLink) link.closeKeep();
        else link.close();
      }
    }
    await Promise.all(sessions.map((s) => s.settled(ms)));
    for (const s of sessions) s.close(null, ms);
    await Promise.all([...this.#ownListeners].map((l) => l.close().catch(() => {})));
    this.#ep.waits.failAll(new ClosedError("Cannot wait: the exporter is closed"));
    await Promise.all([...this.#serving, ...sessions.map((s) => s.done)]);
    this.#stopSweeper();
    this.#ep.errors.close();
  }

  async #acceptLoop(listener: Listener): Promise<void> {
    const report = (err: unknown): void => this.#ep.report(asError(err));
    const options = { signal: this.#abort.signal, onError: report };
    for await (const conn of acceptAll(listener, options)) {
      try {
        this.serveConn(conn);
      } catch (err) {
        report(err);
        conn.close();
      }
    }
  }
}
