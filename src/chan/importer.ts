/**
 * The importing side of networked channels (Go's `netchan.Importer`).
 *
 * @module
 */
import {
  ClosedError,
  type Conn,
  connect,
  type TcpConnectOptions,
  type UnixConnectOptions,
} from "../runtime/mod.ts";
import type { Channel } from "./channel.ts";
import { Dir } from "./dir.ts";
import type { ErrorStream } from "./error_stream.ts";
import { ImportRefusedError } from "./errors.ts";
import type { ChannelOptions, ConnectionOptions, WaitOptions } from "./options.ts";
import { checkToken, presentToken } from "./_auth.ts";
import { ChannelSession, type SessionHost } from "./_channel_session.ts";
import { Endpoint, type EndpointEntry, noop } from "./_endpoint.ts";
import { InLink } from "./_in_link.ts";
import { CLOSING, OPEN, OPENING } from "./_link.ts";
import { intOption, sessionConfig } from "./_options.ts";
import { OutLink } from "./_out_link.ts";
import {
  looseUtf8,
  MAX_COUNT,
  MAX_WINDOW,
  REFUSE_CODES,
  ROLE_IMPORTER,
  WIRE_RECV,
  WIRE_SEND,
} from "./_protocol.ts";
import { Pump } from "./_pump.ts";
import { channelHooks } from "./_wait_queue.ts";

/** Options of an {@linkcode Importer}. */
export type ImporterOptions = ConnectionOptions;

/**
 * Options of {@linkcode Importer.connect}: where to connect (with `tls` to
 * speak TLS), the importer's options, and a `token` for exporters that
 * authenticate importers.
 */
export type ImporterConnectOptions =
  & (TcpConnectOptions | UnixConnectOptions)
  & ImporterOptions
  & {
    /**
     * Sent to the exporter before anything else, for its `authenticate`
     * hook (at most 4096 UTF-8 bytes). Send it over TLS only: on a plain
     * connection anyone on the path reads it.
     *
     * @default {none}
     */
    token?: string;
  };

/** A snapshot of an {@linkcode Importer}'s counters. */
export interface ImporterStats {
  /** Channels imported now. */
  channels: number;
  /** Bytes written to the connection and not yet taken by the runtime. */
  bufferedBytes: number;
  /** Values sent to the exporter. */
  sent: number;
  /** Values sent and acknowledged by the exporter. */
  acked: number;
  /** Values received from the exporter. */
  received: number;
  /**
   * Values sent to the exporter that came back into their `Dir.Send`
   * channel, because the exporter did not take them before the link ended
   * (it hung up, or the connection ended).
   */
  requeued: number;
}

/** One imported name. */
interface Entry extends EndpointEntry {
  readonly link: InLink | OutLink;
  readonly pump: Pump | null;
  /** The exporter accepted the import. */
  opened: boolean;
  /** Hung up while the exporter had not answered. */
  hungUp: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** What the session needs of its importer. */
interface Host extends SessionHost {
  opened(link: InLink | OutLink, credits: number): void;
  refused(link: InLink | OutLink, err: ImportRefusedError): void;
}

/** The importer's connection. */
class ImporterSession extends ChannelSession<Host> {
  #pending(id: number, what: string): InLink | OutLink | undefined {
    const link = this.linkOf(id, what, "which was never requested");
    if (link === undefined) return undefined;
    if (link.state !== OPENING) {
      this.violation("unexpected-frame", `${what} for channel ${id}, which is open already`);
      return undefined;
    }
    return link;
  }

  protected override onOpened(off: number, len: number): void {
    if (!this.sized(len, 8, "an OPENED frame")) return;
    const id = this.rview.getUint32(off);
    const credits = this.rview.getUint32(off + 4);
    const link = this.#pending(id, "OPENED");
    if (link === undefined) return;
    if (link instanceof OutLink && credits === 0) {
      this.violation("credit", `OPENED for channel ${id} with no credits`);
      return;
    }
    link.state = OPEN;
    this.host.opened(link, credits);
  }

  protected override onRefuse(off: number, len: number): void {
    if (len < 5) {
      this.violation("malformed-frame", `a REFUSE frame of ${len + 1} bytes, under 6`);
      return;
    }
    const id = this.rview.getUint32(off);
    const code = REFUSE_CODES[this.rbuf[off + 4] - 1] ?? "bad-request";
    const msg = looseUtf8(this.rbuf.subarray(off + 5, off + len));
    const link = this.#pending(id, "REFUSE");
    if (link === undefined) return;
    this.links.delete(id);
    link.state = CLOSING;
    this.host.refused(
      link,
      new ImportRefusedError(`Cannot import "${link.name}": ${msg}`, { code }),
    );
  }
}

