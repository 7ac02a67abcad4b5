// Runtime adapter, HTTP: netkit's own HTTP/1.1 server engine. Its parser
// (_http_parser.ts) reads a conn's bytes as ConnSocket takes them, and hands
// out node:http's own `IncomingMessage` and `ServerResponse` (so Express and
// every node-style handler see the real classes), one request at a time
// (pipelined requests wait in the buffer for the response before). Used for
// every conn but a node:net socket on Deno and Node: node:http fed through a
// Duplex costs more (Deno 1.5×, Node 1.15×), and on Bun node:http serves a
// socket handed in with emit("connection") through a JavaScript path about
// three times as costly (measured: docs/runtimes.md).
import { IncomingMessage, ServerResponse, STATUS_CODES } from "node:http";
import { Buffer } from "node:buffer";
import { ConnSocket, DetachedConn } from "./_conn_socket.ts";
import {
  CHUNKED,
  ChunkedDecoder,
  HttpParseError,
  parseHead,
  type RequestHead,
} from "./_http_parser.ts";
import type { Conn, HttpEngineOptions, HttpSocketHooks } from "./types.ts";

/** Where the conn is. */
const HEAD = 0; // waiting for a request head
const BODY = 1; // a request's body is coming
const WAIT = 2; // the request is in; its response is not done
const CLOSED = 3; // closing, refused or gone
const UPGRADED = 4; // handed to the upgrade handler

const CRLFCRLF = Buffer.from("\r\n\r\n");

/** Bytes of pipelined requests read ahead while a response is being made. */
const READ_AHEAD = 64 * 1024;

/** The parts of node:http's objects this engine sets or reads beyond their types. */
type Req = IncomingMessage & { _read: (n: number) => void; upgrade?: boolean };
type Res = ServerResponse & { _last?: boolean; _keepAliveTimeout?: number };

function noop(): void {}

/** One conn served by netkit's own parser. */
export class OwnSocket extends ConnSocket {
  readonly #options: HttpEngineOptions;
  /** Bytes read and not parsed yet, from #off. */
  #pending: Buffer | undefined;
  #off = 0;
  /** Bytes from #off already searched for the end of a head, in vain. */
  #scanned = 0;
  #phase = HEAD;
  #req: Req | undefined;
  #res: Res | undefined;
  #left = 0;
  #chunked: ChunkedDecoder | undefined;
  /** The current response finished (its request's body may still be coming). */
  #resDone = false;
  /** The response finished first: the rest of the body is read and dropped. */
  #dumping = false;
  /** The request body's reader is full: stop reading the conn. */
  #bodyFull = false;
  #parsing = false;
  /** Inside push(). */
  #pushing = false;
  /** After an upgrade: the bytes for the upgraded conn, in order. */
  #late: Uint8Array[] | undefined;
  readonly #onFinish: () => void;
  readonly #onBody: (data: Uint8Array) => void;
  readonly #onReqRead: () => void;

