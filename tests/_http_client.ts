// A tiny HTTP/1.1 client over a netkit Conn, for tests that must control the
// bytes on the wire (keep-alive, pipelining, chunked, 100-continue, slow
// clients). Tests only.
import { type Conn, connect } from "../src/runtime/mod.ts";

/** A parsed response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

function indexOfCrlfCrlf(b: Uint8Array, from = 0): number {
  for (let i = from; i + 3 < b.byteLength; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function indexOfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 1 < b.byteLength; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

/** Reads responses off one connection, keeping what it read ahead. */
export class RawClient {
  readonly conn: Conn;
  #buf: Uint8Array = new Uint8Array(0);
  #eof = false;

  constructor(conn: Conn) {
    this.conn = conn;
  }

  static async open(port: number): Promise<RawClient> {
    return new RawClient(await connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends bytes (a string is UTF-8 encoded). */
  async send(data: string | Uint8Array): Promise<void> {
    await this.conn.write(typeof data === "string" ? enc.encode(data) : data);
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#buf = concat(this.#buf, chunk.subarray(0, n));
    return true;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buf.byteLength < n) {
      if (!(await this.#fill())) throw new Error(`EOF after ${this.#buf.byteLength} of ${n} bytes`);
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async #line(): Promise<string> {
    while (true) {
      const i = indexOfCrlf(this.#buf);
      if (i >= 0) {
        const line = dec.decode(this.#buf.subarray(0, i));
        this.#buf = this.#buf.subarray(i + 2);
        return line;
      }
      if (!(await this.#fill())) throw new Error("EOF in a line");
    }
  }

  /** Reads one response head; `null` if the connection ended first. */
  async head(): Promise<{ status: number; headers: Record<string, string> } | null> {
    let end = indexOfCrlfCrlf(this.#buf);
    while (end < 0) {
      if (!(await this.#fill())) {
        if (this.#buf.byteLength === 0) return null;
        throw new Error(`EOF in a response head: ${JSON.stringify(dec.decode(this.#buf))}`);
      }
      end = indexOfCrlfCrlf(this.#buf);
    }
    const lines = dec.decode(this.#buf.subarray(0, end)).split("\r\n");
    this.#buf = this.#buf.subarray(end + 4);
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    return { status, headers };
  }

  /** Reads one full response (`head: true` for the answer to a HEAD request). */
  async response(options: { head?: boolean } = {}): Promise<RawResponse> {
    let h = await this.head();
    if (h === null) throw new Error("EOF before a response");
    while (h.status === 100) {
      h = await this.head();
      if (h === null) throw new Error("EOF after 100 Continue");
    }
    const { status, headers } = h;
    if (options.head || status === 204 || status === 304) {
      return { status, headers, body: new Uint8Array(0) };
    }
    if (headers["transfer-encoding"]?.includes("chunked")) {
      let body: Uint8Array = new Uint8Array(0);
      while (true) {
        const size = parseInt(await this.#line(), 16);
        if (size === 0) {
          while ((await this.#line()) !== "");
          return { status, headers, body };
        }
        body = concat(body, await this.#take(size));
        await this.#take(2);
      }
    }
    if (headers["content-length"] !== undefined) {
      return { status, headers, body: await this.#take(Number(headers["content-length"])) };
    }
    while (await this.#fill());
    const body = this.#buf;
    this.#buf = new Uint8Array(0);
    return { status, headers, body };
  }

  /** Sends a request and reads its response. */
  async request(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: Uint8Array | string } = {},
  ): Promise<RawResponse> {
    const body = typeof options.body === "string" ? enc.encode(options.body) : options.body;
    let head = `${method} ${path} HTTP/1.1\r\nHost: test\r\n`;
    for (const [k, v] of Object.entries(options.headers ?? {})) head += `${k}: ${v}\r\n`;
    if (body !== undefined) head += `Content-Length: ${body.byteLength}\r\n`;
    head += "\r\n";
    await this.send(body === undefined ? head : concat(enc.encode(head), body));
    return await this.response({ head: method === "HEAD" });
  }

  /** The bytes read ahead, else the next bytes from the conn; `null` at EOF. */
  async chunk(): Promise<Uint8Array | null> {
    if (this.#buf.byteLength === 0 && !(await this.#fill())) return null;
    const out = this.#buf;
    this.#buf = new Uint8Array(0);
    return out;
  }

  /** Resolves `true` once the server closed the connection (reads and drops the rest). */
  async closedByServer(): Promise<boolean> {
    try {
      while (await this.#fill());
    } catch {
      // Reset counts as closed.
    }
    return true;
  }

  close(): void {
    this.conn.close();
  }
}

/** UTF-8 decodes a body. */
export function textOf(body: Uint8Array): string {
  return dec.decode(body);
}
