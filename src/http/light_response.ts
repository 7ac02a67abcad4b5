/**
 * {@linkcode useLightResponse}: an opt-in, process-wide lightweight global
 * `Response` for `serve({ fetch })` on Node, where undici's `Response`
 * constructor costs more than node:http's whole request (25–55 µs against
 * about 30 on this machine). The same idea as @hono/node-server's
 * `overrideGlobalObjects`.
 *
 * @module
 */

/** What a light response was made with, until it becomes a real one. */
interface LightState {
  readonly body: unknown;
  readonly init: ResponseInit | undefined;
  /** What serve() writes, copied at construction (as a real Response copies). */
  readonly parts: LightParts | undefined;
  real: Response | undefined;
}

const STATE: unique symbol = Symbol("netkit.http.lightResponse");

/** Statuses a real `Response` refuses a body for. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The Response serve() writes from, without making a real one: see {@linkcode lightParts}. */
export interface LightParts {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
}

/**
 * What serve() writes for a light response not yet made real (see
 * partsOf()); `undefined` for any other response.
 */
export function lightParts(response: Response): LightParts | undefined {
  const st = (response as unknown as { [STATE]?: LightState })[STATE];
  return st === undefined || st.real !== undefined ? undefined : st.parts;
}

/**
 * The status, headers (lower-cased, with a real Response's default
 * `content-type` for a string body) and body (a string or bytes) of a light
 * response made with `body` and `init`; `undefined` where it needs a real
 * `Response` (other bodies and inits).
 */
function partsOf(body: unknown, init: ResponseInit | undefined): LightParts | undefined {
  let bytes: string | Uint8Array | null;
  if (body === undefined || body === null) bytes = null;
  else if (typeof body === "string" || body instanceof Uint8Array) bytes = body;
  else return undefined;
  const status = init?.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) return undefined;
  if (bytes !== null && NULL_BODY.has(status)) return undefined;
  const statusText = init?.statusText ?? "";
  if (typeof statusText !== "string") return undefined;
  const headers: Record<string, string> = {};
  const given = init?.headers;
  if (given !== undefined) {
    if (given === null || typeof given !== "object") return undefined;
    const proto = Object.getPrototypeOf(given);
    if (proto !== Object.prototype && proto !== null) return undefined;
    for (const name in given as Record<string, unknown>) {
      const value = (given as Record<string, unknown>)[name];
      if (typeof value !== "string") return undefined;
      const key = name.toLowerCase();
      // Repeated names (any case) and cookies: left to a real Headers.
      if (key in headers || key === "set-cookie") return undefined;
      headers[key] = value.trim();
    }
  }
  if (typeof bytes === "string" && headers["content-type"] === undefined) {
    headers["content-type"] = "text/plain;charset=UTF-8";
  }
  return { status, statusText, headers, body: bytes };
}

/** The global `Response` before {@linkcode useLightResponse}, while it is in use. */
let original: typeof Response | undefined;

/** Makes the light class for a real `Response` class. */
function lightClass(Real: typeof Response): typeof Response {
  function real(self: object): Response {
    const st = (self as { [STATE]: LightState })[STATE];
    st.real ??= new Real(st.body as BodyInit | null | undefined, st.init);
    return st.real;
  }
  class LightResponse {
    readonly [STATE]: LightState;
    constructor(body?: BodyInit | null, init?: ResponseInit) {
      const parts = partsOf(body, init);
      this[STATE] = { body, init, parts, real: undefined };
      // Bodies other than a string or bytes (streams, forms, blobs) and
      // other inits are checked and kept by a real Response at once.
      if (parts === undefined) real(this);
    }
    static [Symbol.hasInstance](x: unknown): boolean {
      return x instanceof Real;
    }
    static json(data: unknown, init?: ResponseInit): Response {
      return Real.json(data, init);
    }
    static redirect(url: string | URL, status?: number): Response {
      return Real.redirect(url, status);
    }
    static error(): Response {
      return Real.error();
    }
  }
  const proto = LightResponse.prototype as unknown as Record<string, unknown>;
  for (
    const name of [
      "body",
      "bodyUsed",
      "headers",
      "ok",
      "redirected",
      "status",
      "statusText",
      "type",
      "url",
    ]
  ) {
    Object.defineProperty(proto, name, {
      get(this: object) {
        return (real(this) as unknown as Record<string, unknown>)[name];
      },
      configurable: true,
    });
  }
  for (const name of ["arrayBuffer", "blob", "bytes", "clone", "formData", "json", "text"]) {
    Object.defineProperty(proto, name, {
      value(this: object, ...args: unknown[]) {
        const r = real(this) as unknown as Record<string, (...a: unknown[]) => unknown>;
        return r[name](...args);
      },
      writable: true,
      configurable: true,
    });
  }
  Object.setPrototypeOf(LightResponse.prototype, Real.prototype);
  return LightResponse as unknown as typeof Response;
}

/**
 * Replaces the global `Response` with a lightweight one until the returned
 * function is called: `new Response(text or bytes, { status, headers })`
 * only records its arguments, and `serve({ fetch })` writes them as they
 * are; anything else the handler or a library reads (`headers`, `body`,
 * `text()`, ...) makes the real `Response` then and answers from it.
 * `instanceof Response` stays true for light and real responses alike.
 *
 * This changes a global for the whole process (every module's `new
 * Response`), so it is never done for you: call it once at startup where
 * the fetch path's speed matters, on Node above all (undici's constructor
 * dominates a small response there; on Deno and Bun the real one is cheap
 * and this gains little). A `Response` given an invalid status or headers
 * throws when it is read or served (a 500), not where it is made.
 *
 * @returns A function that puts the original `Response` back.
 *
 * @example Opting in at startup
 * ```ts
 * import { serve, useLightResponse } from "@netkit/netkit/http";
 * import { listen } from "@netkit/netkit/runtime";
 *
 * const restore = useLightResponse();
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const server = serve({ listener, fetch: () => new Response("hello\n") });
 * const port = server.addr.transport === "tcp" ? server.addr.port : 0;
 * console.log(await (await fetch(`http://127.0.0.1:${port}/`)).text()); // "hello\n"
 * await server.shutdown();
 * restore();
 * ```
 */
export function useLightResponse(): () => void {
  if (original !== undefined) return () => {};
  const Real = globalThis.Response;
  original = Real;
  const Light = lightClass(Real);
  globalThis.Response = Light;
  return () => {
    if (globalThis.Response === Light) globalThis.Response = Real;
    original = undefined;
  };
}