  constructor(conn: Conn, hooks: HttpSocketHooks, options: HttpEngineOptions) {
    super(conn, hooks);
    this.#options = options;
    // Errors end the conn (and each request's response sees "close"); nothing to report.
    this.on("error", noop);
    // What node:http's server does for its sockets: the response hears that
    // the socket drained (always: Bun's `writableNeedDrain` stays false).
    this.on("drain", () => {
      const res = this.#res;
      if (res !== undefined && !this.#resDone) res.emit("drain");
    });
    this.#onFinish = () => this.#finished();
    this.#onBody = (data) => {
      if (this.#dumping) return;
      if (!this.#req!.push(data)) this.#bodyFull = true;
    };
    this.#onReqRead = () => {
      if (!this.#bodyFull) return;
      this.#bodyFull = false;
      this.#resume();
    };
  }

  /** Starts reading the conn. */
  start(): void {
    this._read();
  }

  /**
   * Reads on. Not from inside push(): the read loop that called it goes on
   * by itself when push() returns true, and a nested one would take chunks
   * ahead of those it has not pushed yet.
   */
  #resume(): void {
    if (!this.#pushing) this._read();
  }

  /** What ConnSocket reads: parsed here instead of queued for a reader. */
  override push(chunk: Uint8Array | null): boolean {
    this.#pushing = true;
    try {
      return this.#take(chunk);
    } finally {
      this.#pushing = false;
    }
  }

  #take(chunk: Uint8Array | null): boolean {
    if (this.#late !== undefined) {
      if (chunk !== null) this.#late.push(chunk);
      return false;
    }
    if (chunk === null) {
      this.#eof();
      return false;
    }
    const buf = chunk as Buffer;
    const pending = this.#pending;
    if (pending === undefined) {
      this.#pending = buf;
      this.#off = 0;
    } else {
      this.#pending = Buffer.concat([pending.subarray(this.#off), buf]);
      this.#off = 0;
    }
    this.#parse();
    return this.#wantsMore();
  }

  #wantsMore(): boolean {
    if (this.#phase === CLOSED || this.#phase === UPGRADED || this.#bodyFull) return false;
    if (this.#phase !== WAIT) return true;
    const pending = this.#pending;
    return pending === undefined || pending.byteLength - this.#off < READ_AHEAD;
  }

  /** Parses what is pending, as far as the current request lets it. */
  #parse(): void {
    if (this.#parsing) return;
    this.#parsing = true;
    try {
      while (this.#pending !== undefined && this.#off < this.#pending.byteLength) {
        if (this.#phase === HEAD) {
          if (!this.#head(this.#pending)) break;
        } else if (this.#phase === BODY) {
          this.#body(this.#pending);
          if (this.#phase === BODY) break;
        } else {
          break;
        }
      }
      if (this.#pending !== undefined && this.#off >= this.#pending.byteLength) {
        this.#pending = undefined;
        this.#off = 0;
      }
    } catch (err) {
      if (err instanceof HttpParseError) this.#refuse(err.status);
      else this.#abort();
    } finally {
      this.#parsing = false;
    }
  }

  /** Parses a request head from `buf` at #off; false if it is not all there. */
  #head(buf: Buffer): boolean {
    let off = this.#off;
    if (this.#scanned === 0) {
      // Empty lines before a request line are ignored (RFC 9112 §2.2).
      while (off + 1 < buf.byteLength && buf[off] === 13 && buf[off + 1] === 10) off += 2;
      this.#off = off;
    }
    const max = this.#options.maxHeaderSize;
    // A head that comes a byte at a time is searched once, not once per byte.
    const end = buf.indexOf(CRLFCRLF, off + this.#scanned);
    if (end < 0 || end - off > max) {
      if (buf.byteLength - off > max) {
        throw new HttpParseError(431, "Cannot parse request: head too large");
      }
      this.#scanned = Math.max(0, buf.byteLength - off - 3);
      return false;
    }
    this.#scanned = 0;
    const head = parseHead(buf.toString("latin1", off, end));
    this.#off = end + 4;
    this.#request(head);
    return true;
  }

  #request(head: RequestHead): void {
    const options = this.#options;
    const req = new IncomingMessage(this as never) as Req;
    req.method = head.method;
    req.url = head.url;
    req.httpVersionMajor = 1;
    req.httpVersionMinor = head.versionMinor;
    req.httpVersion = head.versionMinor === 1 ? "1.1" : "1.0";
    req.rawHeaders = head.rawHeaders;
    req.headers = head.headers as IncomingMessage["headers"];
    if (head.upgrade && (options.onUpgrade !== undefined || head.method === "CONNECT")) {
      this.#upgrade(req, options.onUpgrade);
      return;
    }
    const res = new ServerResponse(req) as Res;
    res.shouldKeepAlive = head.keepAlive;
    if (options.idleTimeout !== undefined && options.idleTimeout > 0) {
      res._keepAliveTimeout = options.idleTimeout;
    }
    res.assignSocket(this as never);
    res.on("finish", this.#onFinish);
    this.#req = req;
    this.#res = res;
    this.#resDone = false;
    this.#dumping = false;
    if (head.bodyLength === 0) {
      this.#complete(req);
    } else {
      this.#phase = BODY;
      this.#left = head.bodyLength;
      this.#chunked = head.bodyLength === CHUNKED ? new ChunkedDecoder() : undefined;
      req._read = this.#onReqRead;
    }
    try {
      if (head.expect !== undefined && head.versionMinor === 1) {
        if (head.expect === "100-continue") {
          options.onCheckContinue(req, res, this);
        } else {
          res.writeHead(417, { "content-length": "0" });
          res.end();
        }
        return;
      }
      options.onRequest(req, res, this);
    } catch {
      // The owner's handlers catch their own; this one is broken: drop the conn.
      this.#abort();
    }
  }

  /** Feeds the current body from `buf` at #off. */
  #body(buf: Buffer): void {
    const chunked = this.#chunked;
    if (chunked !== undefined) {
      this.#off = chunked.feed(buf, this.#off, this.#onBody);
      if (chunked.done) {
        const req = this.#req!;
        (req as { rawTrailers: string[] }).rawTrailers = chunked.rawTrailers;
        (req as { trailers: Record<string, unknown> }).trailers = chunked.trailers;
        this.#complete(req);
      }
      return;
    }
    const n = Math.min(this.#left, buf.byteLength - this.#off);
    if (n > 0) this.#onBody(buf.subarray(this.#off, this.#off + n));
    this.#off += n;
    this.#left -= n;
    if (this.#left === 0) this.#complete(this.#req!);
  }

  /** The request is all in. */
  #complete(req: Req): void {
    this.#chunked = undefined;
    req.complete = true;
    req.push(null);
    if (this.#resDone) this.#next();
    else this.#phase = WAIT;
  }

  /** The response finished. */
  #finished(): void {
    const res = this.#res!;
    res.detachSocket(this as never);
    queueMicrotask(() => res.emit("close"));
    this.#resDone = true;
    if (res._last === true || !res.shouldKeepAlive) {
      this.#phase = CLOSED;
      this.destroySoon();
      return;
    }
    if (this.#phase === WAIT) {
      this.#next();
      this.#parse();
      this.#resume();
    } else if (this.#phase === BODY) {
      // The handler did not read it all: read on and drop the rest.
      this.#dumping = true;
      if (this.#bodyFull) {
        this.#bodyFull = false;
        this.#resume();
      }
    }
  }

  /** On to the next request. */
  #next(): void {
    this.#phase = HEAD;
    this.#req = undefined;
    this.#res = undefined;
  }

  #upgrade(req: Req, onUpgrade: HttpEngineOptions["onUpgrade"]): void {
    if (onUpgrade === undefined) {
      // CONNECT with nobody to take it (as node:http): drop the conn.
      this.#abort();
      return;
    }
    req.upgrade = true;
    req.complete = true;
    req.push(null);
    this.#phase = UPGRADED;
    const pending = this.#pending!;
    const rest = Buffer.from(pending.subarray(this.#off));
    this.#pending = undefined;
    this.#off = 0;
    this.#late = [];
    onUpgrade(req, this, rest);
  }

  /**
   * The conn for the upgrade handler: `head` (what followed the request
   * head, as handed to it), then what was read after it, then the rest.
   */
  override detach(head: Uint8Array): Conn {
    const late = this.#late ?? (this.#late = []);
    const inner = super.detach(new Uint8Array(0));
    if (head.byteLength > 0) late.unshift(head);
    return new DetachedConn(inner, late, undefined, () => [[], false]);
  }

  /** The peer ended its side. */
  #eof(): void {
    if (this.#phase === CLOSED || this.#phase === UPGRADED) return;
    // A request in flight is aborted (as node:http, which does not allow half-open).
    this.#abort();
  }

  /** Closes the conn now; a request in flight sees "aborted", its response "close". */
  #abort(): void {
    this.#phase = CLOSED;
    this.destroy();
    const req = this.#req;
    if (req !== undefined && !req.destroyed) req.destroy();
  }

  /** Answers a bad request head with `status` and closes. */
  #refuse(status: number): void {
    if (this.#phase !== HEAD) {
      this.#abort();
      return;
    }
    this.#phase = CLOSED;
    this.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
        "Connection: close\r\nContent-Length: 0\r\n\r\n",
    );
    this.destroySoon();
  }
}
