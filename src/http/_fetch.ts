// Internal: node:http IncomingMessage/ServerResponse <-> Web Request/Response.
// The node objects are typed structurally (no node:* import outside
// src/runtime/). Runtime-free.
import { lightParts } from "./light_response.ts";

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

/** What a lazy request keeps until (and unless) a real `Request` is needed. */
interface LazyState {
  method: string;
  url: string;
  req: NodeRequest;
  limit: number;
  onTooLarge: () => void;
  headers: Headers | undefined;
  controller: AbortController | undefined;
  gone: boolean;
  real: Request | undefined;
}

const STATE: unique symbol = Symbol("netkit.http.request");

function stateOf(r: unknown): LazyState {
  return (r as { [STATE]: LazyState })[STATE];
}

function headersOf(st: LazyState): Headers {
  if (st.headers === undefined) {
    const headers = new Headers();
    const raw = st.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
    st.headers = headers;
  }
  return st.headers;
}

function signalOf(st: LazyState): AbortSignal {
  if (st.controller === undefined) {
    st.controller = new AbortController();
    if (st.gone) st.controller.abort(goneError());
  }
  return st.controller.signal;
}

function goneError(): Error {
  return new Error("Cannot answer request: the client went away");
}

/** The real `Request`, built on first need (a body, clone(), ...). */
function realOf(st: LazyState): Request {
  if (st.real === undefined) {
    const { method, req } = st;
    let body: ReadableStream<Uint8Array> | null = null;
    if (method !== "GET" && method !== "HEAD") {
      const length = req.headers["content-length"];
      const chunked = req.headers["transfer-encoding"] !== undefined;
      if (chunked || (length !== undefined && length !== "0")) {
        body = bodyOf(req, st.limit, st.onTooLarge);
      }
    }
    const init: RequestInit & { duplex?: "half" } = {
      method,
      headers: headersOf(st),
      signal: signalOf(st),
    };
    if (body !== null) {
      init.body = body;
      init.duplex = "half";
    }
    st.real = new Request(st.url, init);
  }
  return st.real;
}

/**
 * The prototype of lazy requests: `method`, `url`, `headers` and `signal`
 * are answered without building a `Request` (what routing needs, and all a
 * GET handler usually reads); every other member builds the real one and
 * forwards to it. It inherits from `Request.prototype`, so `instanceof
 * Request` holds. (Building a `Request` per request is what costs most on
 * Node's undici; @hono/node-server and srvx do the same.)
 */
let lazyProto: object | undefined;

function lazyPrototype(): object {
  if (lazyProto !== undefined) return lazyProto;
  const proto = Object.create(Request.prototype) as Record<string | symbol, unknown>;
  const own: PropertyDescriptorMap = {
    method: {
      get(this: unknown) {
        return stateOf(this).method;
      },
    },
    url: {
      get(this: unknown) {
        return stateOf(this).url;
      },
    },
    headers: {
      get(this: unknown) {
        const st = stateOf(this);
        return st.real?.headers ?? headersOf(st);
      },
    },
    signal: {
      get(this: unknown) {
        return signalOf(stateOf(this));
      },
    },
  };
  for (const key of Reflect.ownKeys(Request.prototype)) {
    if (key === "constructor" || (typeof key === "string" && key in own)) continue;
    const desc = Object.getOwnPropertyDescriptor(Request.prototype, key)!;
    if (typeof desc.value === "function") {
      own[key as string] = {
        value: function (this: unknown, ...args: unknown[]) {
          const real = realOf(stateOf(this)) as unknown as Record<string | symbol, unknown>;
          return (real[key] as (...a: unknown[]) => unknown).apply(real, args);
        },
        writable: true,
        configurable: true,
      };
    } else if (desc.get !== undefined) {
      own[key as string] = {
        get(this: unknown) {
          return (realOf(stateOf(this)) as unknown as Record<string | symbol, unknown>)[key];
        },
        configurable: true,
      };
    }
  }
  // Symbol keys (e.g. Symbol.toStringTag) are strings of the map above only
  // when they are strings; define them one by one.
  for (const key of Reflect.ownKeys(own)) {
    Object.defineProperty(proto, key, { configurable: true, ...own[key as string] });
  }
  lazyProto = proto;
  return proto;
}

