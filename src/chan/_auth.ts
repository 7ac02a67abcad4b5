// Internal: the authentication exchange that comes before the channel
// preambles (docs/protocol.md, section "Authentication"). Runtime-free.
//
//   importer → exporter  "NKAU" u8 version=1, u8 flags=0, u16 length, token (UTF-8)
//   exporter → importer  "NKAU" u8 status (0 served, 1 refused), u8 0, u16 length, reason
//
// An importer sends it only when it has a token; an exporter with an
// `authenticate` hook also serves importers that start with the channel
// preamble (no token: certificate only), and refuses them with its preamble
// and a GOAWAY frame that says why.
import {
  type Addr,
  type Conn,
  ConnWrapper,
  type ReadinessOptions,
  type ReadReadiness,
  TimeoutError,
} from "../runtime/mod.ts";
import { type Authenticate, ChanAuthError } from "./auth.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  GOAWAY_CODES,
  MAGIC,
  MAX_MESSAGE_BYTES,
  ROLE_EXPORTER,
  strictUtf8,
  T_GOAWAY,
  utf8,
  utf8Cut,
  VERSION,
} from "./_protocol.ts";

/** The first four bytes of the authentication exchange: "NKAU". */
const AUTH_MAGIC: readonly number[] = [0x4e, 0x4b, 0x41, 0x55];
/** The longest token, in UTF-8 bytes. */
export const MAX_TOKEN_BYTES = 4096;
const STATUS_SERVED = 0;
const STATUS_REFUSED = 1;

/** Throws TypeError for a `token` option that cannot be sent. */
export function checkToken(token: unknown, action: string): void {
  if (token === undefined) return;
  if (typeof token !== "string" || token === "" || utf8(token).byteLength > MAX_TOKEN_BYTES) {
    throw new TypeError(
      `Cannot ${action}: token must be a non-empty string of at most ${MAX_TOKEN_BYTES} UTF-8 bytes`,
    );
  }
}

/** Throws TypeError for an `authenticate` option that is not a function. */
export function checkAuthenticate(hook: unknown, action: string): void {
  if (hook !== undefined && typeof hook !== "function") {
    throw new TypeError(`Cannot ${action}: authenticate must be a function`);
  }
}

/** Reads exactly `n` bytes (never more); `null` if the stream ends first. */
async function readExact(conn: Conn, n: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await conn.read(out.subarray(off));
    if (got === null) return null;
    off += got;
  }
  return out;
}

function header(magic: readonly number[], a: number, b: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.byteLength);
  out.set(magic);
  out[4] = a;
  out[5] = b;
  new DataView(out.buffer).setUint16(6, body.byteLength);
  out.set(body, 8);
  return out;
}

