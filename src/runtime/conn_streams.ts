// Web streams over a connection's read/write/close. Runtime-free: they go
// through the object's own methods, so a wrapper (graceful's tracked conn)
// that overrides read() sees stream users too.

/** The size of the chunks {@linkcode readableOf} reads. */
const STREAM_CHUNK = 64 * 1024;

/**
 * A `ReadableStream` that pulls from `conn.read()` in 64 KiB chunks (one
 * read per pull, none ahead) and closes at EOF; cancelling it closes the conn.
 * `Conn.readable` is this stream, made on first use.
 *
 * @param conn Anything with `read()` and `close()` like a {@linkcode Conn}.
 * @returns The stream.
 *
 * @example Reading a conn-like source as a stream
 * ```ts
 * import { readableOf } from "@netkit/netkit/runtime";
 *
 * let sent = false;
 * const source = {
 *   read: (buf: Uint8Array) => {
 *     if (sent) return Promise.resolve(null);
 *     sent = true;
 *     buf.set([104, 105]);
 *     return Promise.resolve(2);
 *   },
 *   close: () => {},
 * };
 * let text = "";
 * for await (const chunk of readableOf(source)) text += new TextDecoder().decode(chunk);
 * console.log(text); // "hi"
 * ```
 */
export function readableOf(
  conn: { read(buf: Uint8Array): Promise<number | null>; close(): void },
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const buf = new Uint8Array(STREAM_CHUNK);
      const n = await conn.read(buf);
      if (n === null) controller.close();
      else controller.enqueue(buf.subarray(0, n));
    },
    cancel: () => conn.close(),
  }, { highWaterMark: 0 });
}

/**
 * A `WritableStream` over `conn.write()`: closing it half-closes the conn
 * (`closeWrite()`), aborting it closes the conn. `Conn.writable` is this
 * stream, made on first use.
 *
 * @param conn Anything with `write()`, `closeWrite()` and `close()` like a {@linkcode Conn}.
 * @returns The stream.
 *
 * @example Writing to a conn-like sink through a stream
 * ```ts
 * import { writableOf } from "@netkit/netkit/runtime";
 *
 * const got: number[] = [];
 * const sink = {
 *   write: (bytes: Uint8Array) => (got.push(...bytes), Promise.resolve(bytes.length)),
 *   closeWrite: () => Promise.resolve(),
 *   close: () => {},
 * };
 * const writer = writableOf(sink).getWriter();
 * await writer.write(new Uint8Array([1, 2, 3]));
 * await writer.close();
 * console.log(got); // [1, 2, 3]
 * ```
 */
export function writableOf(
  conn: {
    write(bytes: Uint8Array): Promise<number>;
    closeWrite(): Promise<void>;
    close(): void;
  },
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write: async (chunk) => {
      await conn.write(chunk);
    },
    close: () => conn.closeWrite(),
    abort: () => conn.close(),
  });
}