/** Tells a lazy request that its client went away: its signal aborts. */
export function abortRequest(request: Request): void {
  const st = stateOf(request);
  if (st === undefined || st.gone) return;
  st.gone = true;
  st.controller?.abort(goneError());
}

/** Builds the Web `Request` of a node:http request (lazily: see lazyPrototype()). */
export function toRequest(
  req: NodeRequest,
  host: string,
  limit: number,
  onTooLarge: () => void,
): Request {
  const path = req.url ?? "/";
  const url = path.startsWith("/")
    ? `http://${req.headers.host ?? host}${path}`
    : path.includes("://")
    ? path
    : path === "*"
    ? `http://${req.headers.host ?? host}/`
    : `http://${path}`;
  const request = Object.create(lazyPrototype()) as Request;
  const st: LazyState = {
    method: req.method ?? "GET",
    url,
    req,
    limit,
    onTooLarge,
    headers: undefined,
    controller: undefined,
    gone: false,
    real: undefined,
  };
  Object.defineProperty(request, STATE, { value: st });
  // The body is read from the start, as a real Request's would be.
  if (st.method !== "GET" && st.method !== "HEAD") realOf(st);
  return request;
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
 * The runtime's private slot of a `Response` that keeps the body it was made
 * from (`Symbol(state)` in Node's undici, `Symbol(response)` in Deno):
 * found on first use, `null` where there is none (Bun).
 */
let sourceSlot: symbol | null | undefined;
let slotTries = 0;
const encoder = new TextEncoder();

/** Finds a character outside ASCII (without one, the UTF-8 length is the length). */
const NOT_ASCII = /[\u0080-\uffff]/;

/** The UTF-8 length of a string. */
function byteLength(text: string): number {
  return text.length < 4096 && !NOT_ASCII.test(text)
    ? text.length
    : encoder.encode(text).byteLength;
}

/**
 * The string or bytes a `Response` was made from, without reading its
 * stream. A string stays a string: node:http writes it with the head in one
 * write, where bytes are a second chunk.
 */
function staticBody(response: Response): string | Uint8Array | undefined {
  if (sourceSlot === null || response.bodyUsed) return undefined;
  const r = response as unknown as Record<symbol, { body?: { source?: unknown } | null }>;
  if (sourceSlot === undefined) {
    for (const sym of Object.getOwnPropertySymbols(response)) {
      const body = r[sym]?.body;
      if (body !== null && typeof body === "object" && "source" in body) {
        sourceSlot = sym;
        break;
      }
    }
    if (sourceSlot === undefined) {
      if (++slotTries >= 3) sourceSlot = null;
      return undefined;
    }
  }
  const source = r[sourceSlot]?.body?.source;
  if (typeof source === "string") return source;
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  return undefined;
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
  const light = lightParts(response);
  if (light !== undefined) {
    if (res.headersSent || res.destroyed) return;
    // A copy: the same Response may be served again.
    const h: Record<string, string> = { ...light.headers };
    if (close) h["connection"] = "close";
    if (light.statusText !== "") res.statusMessage = light.statusText;
    const body = light.body;
    if (body !== null && h["content-length"] === undefined) {
      h["content-length"] = String(typeof body === "string" ? byteLength(body) : body.byteLength);
    }
    res.writeHead(light.status, h);
    if (head || body === null) res.end();
    else res.end(body);
    return;
  }
  const headers: Record<string, string | string[]> = {};
  let cookies = false;
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") cookies = true;
    else headers[name] = value;
  });
  if (cookies) headers["set-cookie"] = response.headers.getSetCookie();
  if (close) headers["connection"] = "close";
  if (response.statusText !== "") res.statusMessage = response.statusText;
  // Before `response.body`: on Deno that getter builds a stream (17 µs).
  const known = head ? undefined : staticBody(response);
  if (known !== undefined) {
    if (res.headersSent || res.destroyed) return;
    if (headers["content-length"] === undefined) {
      headers["content-length"] = String(
        typeof known === "string" ? byteLength(known) : known.byteLength,
      );
    }
    res.writeHead(response.status, headers);
    res.end(known);
    return;
  }
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