/**
 * Imports channels that an {@linkcode Exporter} publishes, over one
 * connection (Go's `netchan.Importer`, with its known bugs fixed).
 *
 * - {@linkcode Importer.import} binds a local channel to an exported name:
 *   `Dir.Recv` receives what the exporter sends, `Dir.Send` sends what is
 *   put into the local channel.
 * - {@linkcode Importer.importNValues} does the same for `n` values, after
 *   which the local channel closes (so `for await` ends).
 * - When the connection ends, cleanly or not, every imported `Dir.Recv`
 *   channel closes once the values that arrived are delivered, and every
 *   `Dir.Send` channel closes (waiting sends reject with
 *   `ChannelClosedError`).
 * - No value is lost when an import ends: what the exporter sent and this
 *   importer did not take into its channel goes back to the front of the
 *   exported channel (for another importer) when it hangs up or closes,
 *   exactly once; when the connection breaks, at least once (a value may
 *   then reach two importers). The same holds the other way for `Dir.Send`
 *   values the exporter did not take: they come back to the front of the
 *   local channel. See `docs/protocol.md`, section 7.1.
 * - {@linkcode Importer.errors} reports what went wrong; it is never a
 *   reason to shut down, read or not.
 *
 * @example Receiving prices
 * ```ts ignore
 * import { Channel, Dir, Importer } from "@netkit/netkit/chan";
 *
 * await using importer = await Importer.connect({ hostname: "127.0.0.1", port: 9000 });
 * const prices = new Channel<{ sym: string; px: number }>(64);
 * await importer.import("prices", prices, Dir.Recv, 64);
 * for await (const p of prices) console.log(p.sym, p.px);
 * ```
 */
export class Importer implements AsyncDisposable {
  readonly #session: ImporterSession;
  readonly #ep: Endpoint<Entry>;
  readonly #byLink = new Map<InLink | OutLink, Entry>();
  readonly #ready: Promise<void>;
  #nextId = 1;
  #ended = false;
  #endError: Error | null = null;
  #lastError: Error | null = null;

  /**
   * Connects to an exporter and completes the handshake.
   *
   * @param options Where to connect (`{ hostname?, port }` or `{ path }`,
   *   and `signal`), plus the importer's options.
   * @returns The importer, connected.
   * @throws {ConnectionRefusedError} (rejects) If nobody listens there.
   * @throws {ChanProtocolError} (rejects) If the peer is not an exporter
   *   that speaks this protocol.
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If an option is out of range.
   *
   * @example Connecting
   * ```ts ignore
   * import { Importer } from "@netkit/netkit/chan";
   *
   * const importer = await Importer.connect({ hostname: "127.0.0.1", port: 9000 });
   * await importer.close();
   * ```
   */
  static async connect(options: ImporterConnectOptions): Promise<Importer> {
    const { config } = sessionConfig(options, "connect");
    checkToken(options.token, "connect");
    const conn = await connect(options);
    if (options.token !== undefined) {
      try {
        await presentToken(conn, options.token, config.handshakeTimeout);
      } catch (err) {
        conn.close();
        throw err;
      }
    }
    const importer = new Importer(conn, options);
    try {
      await importer.#ready;
      // An exporter that refuses at once (authentication) ends the session
      // in the same read as its preamble.
      if (importer.#ended) {
        throw importer.#endError ?? importer.#lastError ??
          new ClosedError("Cannot connect: the exporter closed the connection");
      }
    } catch (err) {
      await importer.close();
      throw err;
    }
    return importer;
  }