function isMagic(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/** Runs `fn` with a read deadline `ms` from now (none for 0), then clears it. */
async function withDeadline<T>(conn: Conn, ms: number, fn: () => Promise<T>): Promise<T> {
  if (ms > 0) conn.setReadDeadline(Date.now() + ms);
  try {
    return await fn();
  } finally {
    if (ms > 0 && !conn.closed) conn.setReadDeadline(null);
  }
}

function where(addr: Addr): string {
  return addr.transport === "unix" ? addr.path || "a Unix socket" : `${addr.hostname}:${addr.port}`;
}

/** The exporter's preamble and a GOAWAY (bad-handshake) saying why the importer is refused. */
function refusalFrames(reason: string): Uint8Array {
  const msg = utf8Cut(`authentication refused: ${reason}`, MAX_MESSAGE_BYTES);
  const out = new Uint8Array(12 + 4 + 2 + msg.byteLength);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  view.setUint16(4, VERSION);
  out[6] = ROLE_EXPORTER;
  out[7] = 0;
  view.setUint32(8, DEFAULT_MAX_FRAME_SIZE);
  view.setUint32(12, 2 + msg.byteLength);
  out[16] = T_GOAWAY;
  out[17] = GOAWAY_CODES.indexOf("bad-handshake") + 1;
  out.set(msg, 18);
  return out;
}

/** Asks the hook; a string or `false` is a refusal, and so is a throw. */
async function verdict(
  hook: Authenticate,
  conn: Conn,
  token: string | undefined,
): Promise<string | null> {
  try {
    const answer = await hook({ token, tls: conn.tls, remoteAddr: conn.remoteAddr });
    if (answer === true) return null;
    return typeof answer === "string" && answer !== "" ? answer : "not authorized";
  } catch {
    return "not authorized";
  }
}

/**
 * The exporter's side: reads the importer's token (or sees its preamble),
 * asks the hook, answers. Resolves with the conn to serve channels on;
 * rejects with ChanAuthError (after telling the importer) if refused.
 */
export async function authenticateImporter(
  conn: Conn,
  hook: Authenticate,
  timeoutMs: number,
): Promise<Conn> {
  const from = `Cannot serve importer from ${where(conn.remoteAddr)}`;
  const first = await withDeadline(conn, timeoutMs, async () => {
    const head = await readExact(conn, 8);
    if (head === null) return null;
    if (!isMagic(head, AUTH_MAGIC)) return { head, token: undefined };
    const len = new DataView(head.buffer).getUint16(6);
    if (head[4] !== 1 || len === 0 || len > MAX_TOKEN_BYTES) {
      return { head, token: null };
    }
    const body = await readExact(conn, len);
    return { head, token: body === null ? null : strictUtf8(body) };
  }).catch((err) => {
    if (err instanceof TimeoutError) {
      throw new ChanAuthError(`${from}: no handshake within ${timeoutMs} ms`, { cause: err });
    }
    throw new ChanAuthError(`${from}: ${(err as Error).message}`, { cause: err });
  });
  if (first === null) {
    throw new ChanAuthError(`${from}: the connection closed before the handshake`);
  }
  const { head, token } = first;
  const sentToken = isMagic(head, AUTH_MAGIC);
  if (token === null) {
    await conn.write(header(AUTH_MAGIC, STATUS_REFUSED, 0, utf8("malformed token"))).catch(
      () => {},
    );
    throw new ChanAuthError(`${from}: the importer sent a malformed token`);
  }
  const refused = await verdict(hook, conn, token);
  if (refused !== null) {
    const answer = sentToken
      ? header(AUTH_MAGIC, STATUS_REFUSED, 0, utf8Cut(refused, MAX_MESSAGE_BYTES))
      : refusalFrames(refused);
    await conn.write(answer).catch(() => {});
    throw new ChanAuthError(`${from}: refused by authenticate: ${refused}`);
  }
  if (!sentToken) return new PrefixedConn(conn, head);
  await conn.write(header(AUTH_MAGIC, STATUS_SERVED, 0, new Uint8Array(0)));
  return conn;
}

/**
 * The importer's side: sends `token`, waits for the verdict. Rejects with
 * ChanAuthError if the exporter refused it or does not take tokens.
 */
export async function presentToken(conn: Conn, token: string, timeoutMs: number): Promise<void> {
  const action = "Cannot connect";
  await conn.write(header(AUTH_MAGIC, 1, 0, utf8(token)));
  const answer = await withDeadline(conn, timeoutMs, async () => {
    const head = await readExact(conn, 8);
    if (head === null) return null;
    if (!isMagic(head, AUTH_MAGIC)) return { head, reason: "" };
    const len = new DataView(head.buffer).getUint16(6);
    const body = len === 0 ? new Uint8Array(0) : await readExact(conn, len);
    return { head, reason: body === null ? "" : strictUtf8(body) ?? "" };
  }).catch((err) => {
    if (err instanceof TimeoutError) {
      throw new ChanAuthError(
        `${action}: the exporter did not answer the token within ${timeoutMs} ms`,
        {
          cause: err,
        },
      );
    }
    throw new ChanAuthError(`${action}: ${(err as Error).message}`, { cause: err });
  });
  if (answer === null) {
    throw new ChanAuthError(`${action}: the exporter closed the connection during authentication`);
  }
  if (!isMagic(answer.head, AUTH_MAGIC)) {
    throw new ChanAuthError(`${action}: the exporter does not take tokens (no authenticate hook)`);
  }
  if (answer.head[4] !== STATUS_SERVED) {
    throw new ChanAuthError(`${action}: the exporter refused the importer: ${answer.reason}`);
  }
}

/** A conn whose first reads return `prefix` (bytes read ahead), then the conn's own. */
class PrefixedConn extends ConnWrapper {
  #prefix: Uint8Array | null;

  constructor(inner: Conn, prefix: Uint8Array) {
    super(inner);
    this.#prefix = prefix;
  }

  override read(buf: Uint8Array): Promise<number | null> {
    const prefix = this.#prefix;
    if (prefix === null || this.inner.closed) return this.inner.read(buf);
    const n = Math.min(prefix.byteLength, buf.byteLength);
    buf.set(prefix.subarray(0, n));
    this.#prefix = n === prefix.byteLength ? null : prefix.subarray(n);
    return Promise.resolve(n);
  }
  override close(): void {
    this.#prefix = null;
    this.inner.close();
  }
  override whenReadable(
    callback: ((state: ReadReadiness) => void) | null,
    options?: ReadinessOptions,
  ): void {
    if (callback !== null && this.#prefix !== null) {
      queueMicrotask(() => callback("data"));
      return;
    }
    this.inner.whenReadable?.(callback, options);
  }
}
