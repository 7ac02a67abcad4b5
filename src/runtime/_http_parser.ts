// Runtime adapter, HTTP: netkit's own HTTP/1.1 request parser (RFC 9112),
// for the engine in _http_own.ts. Strict where leniency smuggles requests
// (a body framed twice, a bad length, obs-fold, a bare CR or NUL in a
// field), as Node's llhttp is by default. Pure: no runtime API.

/** A request the parser refuses: answered with `status`, then the conn closes. */
export class HttpParseError extends Error {
  /** The status to answer with (400, 417, 431, 505). */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpParseError";
    this.status = status;
  }
}

/** A parsed request head. */
export interface RequestHead {
  readonly method: string;
  readonly url: string;
  /** 0 (HTTP/1.0) or 1 (HTTP/1.1). */
  readonly versionMinor: number;
  /** Names and values as sent, alternating (node:http's `rawHeaders`). */
  readonly rawHeaders: string[];
  /** node:http's `headers`: lower-case names, repeated fields joined by its rules. */
  readonly headers: Record<string, string | string[]>;
  /** The body's length, or CHUNKED. */
  readonly bodyLength: number;
  /** Whether the client lets the conn stay open after this request. */
  readonly keepAlive: boolean;
  /** An upgrade (`Connection: upgrade` with `Upgrade`) or a CONNECT. */
  readonly upgrade: boolean;
  /** The `Expect` field, lower-cased, if any. */
  readonly expect: string | undefined;
}

