// Internal: one connection of the networked channel protocol (either role).
//
// The session owns the connection: a read loop that parses many frames per
// read out of one growing buffer, and a write side that coalesces every
// frame produced in one turn of the event loop (and while a write is in
// flight) into a single `conn.write`. Frames are appended to an arena that
// is never rewritten, because a runtime may still hold a written chunk after
// `write` resolved. Acks and credit returns are coalesced per flush.
//
// Subclasses (the exporter's and the importer's) handle the frames.
import { type Conn, TimeoutError } from "../runtime/mod.ts";
import { type Codec, jsonCodec } from "./codec.ts";
import { asError } from "./_error_queue.ts";
import { nextTurn, sessionEnded, sessionStarted, turnOver } from "./_turn.ts";
import {
  ChanProtocolError,
  type ChanProtocolErrorCode,
  ChanValueError,
  type ImportRefusedCode,
} from "./errors.ts";
import {
  GOAWAY_CODES,
  looseUtf8,
  MAGIC,
  MAX_FRAME_SIZE_LIMIT,
  MAX_MESSAGE_BYTES,
  MIN_FRAME_SIZE,
  PREAMBLE_SIZE,
  REFUSE_CODES,
  T_ACK,
  T_CLOSE,
  T_CREDIT,
  T_DATA,
  T_GOAWAY,
  T_OPEN,
  T_OPENED,
  T_REFUSE,
  utf8Cut,
  VERSION,
} from "./_protocol.ts";

/** The settings a session runs with. */
export interface SessionConfig {
  /** The largest frame body this side accepts (and announces). */
  maxFrameSize: number;
  /** Milliseconds to wait for the peer's preamble; 0: no limit. */
  handshakeTimeout: number;
  /** Milliseconds one write may wait for the peer to read; 0: no limit. */
  writeTimeout: number;
  /**
   * Bytes one connection may hold (write backlog, received values not yet
   * delivered) before this side stops sending values and returning credits
   * on it; `Infinity`: no limit.
   */
  maxConnectionBytes: number;
}

/** The byte total of all an owner's sessions, against a limit. */
export interface ByteBudget {
  /** Adds `n` (may be negative) bytes to the total. */
  add(n: number): void;
  /** Past the limit: ends the sessions that hold the most until under it. */
  enforce(): void;
}

/** Something that returns credits at the next flush. */
export interface CreditSource {
  /** The channel id. */
  readonly id: number;
  /** Credits to return. */
  pendingCredit: number;
  /** Whether credits may still be sent for this channel. */
  readonly creditOpen: boolean;
}

const MIN_OUT_CHUNK = 16 * 1024;
const MAX_OUT_CHUNK = 1024 * 1024;
const MIN_READ_BUFFER = 16 * 1024;
const MAX_READ_GROWTH = 1024 * 1024;
/** The chunks a frame over MAX_READ_GROWTH is read into. */
const LARGE_CHUNK = 1024 * 1024;
/** Reply frames (not data) that may pile up unwritten before the peer counts as not reading. */
const CONTROL_LIMIT = 1024 * 1024;
/** How long a session that ends for a protocol error tries to deliver its GOAWAY. */
const GOAWAY_FLUSH_MS = 1000;
/** JSON texts up to this length are encoded straight into the write buffer. */
const INLINE_JSON = 4096;

const encoder = new TextEncoder();

/** One connection speaking the protocol. */
export abstract class Session {
  readonly conn: Conn;
  readonly config: SessionConfig;
  /** The largest frame body the peer accepts (known after its preamble). */
  peerMaxFrame: number = MIN_FRAME_SIZE;
  /** Whether the peer's preamble was read and found valid. */
  handshook = false;
  /** The protocol version in use: the lower of both sides' (known after the handshake). */
  version = 1;
  /** DATA frames written. */
  sent = 0;
  /** DATA frames the peer acknowledged. */
  acked = 0;
  /** DATA frames received. */
  received = 0;
  /**
   * When the frame being read started (`Date.now()`), 0 if none is
   * partially read: for a frame body timeout.
   */
  frameSince = 0;
  /** The budget this session's bytes count against, if any. */
  budget: ByteBudget | null = null;
  /** The read buffer, valid during `onFrame`. */
  protected rbuf: Uint8Array = new Uint8Array(0);
  /** A view of `rbuf`. */
  protected rview: DataView = new DataView(this.rbuf.buffer);
  /** Resolves once the read loop has stopped and the connection is closed. */
  readonly done: Promise<void>;