  /**
   * Makes an importer over a connection to an exporter and starts the
   * handshake; imports can be requested at once. The importer owns the
   * connection and closes it.
   *
   * @param conn A connection to an exporter.
   * @param options Limits and timeouts (see {@linkcode ImporterOptions}).
   * @throws {TypeError} If `conn` is not a connection, or an option has the
   *   wrong type.
   * @throws {RangeError} If an option is out of range.
   *
   * @example Over a connection
   * ```ts ignore
   * import { Importer } from "@netkit/netkit/chan";
   * import { connect } from "@netkit/netkit/runtime";
   *
   * const importer = new Importer(await connect({ hostname: "127.0.0.1", port: 9000 }));
   * await importer.close();
   * ```
   */
  constructor(conn: Conn, options?: ImporterOptions) {
    if (
      conn === null || typeof conn !== "object" || typeof (conn as Conn).read !== "function" ||
      typeof (conn as Conn).write !== "function"
    ) {
      throw new TypeError(`Cannot create importer: expected a Conn, received ${String(conn)}`);
    }
    const { config, errorBuffer } = sessionConfig(options, "create importer");
    const ep = new Endpoint<Entry>(errorBuffer, "imported");
    this.#ep = ep;
    let ready!: { resolve: () => void; reject: (err: Error) => void };
    this.#ready = new Promise<void>((resolve, reject) => {
      ready = { resolve, reject };
    });
    this.#ready.catch(() => {});
    const host: Host = {
      ...ep.sessionHost(() => ready.resolve(), (_session, err) => {
        this.#ended = true;
        this.#endError = err;
        ready.reject(
          err ?? new ClosedError("Cannot import: the connection closed before the handshake"),
        );
        const closed = new ClosedError("Cannot import: the connection ended", { cause: err });
        for (const entry of [...this.#byLink.values()]) {
          if (!entry.opened) {
            this.#forget(entry);
            entry.reject(closed);
          }
        }
        ep.waits.recheck();
        ep.errors.close();
      }),
      report: (err) => {
        this.#lastError = err;
        ep.report(err);
      },
      opened: (link, credits) => this.#opened(link, credits),
      refused: (link, err) => {
        const entry = this.#byLink.get(link);
        if (entry === undefined) return;
        this.#forget(entry);
        entry.reject(err);
      },
    };
    this.#session = new ImporterSession(conn, config, ROLE_IMPORTER, host);
    this.#session.start();
  }

  /**
   * The importer's errors: the exporter broke the protocol or closed the
   * connection for a protocol error (`ChanProtocolError`), values that
   * failed to encode, decode or validate (`ChanValueError`), the connection
   * broke. Reading it is optional: it keeps the latest `errorBuffer` errors
   * and never shuts the importer down (Go's netchan did when 10 went
   * unread). The iteration ends when the connection has ended.
   *
   * @returns The error stream.
   *
   * @example Logging errors
   * ```ts ignore
   * for await (const err of importer.errors) console.error(err.message);
   * ```
   */
  get errors(): ErrorStream {
    return this.#ep.errors;
  }

  /**
   * Whether the connection has ended (closed by either side, or broken).
   *
   * @returns `true` once the importer can do nothing more.
   *
   * @example Checking
   * ```ts ignore
   * await importer.close();
   * console.log(importer.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#ended;
  }

  /**
   * A snapshot of the importer's counters.
   *
   * @returns Channels, buffered bytes and value counts.
   *
   * @example Reading the counters
   * ```ts ignore
   * console.log(importer.stats.received);
   * ```
   */
  get stats(): ImporterStats {
    const s = this.#session;
    return {
      channels: this.#ep.entries.size,
      bufferedBytes: s.bufferedBytes,
      sent: s.sent,
      acked: s.acked,
      received: s.received,
      requeued: s.requeued,
    };
  }

  /**
   * Binds `channel` to the channel the exporter publishes as `name`.
   *
   * - `Dir.Recv`: values the exporter sends are put into `channel`. `size`
   *   is the credit window: how many values may be in flight and waiting
   *   here while `channel` is full. When the exporter closes its channel or
   *   hangs up, or the connection ends, `channel` closes once what arrived
   *   was delivered.
   * - `Dir.Send`: what is put into `channel` is sent to the exporter, as
   *   far as the exporter's credits allow (it grants up to `size`). Closing
   *   `channel` ends the stream after its buffered values are sent.
   *
   * Networked channels are never synchronous: a `size` under 1 counts as 1.
   *
   * @typeParam T The channel's value type.
   * @param name The exported name.
   * @param channel The local channel, not imported elsewhere.
   * @param dir `Dir.Recv` or `Dir.Send`, from the importer's side.
   * @param size The credit window (values in flight).
   * @param options The `codec` (default JSON; the exporter must use the
   *   same) and, for `Dir.Recv`, a `schema` that values must pass.
   * @returns A promise that resolves once the exporter has accepted.
   * @throws {ImportRefusedError} (rejects) If the exporter refuses: no such
   *   name, wrong direction, too many channels.
   * @throws {ClosedError} (rejects) If the connection has ended.
   * @throws {RangeError} If `name` is already imported here, or `size` is
   *   out of range.
   * @throws {TypeError} If an argument has the wrong type.
   *
   * @example Receiving
   * ```ts ignore
   * const prices = new Channel<number>(16);
   * await importer.import("prices", prices, Dir.Recv, 16);
   * console.log(await prices.receive());
   * ```
   */
  import<T>(
    name: string,
    channel: Channel<T>,
    dir: Dir,
    size: number,
    options?: ChannelOptions<T>,
  ): Promise<void> {
    return this.#import(name, channel, dir, size, -1, options, "import");
  }

  /**
   * Like {@linkcode Importer.import}, for `n` values only: after `n` values
   * the link ends and `channel` closes, so `for await` ends (Go's netchan
   * left the channel open: "can't use range clause"). With `Dir.Send`, the
   * importer takes `n` values from `channel`, sends them, and closes it.
   *
   * @typeParam T The channel's value type.
   * @param name The exported name.
   * @param channel The local channel.
   * @param dir `Dir.Recv` or `Dir.Send`.
   * @param size The credit window.
   * @param n How many values, a non-negative integer.
   * @param options The `codec` and `schema`.
   * @returns A promise that resolves once the exporter has accepted.
   * @throws {ImportRefusedError} (rejects) If the exporter refuses.
   * @throws {ClosedError} (rejects) If the connection has ended.
   * @throws {RangeError} If `name` is already imported, or `size` or `n` is
   *   out of range.
   * @throws {TypeError} If an argument has the wrong type.
   *
   * @example Ranging over ten values
   * ```ts ignore
   * const ch = new Channel<number>(10);
   * await importer.importNValues("ticks", ch, Dir.Recv, 10, 10);
   * for await (const t of ch) console.log(t); // ends after 10
   * ```
   */
  importNValues<T>(
    name: string,
    channel: Channel<T>,
    dir: Dir,
    size: number,
    n: number,
    options?: ChannelOptions<T>,
  ): Promise<void> {
    const count = intOption(n, 0, 0, MAX_COUNT, "n", "import n values");
    return this.#import(name, channel, dir, size, count, options, "import n values");
  }

  /**
   * Ends the import of `name`: closes the local channel and tells the
   * exporter, whose side closes too: its `Dir.Recv` channel closes once no
   * other importer sends into it, and a `Dir.Send` export stops sending to
   * this importer.
   *
   * - `Dir.Recv`: values already in the local channel stay there (a
   *   `for await` still gets them); values sent by the exporter and not yet
   *   in it are not delivered: the exporter puts them back at the front of
   *   its channel, in order, for other importers. None is lost or
   *   duplicated.
   * - `Dir.Send`: values still in the local channel are not sent; values
   *   the exporter had not taken yet come back to the front of it.
   *
   * @param name An imported name.
   * @throws {RangeError} If `name` is not imported.
   *
   * @example Hanging up
   * ```ts ignore
   * importer.hangup("prices");
   * ```
   */
  hangup(name: string): void {
    const entry = this.#ep.hangupEntry(name);
    this.#forget(entry);
    const link = entry.link;
    if (link instanceof InLink) link.hangUp();
    else {
      entry.pump?.stop();
      if (link.state === OPEN) link.close();
    }
    entry.channel.close();
    if (link.state === OPENING) {
      entry.hungUp = true;
      this.#byLink.set(link, entry); // answer the exporter's reply
    }
  }

  /**
   * Waits until every value put into the imported `Dir.Send` channels was
   * sent and acknowledged by the exporter (Go's `Importer.Drain`).
   *
   * @param options `timeout` in milliseconds (default: none) and `signal`.
   * @returns A promise that resolves once nothing is left unacknowledged.
   * @throws {TimeoutError} (rejects) If the timeout passes first.
   * @throws {ClosedError} (rejects) If the connection ends first.
   * @throws {RangeError} If the timeout is negative or NaN.
   *
   * @example Draining before closing
   * ```ts ignore
   * await importer.drain({ timeout: 5000 });
   * await importer.close();
   * ```
   */
  drain(options?: WaitOptions): Promise<void> {
    const s = this.#session;
    return this.#ep.waits.wait(
      () => {
        if (s.acked >= s.sent && !this.#ep.sendBuffered()) return true;
        if (this.#ended) {
          return new ClosedError("Cannot drain: the connection ended", { cause: this.#endError });
        }
        return false;
      },
      options,
      "drain",
    );
  }

  /**
   * Hangs up every import (see {@linkcode Importer.hangup}: values sent to
   * this importer and not yet in its channels go back to the exporter's
   * channel, exactly once), waits up to 2 s for the exporter to answer,
   * then closes the connection after writing what is queued (use
   * {@linkcode Importer.drain} first to wait for the values still in the
   * `Dir.Send` channels). Imported channels close at once; values already
   * in them can still be received. Idempotent.
   *
   * @returns A promise that resolves once the connection is closed.
   *
   * @example Closing
   * ```ts ignore
   * await importer.close();
   * ```
   */
  close(): Promise<void> {
    return this.#ep.closeOnce(async () => {
      // Hang up every link first, so that the exporter takes back the values
      // in flight and not delivered here, and wait (a while) for its answers.
      for (const entry of [...this.#ep.entries.values()]) {
        const state = entry.link.state;
        if (state === OPEN || state === OPENING) this.hangup(entry.name);
      }
      await this.#session.settled(2000);
      this.#session.close(null, 2000);
      await this.#session.done;
    });
  }

  /**
   * Closes the importer (see {@linkcode Importer.close}).
   *
   * @returns A promise that resolves once it is closed.
   *
   * @example With `await using`
   * ```ts ignore
   * await using importer = await Importer.connect({ port: 9000 });
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #import(
    name: string,
    channel: Channel<unknown>,
    dir: Dir,
    size: number,
    n: number,
    options: ChannelOptions<unknown> | undefined,
    action: string,
  ): Promise<void> {
    const ep = this.#ep;
    const { nameBytes, codec, schema } = ep.checkBinding(name, channel, dir, options, action);
    size = Math.max(1, intOption(size, 1, 0, MAX_WINDOW, "size", action));
    ep.checkFree(name, action);
    if (this.#ended || ep.closing) {
      return Promise.reject(
        new ClosedError(`Cannot ${action}: the connection has ended`, { cause: this.#endError }),
      );
    }
    const session = this.#session;
    const id = this.#nextId++;
    let link: InLink | OutLink;
    let pump: Pump | null = null;
    if (dir === Dir.Recv) {
      link = new InLink(session, id, name, channel, codec, schema, size, OPENING, n);
    } else {
      link = new OutLink(session, id, name, codec, OPENING, n);
      link.home = channel;
      pump = new Pump(channel, () => {
        (link as OutLink).close();
        this.#forget(entry);
      });
    }
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Entry = {
      name,
      channel,
      dir,
      link,
      pump,
      opened: false,
      hungUp: false,
      resolve,
      reject,
      unwatch: noop,
    };
    ep.entries.set(name, entry);
    this.#byLink.set(link, entry);
    session.links.set(id, link);
    session.writeOpen(id, dir === Dir.Recv ? WIRE_RECV : WIRE_SEND, size, n, nameBytes);
    return promise;
  }

  #opened(link: InLink | OutLink, credits: number): void {
    const entry = this.#byLink.get(link);
    if (entry === undefined) return;
    entry.opened = true;
    if (entry.hungUp) {
      this.#byLink.delete(link);
      if (link instanceof OutLink) link.close();
      else {
        link.state = CLOSING;
        this.#session.writeClose(link.id);
      }
      entry.resolve();
      return;
    }
    const ch = entry.channel;
    if (link instanceof InLink) {
      link.onDone = () => {
        this.#forget(entry);
        ch.close();
      };
      link.onChannelClosed = () => this.#forget(entry);
      entry.unwatch = channelHooks.onClose(ch, () => link.channelClosed());
      if (ch.closed) link.channelClosed();
      else if (link.remaining === 0) link.end(true);
    } else {
      link.credit = credits;
      link.onGone = () => {
        entry.pump?.stop();
        this.#forget(entry);
        ch.close();
      };
      link.onCountDone = () => {
        entry.pump?.stop();
        this.#forget(entry);
        ch.close();
      };
      if (link.remaining === 0) {
        link.close();
        this.#forget(entry);
        ch.close();
      } else entry.pump!.add(link);
    }
    entry.resolve();
  }

  /** Removes the entry from the maps (the link may live on in the session). */
  #forget(entry: Entry): void {
    const ep = this.#ep;
    if (ep.entries.get(entry.name) === entry) ep.entries.delete(entry.name);
    this.#byLink.delete(entry.link);
    entry.unwatch();
    entry.unwatch = noop;
    ep.recheck();
  }
}
