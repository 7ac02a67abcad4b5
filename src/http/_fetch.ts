// Internal: node:http IncomingMessage/ServerResponse <-> Web Request/Response.
// The node objects are typed structurally (no node:* import outside
// src/runtime/). Runtime-free.

/** The parts of an `IncomingMessage` used here. */
export interface NodeRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawHeaders: string[];
  readonly complete: boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** The parts of a `ServerResponse` used here. */
export interface NodeResponse {
  statusCode: number;
  statusMessage: string;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
  setHeader(name: string, value: string | string[]): unknown;
  writeHead(status: number, headers?: Record<string, string | string[]>): unknown;
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array | string): unknown;
  writeContinue(): void;
  destroy(err?: Error): unknown;
  on(event: string, listener: () => void): unknown;
  once(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

/** A request body went over the limit. */
export class BodyTooLarge extends Error {
  constructor(limit: number) {
    super(`Cannot read request body: it is larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
  }
}

/** The request's body as a stream, counted against `limit`. */
function bodyOf(
  req: NodeRequest,
  limit: number,
  onTooLarge: () => void,
): ReadableStream<Uint8Array> {
  let seen = 0;
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Uint8Array) => {
        if (done) return;
        seen += chunk.byteLength;
        if (seen > limit) {
          done = true;
          controller.error(new BodyTooLarge(limit));
          onTooLarge();
          return;
        }
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.once("end", () => {
        if (done) return;
        done = true;
        controller.close();
      });
      const fail = () => {
        if (done) return;
        done = true;
        controller.error(new Error("Cannot read request body: the client went away"));
      };
      req.once("aborted", fail);
      req.once("error", fail);
    },
    pull() {
      req.resume();
    },
    cancel() {
      done = true;
      req.resume();
    },
  }, { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength });
}

/** Builds the Web `Request` of a node:http request. */
export function toRequest(
  req: NodeRequest,
  host: string,
  signal: AbortSignal,
  limit: number,
  onTooLarge: () => void,
): Request {
  const method = req.method ?? "GET";
  const path = req.url ?? "/";
  const url = path.startsWith("/") || path === "*"
    ? `http://${req.headers.host ?? host}${path === "*" ? "/" : path}`
    : path.includes("://")
    ? path
    : `http://${path}`;
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  let body: ReadableStream<Uint8Array> | null = null;
  if (method !== "GET" && method !== "HEAD") {
    const length = req.headers["content-length"];
    const chunked = req.headers["transfer-encoding"] !== undefined;
    if (chunked || (length !== undefined && length !== "0")) body = bodyOf(req, limit, onTooLarge);
  }
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal };
  if (body !== null) {
    init.body = body;
    init.duplex = "half";
  }
  return new Request(url, init);
}

/** Waits until `res` can take more, or is gone; `false` if it is gone. */
function drained(res: NodeResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => {
      res.removeListener("close", onClose);
      resolve(true);
    };
    const onClose = () => {
      res.removeListener("drain", onDrain);
      resolve(false);
    };
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}

/**
 * Writes a Web `Response` to a node:http response: a body of one chunk with
 * `Content-Length`, a longer one streamed (chunked unless the handler set a
 * length), with backpressure; none for HEAD.
 */
export async function writeResponse(
  res: NodeResponse,
  response: Response,
  head: boolean,
  close: boolean,
): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  let cookies = false;
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") cookies = true;
    else headers[name] = value;
  });
  if (cookies) headers["set-cookie"] = response.headers.getSetCookie();
  if (close) headers["connection"] = "close";
  if (response.statusText !== "") res.statusMessage = response.statusText;
  const body = response.body;
  if (body === null || head) {
    if (body !== null) body.cancel().catch(() => {});
    if (res.headersSent || res.destroyed) return;
    res.writeHead(response.status, headers);
    res.end();
    return;
  }
  const reader = body.getReader();
  try {
    const first = await reader.read();
    if (res.headersSent || res.destroyed) {
      reader.cancel().catch(() => {});
      return;
    }
    if (first.done) {
      res.writeHead(response.status, headers);
      res.end();
      return;
    }
    const second = await reader.read();
    if (res.headersSent || res.destroyed) {
      reader.cancel().catch(() => {});
      return;
    }
    if (second.done) {
      if (headers["content-length"] === undefined) {
        headers["content-length"] = String(first.value.byteLength);
      }
      res.writeHead(response.status, headers);
      res.end(first.value);
      return;
    }
    res.writeHead(response.status, headers);
    res.write(first.value);
    let ok = res.write(second.value);
    while (true) {
      if (!ok && !(await drained(res))) {
        reader.cancel().catch(() => {});
        return;
      }
      const next = await reader.read();
      if (next.done) break;
      if (res.destroyed) {
        reader.cancel().catch(() => {});
        return;
      }
      ok = res.write(next.value);
    }
    res.end();
  } catch (err) {
    reader.cancel(err).catch(() => {});
    throw err;
  }
}