  readonly #role: number;
  readonly #peerRole: number;
  #ended = false;
  #connClosed = false;
  #ackSent = 0;
  // Write side: frames are appended to #out[#pos..#end); #out[..#pos) was handed to writes.
  #out: Uint8Array = new Uint8Array(0);
  #outView: DataView = new DataView(this.#out.buffer);
  #pos = 0;
  #end = 0;
  #chunk = MIN_OUT_CHUNK;
  #writing = false;
  #scheduled = false;
  #inflight = 0;
  #control = 0;
  #credits: CreditSource[] = [];
  /** Bytes counted against the budget: #outHeld + #readHeld + #inHeld. */
  #held = 0;
  #outHeld = 0;
  #readHeld = 0;
  #inHeld = 0;
  /** Whether the write backlog went over the connection's budget. */
  #blocked = false;
  #idle: (() => void)[] = [];
  readonly #flushTask = (): void => this.#flush();
  readonly #onWritten = (): void => {
    this.#writing = false;
    this.#inflight = 0;
    this.#flush();
    this.#trackOut();
    if (this.#blocked && this.bufferedBytes < this.config.maxConnectionBytes && !this.#ended) {
      this.#blocked = false;
      this.onUnblocked();
    }
  };
  readonly #onWriteError = (err: unknown): void => {
    this.#writing = false;
    this.#inflight = 0;
    if (this.#ended) {
      this.#closeConn();
      return;
    }
    if (err instanceof TimeoutError) {
      this.#finish(
        new ChanProtocolError(
          `Cannot ${this.action}: the peer has not read for ${this.config.writeTimeout} ms`,
          { code: "not-reading", cause: err },
        ),
        true,
        0,
      );
    } else this.#finish(asError(err), true, 0);
  };
  #loopDone = false;
  #doneResolved = false;
  #resolveDone!: () => void;

  constructor(conn: Conn, config: SessionConfig, role: number, peerRole: number) {
    this.conn = conn;
    this.config = config;
    this.#role = role;
    this.#peerRole = peerRole;
    this.done = new Promise<void>((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** What the session does, for messages: "serve importer 127.0.0.1:4567". */
  protected abstract readonly action: string;
  /** Handles one frame: `len` payload bytes at `rbuf[off]`, after the type byte. */
  protected abstract onFrame(type: number, off: number, len: number): void;
  /** The peer's preamble was valid. */
  protected abstract onHandshake(): void;
  /** The session ended (once); `err` is why, or `null` for a clean end. */
  protected abstract onEnd(err: Error | null): void;
  /** Reports an error on the owner's `errors`. */
  abstract report(err: Error): void;
  /** The write backlog went back under the connection's budget. */
  protected onUnblocked(): void {}

  /** Whether the session has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes written to the session and not yet taken by the runtime. */
  get bufferedBytes(): number {
    return this.#end - this.#pos + this.#inflight;
  }

  /** Bytes this session holds: write backlog, read buffer, values not yet delivered. */
  get heldBytes(): number {
    return this.#outHeld + this.#readHeld + this.#inHeld;
  }

  /**
   * Whether the write backlog is at or over the connection's budget: no
   * more values should be written until it drains (`onUnblocked`).
   */
  get blocked(): boolean {
    if (this.bufferedBytes >= this.config.maxConnectionBytes) this.#blocked = true;
    return this.#blocked;
  }

  /**
   * Counts `n` (may be negative) bytes of received values waiting for their
   * local channel; past the connection's budget, credits are held back.
   */
  trackReceived(n: number): void {
    const max = this.config.maxConnectionBytes;
    const was = this.#inHeld >= max;
    this.#inHeld += n;
    this.#track(n);
    if (was && this.#inHeld < max) this.#schedule();
  }

  /** Sends the preamble and starts reading. */
  start(): void {
    try {
      this.conn.setNoDelay(true); // frames are batched here; Nagle would only add delay
    } catch {
      // not TCP, or closed already
    }
    const off = this.#reserve(PREAMBLE_SIZE);
    const out = this.#out;
    out.set(MAGIC, off);
    this.#outView.setUint16(off + 4, VERSION);
    out[off + 6] = this.#role;
    out[off + 7] = 0;
    this.#outView.setUint32(off + 8, this.config.maxFrameSize);
    this.#end = off + PREAMBLE_SIZE;
    this.#flush();
    sessionStarted();
    this.#readLoop().then(() => {
      // The read buffer goes with the loop (see #closeConn).
      this.rbuf = new Uint8Array(0);
      this.rview = new DataView(this.rbuf.buffer);
      this.#loopDone = true;
      this.#maybeDone();
    });
  }

  /**
   * Ends the session. `flushMs > 0` first lets what is queued reach the
   * peer, for at most that long.
   */
  close(err: Error | null, flushMs: number): void {
    this.#finish(err, false, flushMs);
  }

  /** Ends the session for a protocol violation: reports it and tells the peer. */
  violation(code: ChanProtocolErrorCode, detail: string): void {
    if (this.#ended) return;
    const err = new ChanProtocolError(`Cannot ${this.action}: ${detail}`, { code });
    this.#appendGoaway(code, detail);
    this.#finish(err, true, GOAWAY_FLUSH_MS);
  }

  /**
   * Ends the session for a limit the peer ran into (a timeout, the byte
   * budget): reports it and tells the peer, unless its reads have stalled.
   */
  drop(code: ChanProtocolErrorCode, detail: string): void {
    if (this.#ended) return;
    if (!this.#writing) {
      this.violation(code, detail);
      return;
    }
    this.#finish(new ChanProtocolError(`Cannot ${this.action}: ${detail}`, { code }), true, 0);
  }

  // --- writing frames ------------------------------------------------------

  /** OPEN: the importer asks for a channel. */
  writeOpen(id: number, dir: number, window: number, count: number, name: Uint8Array): void {
    if (this.#ended) return;
    const off = this.#frame(T_OPEN, 17 + name.byteLength);
    const v = this.#outView;
    v.setUint32(off, id);
    this.#out[off + 4] = dir;
    v.setUint32(off + 5, window);
    v.setFloat64(off + 9, count);
    this.#out.set(name, off + 17);
    this.#commit(off + 17 + name.byteLength, true);
  }

  /** OPENED: the exporter accepts a channel and grants credits. */
  writeOpened(id: number, credits: number): void {
    if (this.#ended) return;
    this.#writeIdCount(T_OPENED, id, credits, true);
  }

  /** REFUSE: the exporter refuses a channel, saying why. */
  writeRefuse(id: number, code: ImportRefusedCode, message: string): void {
    if (this.#ended) return;
    const msg = utf8Cut(message, MAX_MESSAGE_BYTES);
    const off = this.#frame(T_REFUSE, 5 + msg.byteLength);
    this.#outView.setUint32(off, id);
    this.#out[off + 4] = REFUSE_CODES.indexOf(code) + 1;
    this.#out.set(msg, off + 5);
    this.#commit(off + 5 + msg.byteLength, true);
  }

  /** CLOSE: no more data on the channel from this side. */
  writeClose(id: number): void {
    if (this.#ended) return;
    const off = this.#frame(T_CLOSE, 4);
    this.#outView.setUint32(off, id);
    this.#commit(off + 4, true);
  }

  /**
   * DATA: encodes `value` into the write buffer. Returns `null`, or the
   * error if the value cannot be sent (it is then not written).
   */
  writeData(id: number, codec: Codec<unknown>, value: unknown, name: string): Error | null {
    if (this.#ended) return null;
    let bytes: Uint8Array;
    if (codec === jsonCodec) {
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch (err) {
        return encodeError(name, err);
      }
      if (text === undefined) text = "";
      const n = text.length;
      if (n <= INLINE_JSON) {
        // Straight into the buffer: ASCII by hand, anything else by encodeInto.
        const off = this.#reserve(9 + n * 3);
        const out = this.#out;
        let p = off + 9;
        let i = 0;
        for (; i < n; i++) {
          const c = text.charCodeAt(i);
          if (c >= 0x80) break;
          out[p++] = c;
        }
        if (i < n) p += encoder.encodeInto(text.slice(i), out.subarray(p)).written;
        const body = p - off - 4;
        if (body > this.peerMaxFrame) return tooLarge(name, body, this.peerMaxFrame);
        this.#outView.setUint32(off, body);
        out[off + 4] = T_DATA;
        this.#outView.setUint32(off + 5, id);
        this.sent++;
        this.#commit(p, false);
        return null;
      }
      bytes = encoder.encode(text);
    } else {
      try {
        bytes = codec.encode(value);
      } catch (err) {
        return encodeError(name, err);
      }
      if (!(bytes instanceof Uint8Array)) {
        return encodeError(
          name,
          new TypeError(`The codec returned ${typeof bytes}, not a Uint8Array`),
        );
      }
    }
    const body = 5 + bytes.byteLength;
    if (body > this.peerMaxFrame) return tooLarge(name, body, this.peerMaxFrame);
    const off = this.#frame(T_DATA, 4 + bytes.byteLength);
    this.#outView.setUint32(off, id);
    this.#out.set(bytes, off + 4);
    this.sent++;
    this.#commit(off + 4 + bytes.byteLength, false);
    return null;
  }

  /** CREDIT now, ahead of frames written later (a final count before CLOSE). */
  writeCredit(id: number, n: number): void {
    if (this.#ended) return;
    this.#writeIdCount(T_CREDIT, id, n, false);
  }

  /** Queues credits to return for `source` at the next flush. */
  returnCredit(source: CreditSource, n: number): void {
    if (this.#ended) return;
    if (source.pendingCredit === 0) this.#credits.push(source);
    source.pendingCredit += n;
    this.#schedule();
  }

  /** Counts a received DATA frame, to be acknowledged at the next flush. */
  countReceived(): void {
    this.received++;
    this.#schedule();
  }

  /** Resolves once everything written so far was taken by the runtime. */
  flushed(): Promise<void> {
    if (!this.#writing && this.#end === this.#pos) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  // --- internals -----------------------------------------------------------

  /** A frame of a channel id and a count (OPENED, CREDIT). */
  #writeIdCount(type: number, id: number, n: number, control: boolean): void {
    const off = this.#frame(type, 8);
    this.#outView.setUint32(off, id);
    this.#outView.setUint32(off + 4, n);
    this.#commit(off + 8, control);
  }

  #appendGoaway(code: ChanProtocolErrorCode, detail: string): void {
    const msg = utf8Cut(detail, MAX_MESSAGE_BYTES);
    const off = this.#frame(T_GOAWAY, 1 + msg.byteLength);
    this.#out[off] = GOAWAY_CODES.indexOf(code) + 1;
    this.#out.set(msg, off + 1);
    this.#commit(off + 1 + msg.byteLength, false);
  }

  /** Reserves a frame with a `payload`-byte body after the type; returns the payload offset. */
  #frame(type: number, payload: number): number {
    const off = this.#reserve(5 + payload);
    this.#outView.setUint32(off, 1 + payload);
    this.#out[off + 4] = type;
    return off + 5;
  }

  /** Makes room for `n` more bytes at `#end`; returns `#end`. */
  #reserve(n: number): number {
    if (this.#end + n <= this.#out.byteLength) return this.#end;
    // Grow geometrically: a backlog that keeps growing (the peer reads
    // slowly) is copied O(1) times per byte, not once per frame.
    const unflushed = this.#end - this.#pos;
    const size = Math.max(this.#chunk, unflushed + n > this.#chunk ? 2 * (unflushed + n) : 0);
    if (this.#out.byteLength > 0) this.#chunk = Math.min(this.#chunk * 2, MAX_OUT_CHUNK);
    const next = new Uint8Array(size);
    if (unflushed > 0) next.set(this.#out.subarray(this.#pos, this.#end));
    this.#out = next;
    this.#outView = new DataView(next.buffer);
    this.#pos = 0;
    this.#end = unflushed;
    return this.#end;
  }

  #commit(end: number, control: boolean): void {
    if (control) this.#control += end - this.#end;
    this.#end = end;
    this.#trackOut();
    if (this.#control > CONTROL_LIMIT && !this.#ended) {
      this.#finish(
        new ChanProtocolError(
          `Cannot ${this.action}: the peer sends requests but does not read the replies`,
          { code: "not-reading" },
        ),
        true,
        0,
      );
      return;
    }
    this.#schedule();
  }

  #track(n: number): void {
    if (this.#ended) return;
    this.#held += n;
    this.budget?.add(n);
  }

  #trackOut(): void {
    const b = this.bufferedBytes;
    if (b !== this.#outHeld) {
      this.#track(b - this.#outHeld);
      this.#outHeld = b;
    }
  }

  #trackRead(size: number): void {
    this.#track(size - this.#readHeld);
    this.#readHeld = size;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    queueMicrotask(this.#flushTask);
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#writing || this.#connClosed) return;
    if (!this.#ended) {
      const credits = this.#credits;
      // Past the connection's budget, credits wait: the peer sends no more.
      if (credits.length > 0 && this.#inHeld < this.config.maxConnectionBytes) {
        this.#credits = [];
        for (const c of credits) {
          const n = c.pendingCredit;
          c.pendingCredit = 0;
          if (n > 0 && c.creditOpen) {
            const off = this.#frame(T_CREDIT, 8);
            this.#outView.setUint32(off, c.id);
            this.#outView.setUint32(off + 4, n);
            this.#end = off + 8;
          }
        }
      }
      if (this.received > this.#ackSent && this.handshook) {
        this.#ackSent = this.received;
        const off = this.#frame(T_ACK, 8);
        this.#outView.setFloat64(off, this.received);
        this.#end = off + 8;
      }
      this.#trackOut();
    }
    if (this.#end === this.#pos) {
      const idle = this.#idle;
      if (idle.length > 0) {
        this.#idle = [];
        for (const fn of idle) fn();
      }
      return;
    }
    const chunk = this.#out.subarray(this.#pos, this.#end);
    this.#pos = this.#end;
    this.#control = 0;
    this.#writing = true;
    this.#inflight = chunk.byteLength;
    const timeout = this.config.writeTimeout;
    if (timeout > 0 && !this.#ended) this.conn.setWriteDeadline(Date.now() + timeout);
    this.conn.write(chunk).then(this.#onWritten, this.#onWriteError);
  }

  /** Ends the session once: tells the owner, then closes the connection. */
  #finish(err: Error | null, report: boolean, flushMs: number): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#credits = [];
    this.budget?.add(-this.#held);
    this.budget = null;
    this.#held = 0;
    this.frameSince = 0;
    if (err !== null && report) this.report(err);
    try {
      this.onEnd(err);
    } catch (cleanupErr) {
      this.report(asError(cleanupErr));
    }
    if (flushMs > 0 && (this.#writing || this.#end > this.#pos)) {
      try {
        this.conn.setWriteDeadline(Date.now() + flushMs);
      } catch {
        // closed already
      }
      this.flushed().then(() => this.#closeConn());
      this.#flush();
    } else this.#closeConn();
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    // Nothing is written any more: let the write buffer go. (An error's
    // stack trace can keep this session alive as a receiver, and with it
    // whatever its fields still hold.)
    this.#out = new Uint8Array(0);
    this.#outView = new DataView(this.#out.buffer);
    this.#pos = this.#end = 0;
    const idle = this.#idle;
    this.#idle = [];
    for (const fn of idle) fn();
    try {
      this.conn.close();
    } catch {
      // nothing to do
    }
    this.#maybeDone();
  }

  /**
   * Reads the rest of a frame of `need` bytes (length included) whose first
   * bytes are `first`, into chunks counted against the budget as they are
   * allocated; returns the whole frame, or `null` if the session ended.
   */
  async #readLarge(first: Uint8Array, need: number): Promise<Uint8Array<ArrayBuffer> | null> {
    const parts: Uint8Array[] = [first.slice()];
    let got = first.byteLength;
    let held = 0;
    try {
      while (got < need) {
        // Chunks grow with what arrived: 64 KiB, then doubling the total.
        const size = Math.min(need - got, LARGE_CHUNK, Math.max(4 * MIN_READ_BUFFER, got));
        this.#readHeld += size;
        held += size;
        this.#track(size);
        this.budget?.enforce();
        if (this.#ended) return null;
        const chunk = new Uint8Array(size);
        let filled = 0;
        while (filled < size) {
          const n = await this.conn.read(filled === 0 ? chunk : chunk.subarray(filled));
          if (this.#ended) return null;
          if (n === null) {
            this.#finish(
              new ChanProtocolError(
                `Cannot ${this.action}: the connection closed in the middle of a frame`,
                { code: "truncated" },
              ),
              true,
              0,
            );
            return null;
          }
          filled += n;
        }
        parts.push(chunk);
        got += size;
        if (turnOver()) {
          await nextTurn();
          if (this.#ended) return null;
        }
      }
      const frame = new Uint8Array(need);
      let off = 0;
      for (const p of parts) {
        frame.set(p, off);
        off += p.byteLength;
      }
      return frame;
    } finally {
      this.#readHeld -= held;
      this.#track(-held);
    }
  }

  #maybeDone(): void {
    if (this.#loopDone && this.#connClosed && !this.#doneResolved) {
      this.#doneResolved = true;
      sessionEnded();
      this.#resolveDone();
    }
  }

  async #readLoop(): Promise<void> {
    const conn = this.conn;
    const maxFrame = this.config.maxFrameSize;
    const hsTimeout = this.config.handshakeTimeout;
    let buf = new Uint8Array(MIN_READ_BUFFER);
    let view = new DataView(buf.buffer);
    let start = 0;
    let end = 0;
    this.#trackRead(buf.byteLength);
    try {
      if (hsTimeout > 0) conn.setReadDeadline(Date.now() + hsTimeout);
      while (!this.#ended) {
        // Make room: the next preamble or frame must fit from `start`.
        let need = 4;
        if (!this.handshook) need = PREAMBLE_SIZE;
        else if (end - start >= 4) need = 4 + view.getUint32(start);
        let free = -1;
        let n: number | null;
        if (need > MAX_READ_GROWTH && buf.byteLength - start < need) {
          // A large frame: its bytes are kept in chunks as they arrive and
          // put together once complete. A length alone allocates nothing
          // (§9), and a peer that stalls mid-frame holds only what it sent.
          const frame = await this.#readLarge(buf.subarray(start, end), need);
          if (frame === null) break;
          buf = frame;
          view = new DataView(buf.buffer);
          this.#trackRead(need);
          start = 0;
          end = 0;
          n = need;
        } else {
          // Room for the next read: at least `want` bytes after `end`; the
          // buffer grows towards the frame's size as its bytes arrive.
          const have = end - start;
          const want = Math.min(need - have, 1024);
          if (buf.byteLength - end < want) {
            if (buf.byteLength - have >= want) {
              buf.copyWithin(0, start, end);
            } else {
              const size = Math.min(need, Math.max(buf.byteLength * 2, MIN_READ_BUFFER));
              // Counted before it is allocated: past the budget, the session
              // holding the most (maybe this one) ends first.
              this.#trackRead(size);
              this.budget?.enforce();
              if (this.#ended) break;
              const next = new Uint8Array(size);
              next.set(buf.subarray(start, end));
              buf = next;
              view = new DataView(buf.buffer);
            }
            end = have;
            start = 0;
          }
          free = buf.byteLength - end;
          n = await conn.read(end === 0 ? buf : buf.subarray(end));
        }
        if (this.#ended) break;
        if (n === null) {
          if (!this.handshook) {
            this.#finish(
              new ChanProtocolError(
                `Cannot ${this.action}: the connection closed before the preamble`,
                { code: "bad-handshake" },
              ),
              true,
              0,
            );
          } else if (end > start) {
            this.#finish(
              new ChanProtocolError(
                `Cannot ${this.action}: the connection closed in the middle of a frame`,
                { code: "truncated" },
              ),
              true,
              0,
            );
          } else this.#finish(null, false, 0);
          break;
        }
        end += n;
        if (!this.handshook) {
          const avail = Math.min(end - start, 4);
          for (let i = 0; i < avail; i++) {
            if (buf[start + i] !== MAGIC[i]) {
              this.violation("bad-handshake", "the peer is not a netkit channel peer");
              return;
            }
          }
          if (end - start < PREAMBLE_SIZE) continue;
          const version = view.getUint16(start + 4);
          const role = buf[start + 6];
          const peerMax = view.getUint32(start + 8);
          if (role !== this.#peerRole) {
            this.violation(
              "bad-handshake",
              `the peer's role is ${role}, expected ${this.#peerRole}`,
            );
            return;
          }
          if (version < 1) {
            this.violation("version", `the peer speaks protocol version ${version}`);
            return;
          }
          if (peerMax < MIN_FRAME_SIZE) {
            this.violation(
              "bad-handshake",
              `the peer's maximum frame size ${peerMax} is under ${MIN_FRAME_SIZE}`,
            );
            return;
          }
          this.peerMaxFrame = Math.min(peerMax, MAX_FRAME_SIZE_LIMIT);
          this.version = Math.min(version, VERSION);
          start += PREAMBLE_SIZE;
          this.handshook = true;
          if (hsTimeout > 0) conn.setReadDeadline(null);
          this.onHandshake();
        }
        this.rbuf = buf;
        this.rview = view;
        const frameStart = start;
        while (end - start >= 4 && !this.#ended) {
          const len = view.getUint32(start);
          if (len === 0) {
            this.violation("malformed-frame", "a frame is empty");
            break;
          }
          if (len > maxFrame) {
            this.violation(
              "frame-too-large",
              `a frame of ${len} bytes is over the maximum of ${maxFrame}`,
            );
            break;
          }
          if (end - start - 4 < len) break;
          this.onFrame(buf[start + 4], start + 5, len - 1);
          start += 4 + len;
        }
        // Reads can complete at once, one after the other, for a long time:
        // let timers and the other connections have their turn.
        if (turnOver()) {
          await nextTurn();
          if (this.#ended) break;
        }
        if (start === end) {
          start = end = 0;
          this.frameSince = 0;
          if (buf.byteLength > MAX_READ_GROWTH) {
            // A large frame is done: give its buffer back.
            buf = new Uint8Array(MAX_READ_GROWTH);
            view = new DataView(buf.buffer);
            this.rbuf = buf;
            this.rview = view;
            this.#trackRead(buf.byteLength);
          }
        } else if (this.frameSince === 0 || start > frameStart) {
          // A frame is partly read: since now, or since the last one ended.
          this.frameSince = Date.now();
        }
        // A read that filled all the room asks for a bigger buffer next time.
        if (n === free && buf.byteLength < MAX_READ_GROWTH && buf.byteLength < maxFrame + 4) {
          const next = new Uint8Array(Math.min(buf.byteLength * 2, MAX_READ_GROWTH));
          next.set(buf.subarray(start, end));
          end -= start;
          start = 0;
          buf = next;
          view = new DataView(buf.buffer);
          this.#trackRead(buf.byteLength);
        }
      }
    } catch (err) {
      if (this.#ended) return;
      if (err instanceof TimeoutError && !this.handshook) {
        this.#appendGoaway("handshake-timeout", "no preamble in time");
        this.#finish(
          new ChanProtocolError(
            `Cannot ${this.action}: the peer sent no preamble within ${hsTimeout} ms`,
            { code: "handshake-timeout", cause: err },
          ),
          true,
          GOAWAY_FLUSH_MS,
        );
      } else this.#finish(asError(err), true, 0);
    }
  }
}

/** Reads a GOAWAY frame's payload as an error. */
export function goawayError(
  action: string,
  buf: Uint8Array,
  off: number,
  len: number,
): ChanProtocolError {
  const code = GOAWAY_CODES[buf[off] - 1] ?? "goaway";
  // Cut at the protocol's limit: a peer's oversized message is not kept.
  const msg = looseUtf8(buf.subarray(off + 1, off + Math.min(len, 1 + MAX_MESSAGE_BYTES)));
  return new ChanProtocolError(
    `Cannot ${action}: the peer closed the connection (${code}): ${msg}`,
    {
      code: "goaway",
    },
  );
}

function encodeError(name: string, cause: unknown): ChanValueError {
  return new ChanValueError(`Cannot send on "${name}": the value does not encode`, {
    channel: name,
    stage: "encode",
    cause,
  });
}

function tooLarge(name: string, body: number, max: number): ChanValueError {
  return new ChanValueError(
    `Cannot send on "${name}": the value's frame of ${body} bytes is over the peer's maximum of ${max}`,
    { channel: name, stage: "too-large" },
  );
}