/** `bodyLength` of a chunked body. */
export const CHUNKED = -1;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP\/(\d)\.(\d)$/;
/** A control character other than HTAB (a field value allows HTAB, visible ASCII and obs-text). */
// deno-lint-ignore no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const DIGITS = /^\d+$/;
/** absolute-form (a proxy's request): scheme "://" ... */
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
/** authority-form (CONNECT): host ":" port. */
const AUTHORITY = /^(\[[0-9A-Fa-f:.]+\]|[^\s/?#@:]+):\d+$/;

/** Fields node:http keeps the first of (its `matchKnownFields`). */
const FIRST_WINS = new Set([
  "age",
  "authorization",
  "content-length",
  "content-type",
  "etag",
  "expires",
  "from",
  "host",
  "if-modified-since",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "referer",
  "retry-after",
  "server",
  "user-agent",
]);

/** Adds one field to node:http's `headers` object by its rules. */
function addField(
  headers: Record<string, string | string[]>,
  name: string,
  value: string,
): void {
  const had = headers[name];
  if (had === undefined) {
    headers[name] = name === "set-cookie" ? [value] : value;
  } else if (name === "set-cookie") {
    (had as string[]).push(value);
  } else if (FIRST_WINS.has(name)) {
    // Keeps the first.
  } else {
    headers[name] = had + (name === "cookie" ? "; " : ", ") + value;
  }
}

/** Whether a comma-separated field (Connection) lists `token` (lower case). */
function lists(field: string, token: string): boolean {
  const lower = field.toLowerCase();
  if (lower === token) return true;
  for (const part of lower.split(",")) if (part.trim() === token) return true;
  return false;
}

/** Trims spaces and tabs (OWS) at both ends. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Parses a request head: `text` is its latin1 text up to, not including,
 * the blank line that ends it.
 * @throws {HttpParseError} For a head that is not valid HTTP/1.0 or 1.1.
 */
export function parseHead(text: string): RequestHead {
  let eol = text.indexOf("\r\n");
  const line = eol < 0 ? text : text.slice(0, eol);
  const m = REQUEST_LINE.exec(line);
  if (m === null) throw new HttpParseError(400, "Cannot parse request: bad request line");
  if (m[3] !== "1" || (m[4] !== "0" && m[4] !== "1")) {
    throw new HttpParseError(505, "Cannot parse request: HTTP version not supported");
  }
  const versionMinor = m[4] === "1" ? 1 : 0;
  const rawHeaders: string[] = [];
  const headers: Record<string, string | string[]> = {};
  let lengthField: string | undefined;
  let transferEncoding: string | undefined;
  let connection = "";
  let hosts = 0;
  while (eol >= 0) {
    const start = eol + 2;
    eol = text.indexOf("\r\n", start);
    const field = eol < 0 ? text.slice(start) : text.slice(start, eol);
    const c = field.indexOf(":");
    if (c <= 0) throw new HttpParseError(400, "Cannot parse request: bad header field");
    const name = field.slice(0, c);
    // Also refuses obs-fold (a line starting with a space) and a space before the colon.
    if (!TOKEN.test(name)) throw new HttpParseError(400, "Cannot parse request: bad field name");
    const value = trimOws(field.slice(c + 1));
    if (BAD_VALUE.test(value)) {
      throw new HttpParseError(400, "Cannot parse request: bad field value");
    }
    rawHeaders.push(name, value);
    const key = name.toLowerCase();
    addField(headers, key, value);
    if (key === "content-length") {
      // One, digits only (as llhttp: even a repeat of the same length is refused).
      if (!DIGITS.test(value) || lengthField !== undefined) {
        throw new HttpParseError(400, "Cannot parse request: bad Content-Length");
      }
      lengthField = value;
    } else if (key === "host") {
      hosts++;
    } else if (key === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    } else if (key === "connection") {
      connection = connection === "" ? value : `${connection}, ${value}`;
    }
  }
  // HTTP/1.1 needs exactly one Host (RFC 9112 §3.2; node:http requires one too).
  if (hosts > 1 || (hosts === 0 && versionMinor === 1)) {
    throw new HttpParseError(400, "Cannot parse request: it needs one Host field");
  }
  const target = m[2];
  const method = m[1];
  if (
    target.charCodeAt(0) !== 47 && // origin-form: /path
    !(target === "*" && method === "OPTIONS") &&
    !ABSOLUTE.test(target) &&
    !(method === "CONNECT" && AUTHORITY.test(target))
  ) {
    throw new HttpParseError(400, "Cannot parse request: bad request target");
  }
  let bodyLength = 0;
  if (transferEncoding !== undefined) {
    const codings = transferEncoding.toLowerCase().split(",").map((c) => c.trim());
    // Chunked once, and last (RFC 9112 §6.1); never with Content-Length.
    if (
      lengthField !== undefined || codings[codings.length - 1] !== "chunked" ||
      codings.indexOf("chunked") !== codings.length - 1
    ) {
      throw new HttpParseError(400, "Cannot parse request: bad Transfer-Encoding");
    }
    bodyLength = CHUNKED;
  } else if (lengthField !== undefined) {
    bodyLength = Number(lengthField);
    if (!Number.isSafeInteger(bodyLength)) {
      throw new HttpParseError(400, "Cannot parse request: bad Content-Length");
    }
  }
  const keepAlive = connection === ""
    ? versionMinor === 1
    : versionMinor === 1
    ? !lists(connection, "close")
    : lists(connection, "keep-alive");
  const upgrade = method === "CONNECT" ||
    (headers["upgrade"] !== undefined && connection !== "" && lists(connection, "upgrade"));
  const expect = headers["expect"];
  return {
    method,
    url: target,
    versionMinor,
    rawHeaders,
    headers,
    bodyLength,
    keepAlive,
    upgrade,
    expect: typeof expect === "string" ? expect.toLowerCase() : undefined,
  };
}

/** Where a chunked body's decoder is. */
const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILER = 3;
const DONE = 4;

/** The longest chunk-size line (with extensions) and trailer line accepted. */
const MAX_LINE = 16 * 1024;

/**
 * Decodes a chunked body (RFC 9112 §7.1) fed in pieces; trailers are kept
 * as node:http's `rawTrailers` and `trailers`.
 */
export class ChunkedDecoder {
  #state = SIZE;
  #left = 0;
  /** Trailer bytes seen so far, at most MAX_LINE of them. */
  #trailerBytes = 0;
  readonly rawTrailers: string[] = [];
  readonly trailers: Record<string, string | string[]> = {};

  /** Whether the last chunk and the trailers are in. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Decodes from `buf[off..]`: hands each piece of data to `onData` (a view
   * into `buf`), and returns the offset it stopped at (the first byte not
   * consumed: a line not yet whole, or the end of the body).
   * @throws {HttpParseError} For bytes that are not a chunked body.
   */
  feed(buf: Uint8Array, off: number, onData: (data: Uint8Array) => void): number {
    const end = buf.byteLength;
    while (off < end && this.#state !== DONE) {
      switch (this.#state) {
        case SIZE: {
          const eol = lineEnd(buf, off, end);
          if (eol < 0) {
            if (end - off > MAX_LINE) throw chunkError();
            return off;
          }
          let size = 0;
          let i = off;
          for (; i < eol; i++) {
            const d = hexDigit(buf[i]);
            if (d < 0) break;
            size = size * 16 + d;
            if (size > Number.MAX_SAFE_INTEGER) throw chunkError();
          }
          // At least one digit, then nothing or an extension (BWS, then `;...`).
          const digits = i;
          while (i < eol && (buf[i] === 32 || buf[i] === 9)) i++;
          if (digits === off || (i < eol && buf[i] !== 59)) throw chunkError();
          off = eol + 2;
          this.#left = size;
          this.#state = size === 0 ? TRAILER : DATA;
          break;
        }
        case DATA: {
          const n = Math.min(this.#left, end - off);
          onData(buf.subarray(off, off + n));
          off += n;
          this.#left -= n;
          if (this.#left === 0) this.#state = DATA_END;
          break;
        }
        case DATA_END: {
          if (end - off < 2) return off;
          if (buf[off] !== 13 || buf[off + 1] !== 10) throw chunkError();
          off += 2;
          this.#state = SIZE;
          break;
        }
        case TRAILER: {
          const eol = lineEnd(buf, off, end);
          if (eol < 0) {
            if (this.#trailerBytes + (end - off) > MAX_LINE) throw chunkError();
            return off;
          }
          this.#trailerBytes += eol - off + 2;
          if (this.#trailerBytes > MAX_LINE) throw chunkError();
          if (eol === off) {
            this.#state = DONE;
          } else {
            this.#trailer(latin1(buf, off, eol));
          }
          off = eol + 2;
          break;
        }
      }
    }
    return off;
  }

  #trailer(field: string): void {
    const c = field.indexOf(":");
    const name = c > 0 ? field.slice(0, c) : "";
    const value = trimOws(field.slice(c + 1));
    if (!TOKEN.test(name) || BAD_VALUE.test(value)) throw chunkError();
    this.rawTrailers.push(name, value);
    addField(this.trailers, name.toLowerCase(), value);
  }
}

function chunkError(): HttpParseError {
  return new HttpParseError(400, "Cannot parse request: bad chunked body");
}

/** The index of the CRLF ending the line at `off`, or -1 if not all there. */
function lineEnd(buf: Uint8Array, off: number, end: number): number {
  for (let i = off; i < end - 1; i++) {
    if (buf[i] === 13) {
      if (buf[i + 1] !== 10) throw chunkError();
      return i;
    }
    if (buf[i] === 10) throw chunkError();
  }
  return -1;
}

function hexDigit(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  if (b >= 97 && b <= 102) return b - 87;
  if (b >= 65 && b <= 70) return b - 55;
  return -1;
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
  return s;
}
